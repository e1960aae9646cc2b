"""The service under load, short form of ``benchmarks/serve_load.py``: live sources, then ten viewers.

The real CLI (``streamcls serve`` with a small Keras model) in its own process,
three sources played at their native rate, phases without and with ten MJPEG
viewers, twice. The long form (minutes, RTSP servers, the demo bundle) is the
benchmark's default; its figures are in the README.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cli import offline_environment
from videos import write_video

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "serve_load.py"


def test_ten_viewers_cost_the_classification_nothing_and_each_gets_pictures(tmp_path):
    files = [write_video(tmp_path / f"camera{number}.avi", 1500, (320, 240), fps=15, codec="MJPG")
             for number in range(3)]
    figures = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, str(BENCHMARK), "--files", ",".join(map(str, files)), "--model", "tiny", "--seconds", "8",
         "--repeats", "2", "--viewers", "10", "--stream-fps", "5", "--json", str(figures)],
        capture_output=True, text=True, timeout=300, env=offline_environment(), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    print(result.stdout)
    report = json.loads(figures.read_text())
    phases = report["phases"]
    assert report["exit_code"] == 0  # SIGTERM: a clean stop
    assert [phase["viewers"] for phase in phases] == [0, 10, 0, 10]
    quiet = [phase for phase in phases if not phase["viewers"]]
    watched = [phase for phase in phases if phase["viewers"]]
    for phase in phases:  # every source classified at its own rate all along
        assert sorted(phase["rates"]) == ["camera0.avi", "camera1.avi", "camera2.avi"] or len(phase["rates"]) == 3
        assert all(abs(rate - 15) < 15 * 0.15 for rate in phase["rates"].values()), phase["rates"]
    quiet_rate = sum(phase["rate_fps"] for phase in quiet) / 2
    for phase in watched:
        assert abs(phase["rate_fps"] - quiet_rate) <= 0.10 * quiet_rate, (phase["rate_fps"], quiet_rate)
        assert phase["viewer_errors"] == []
        assert len(phase["pictures_per_viewer_s"]) == 10
        assert min(phase["pictures_per_viewer_s"]) >= 2.5, phase["pictures_per_viewer_s"]  # of 5 a second
        assert max(phase["pictures_per_viewer_s"]) <= 5.5  # capped
    # Frame age: within 20 %, plus 25 ms of room for a shared 2-core machine's scheduling.
    quiet_age = max(phase["frame_age_p95_ms"] for phase in quiet)
    assert max(phase["frame_age_p95_ms"] for phase in watched) <= 1.2 * quiet_age + 25
    # Flat: the second round of viewers leaves no more threads or memory than the first.
    assert watched[1]["threads"] <= watched[0]["threads"] + 2
    assert watched[1]["rss_mb"] <= watched[0]["rss_mb"] + 25
