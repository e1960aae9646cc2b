"""SIGINT and SIGTERM at many points of a run: never a hang, never an unplayable video or a half JSON line."""

from __future__ import annotations

import json
import signal
import time

import pytest
from faults import TINY_MODEL, Run, line_count, whole_records
from rtsp import RtspServer, free_port, needs_server
from videos import decode_all, write_video

EXIT_WITHIN_S = 10  # the process must be gone this soon after the signal


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("clip") / "long.mp4", 500, (320, 240))


def outputs_are_whole(folder) -> int:
    """Every output that exists is complete: JSON lines, a JSON document, a video of as many frames."""
    records = whole_records(folder / "p.jsonl") if (folder / "p.jsonl").exists() else []
    indices = [record["frame_index"] for record in records]
    assert indices == sorted(set(indices))  # in order, none twice (the live policy may skip some)
    if (folder / "segments.json").exists():
        segments = json.loads((folder / "segments.json").read_text())["segments"]
        assert sum(segment["frames"] for segment in segments) <= len(records)
    if (folder / "out.mp4").exists() and records:
        # An MP4 is playable only once its index has been written at close.
        assert len(decode_all(folder / "out.mp4")) == len(records)
    return len(records)


def start(tmp_path, clip):
    return Run("run", "--source", str(clip), *TINY_MODEL, "--batch-size", "8", "--realtime",
               "--predictions", str(tmp_path / "p.jsonl"), "--segments", str(tmp_path / "segments.json"),
               "--output-video", str(tmp_path / "out.mp4"))


# (when, signal): during start-up (imports, model build), just as frames start, mid-run (mid-batch).
POINTS = [("start-up", 0.5), ("start-up", 2.0), ("first records", 1), ("mid-run", 40), ("mid-run", 120)]


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("point, value", POINTS, ids=[f"{p}-{v}" for p, v in POINTS])
def test_a_signal_anywhere_stops_cleanly(tmp_path, long_clip, number, point, value):
    run = start(tmp_path, long_clip)
    try:
        if point == "start-up":
            time.sleep(value)
        else:
            run.wait_for(lambda: line_count(tmp_path / "p.jsonl") >= value, 90, f"{value} records")
        sent = run.signal(number)
        status = run.finish(EXIT_WITHIN_S)
    finally:
        run.process.kill()
    assert time.monotonic() - sent < EXIT_WITHIN_S
    assert status == 130, run.stderr
    assert "Traceback" not in run.stderr
    written = outputs_are_whole(tmp_path)
    if point != "start-up":
        assert written >= value
        assert "interrupted" in run.stdout  # the summary is printed even so


@needs_server
@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_reconnect_stops_cleanly(tmp_path, number):
    server = RtspServer(free_port())
    config = tmp_path / "c.yaml"
    config.write_text("source:\n  read_timeout_s: 1.5\n  open_timeout_s: 3\n"
                      "  reconnect: {attempts: 50, initial_delay_s: 1.0, max_delay_s: 2.0}\n")
    run = Run("run", "--source", server.url, *TINY_MODEL, "--config", str(config),
              "--predictions", str(tmp_path / "p.jsonl"), "--output-video", str(tmp_path / "out.mp4"))
    try:
        run.wait_for(lambda: line_count(tmp_path / "p.jsonl") >= 10, 60, "10 records")
        server.stop()
        run.wait_for(lambda: "reconnect attempt 2/50" in run.stderr, 30, "reconnect attempts")
        sent = run.signal(number)
        status = run.finish(EXIT_WITHIN_S)
    finally:
        run.process.kill()
        server.stop()
    assert time.monotonic() - sent < EXIT_WITHIN_S
    assert status == 130, run.stderr
    assert outputs_are_whole(tmp_path) >= 10
