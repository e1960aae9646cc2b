"""``streamcls batch`` on real Ray: a local Ray (the default), and a 2-node cluster on 127.0.0.1.

Each video's files must equal what ``streamcls run`` writes for that file
(frame indices, labels, scores within 1e-5, positions, segments); a corrupt
file fails alone; a stopped or killed run resumes; a killed actor is replaced
and every frame is still written exactly once.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli import offline_environment, run_cli, start_cli
from needs import needs, require
from videos import write_video

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "samples" / "demo-bundle"
SHARED_VIDEO = ROOT.parent / "shared" / "media" / "walkers-720p.avi"

try:
    import ray  # noqa: F401

    RAY = True
except ImportError:
    RAY = False

pytestmark = needs(RAY, 'Ray Data is not installed (pip install -e ".[test,cluster]", as .ci/run does)')


def _environment() -> dict[str, str]:
    # Ray on loopback only (see ../shared/NOTES.md), and no leftover cluster file to join.
    return offline_environment(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_ADDRESS="")


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _assert_same(batch_file: Path, run_file: Path) -> None:
    ours, theirs = _records(batch_file), _records(run_file)
    assert [r["frame_index"] for r in ours] == [r["frame_index"] for r in theirs] == list(range(len(theirs)))
    for mine, reference in zip(ours, theirs):
        assert mine["source"] == reference["source"]
        assert mine["label"] == reference["label"], (mine, reference)
        assert mine["position_ms"] == reference["position_ms"]
        assert abs(mine["score"] - reference["score"]) <= 1e-5
        for (label, score), (label_run, score_run) in zip(mine["top_k"], reference["top_k"]):
            assert label == label_run and abs(score - score_run) <= 1e-5


def _assert_same_segments(batch_file: Path, run_file: Path) -> None:
    """The same runs (labels, frames, times); mean scores within 1e-5 (batches differ, float sums too)."""
    with open(batch_file, newline="") as ours, open(run_file, newline="") as theirs:
        mine, reference = list(csv.DictReader(ours)), list(csv.DictReader(theirs))
    assert len(mine) == len(reference) > 0
    for row, expected in zip(mine, reference):
        assert abs(float(row.pop("mean_score")) - float(expected.pop("mean_score"))) <= 1e-5
        assert row == expected


@pytest.fixture
def archive(tmp_path):
    folder = tmp_path / "archive"
    (folder / "cam2").mkdir(parents=True)
    write_video(folder / "odd size.avi", 45, (97, 61), codec="MJPG")
    write_video(folder / "cam2" / "clip.mp4", 30, (128, 72))
    (folder / "broken.mp4").write_bytes(b"this is not a video " * 200)
    (folder / "notes.txt").write_text("not a video, not listed")
    return folder


def test_every_video_matches_run_and_a_corrupt_one_fails_alone(tmp_path, archive):
    videos = ["odd size.avi", "cam2/clip.mp4"]
    if SHARED_VIDEO.is_file() or os.environ.get("CI") == "true":
        require(SHARED_VIDEO.is_file(), f"the shared recording is absent ({SHARED_VIDEO})")
        os.symlink(SHARED_VIDEO, archive / "walkers.avi")  # its header claims 682 frames; it has 341
        videos.append("walkers.avi")
    out = tmp_path / "out"
    result = run_cli("batch", "--input", archive, "--output", out, "--model", BUNDLE, "--actors", "2",
                     env=_environment(), timeout=600)
    assert result.returncode == 5, result.stdout + result.stderr
    assert "broken.mp4" in result.stderr and "1 of " in result.stderr
    stages = next(line for line in result.stdout.splitlines() if line.startswith("stages (ms)"))
    assert all(f"{stage} " in stages for stage in ("decode", "preprocess", "inference", "write")), stages
    actors = [line for line in result.stdout.splitlines() if line.strip().startswith("actor ")]
    assert 1 <= len(actors) <= 2  # frames per actor (host:pid), which together classified every frame
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["videos"]) == sorted([*videos, "broken.mp4"])
    assert manifest["videos"]["broken.mp4"]["status"] == "failed"
    assert "cannot be opened as a video" in manifest["videos"]["broken.mp4"]["error"]
    assert not list((out / ".staging").rglob("*.*"))  # nothing left half-written
    # The reference: streamcls run on the same files, with the same model.
    reference = tmp_path / "reference"
    for name in videos:
        (reference / name).parent.mkdir(parents=True, exist_ok=True)
        run = run_cli("run", "--source", (archive / name).absolute(), "--model", BUNDLE, "--no-display",
                      "--predictions", reference / f"{name}.jsonl", "--segments", reference / f"{name}.csv",
                      env=_environment(), timeout=300)
        assert run.returncode == 0, run.stderr
        entry = manifest["videos"][name]
        assert entry["status"] == "done" and entry["frames"] == len(_records(reference / f"{name}.jsonl"))
        _assert_same(out / f"{name}.predictions.jsonl", reference / f"{name}.jsonl")
        _assert_same_segments(out / f"{name}.segments.csv", reference / f"{name}.csv")

    # Run again: everything finished is skipped, the files are untouched, the failure still counts.
    stamps = {path: path.stat().st_mtime_ns for path in out.rglob("*.jsonl")}
    again = run_cli("batch", "--input", archive, "--output", out, "--model", BUNDLE,
                    env=_environment(), timeout=300)
    assert again.returncode == 5, again.stderr
    assert f"{len(videos) + 1} skipped" in again.stdout
    assert stamps == {path: path.stat().st_mtime_ns for path in out.rglob("*.jsonl")}


def _wait_for_done(out: Path, count: int, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            done = [e for e in json.loads((out / "manifest.json").read_text())["videos"].values()]
        except (OSError, ValueError):
            done = []
        if len(done) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"no {count} finished videos within {timeout_s} s (exit {process.poll()})")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_or_killed_run_resumes_and_writes_every_frame_once(tmp_path, stop):
    archive = tmp_path / "archive"
    archive.mkdir()
    counts = {f"clip{number}.avi": 60 + 7 * number for number in range(6)}
    for name, count in counts.items():
        write_video(archive / name, count, (96, 64), codec="MJPG")
    out = tmp_path / "out"
    process = start_cli("batch", "--input", archive, "--output", out, "--model", BUNDLE, "--batch-size", "2",
                        env=_environment())
    try:
        _wait_for_done(out, 1, process, 240)
        process.send_signal(stop)
        process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
        if stop == signal.SIGKILL:  # a killed driver cannot stop the local Ray it started
            subprocess.run([str(Path(sys.executable).parent / "ray"), "stop", "--force"], capture_output=True, timeout=60, check=False,
                           env=_environment(), cwd=tmp_path)
    if stop == signal.SIGTERM:
        assert process.returncode == 130, process.stderr.read() if process.stderr else ""
    finished = json.loads((out / "manifest.json").read_text())["videos"]
    assert 1 <= len(finished) < len(counts)
    finals = {path.name for path in out.glob("*.predictions.jsonl")}
    assert finals == {f"{name}.predictions.jsonl" for name in finished}  # nothing half-written is final
    resumed = run_cli("batch", "--input", archive, "--output", out, "--model", BUNDLE, env=_environment(),
                      timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(finished)} skipped" in resumed.stdout
    for name, count in counts.items():
        records = _records(out / f"{name}.predictions.jsonl")
        assert [record["frame_index"] for record in records] == list(range(count)), name


def test_a_two_node_cluster_replaces_a_killed_actor_and_loses_no_frame(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    from ray.cluster_utils import Cluster

    archive = tmp_path / "archive"
    archive.mkdir()
    counts = {f"cam{number}.avi": 150 for number in range(4)}
    for name, count in counts.items():
        write_video(archive / name, count, (96, 64), codec="MJPG")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    out = tmp_path / "out"
    try:
        cluster.add_node(num_cpus=2)
        cluster.wait_for_nodes()
        process = start_cli("batch", "--input", archive, "--output", out, "--model", BUNDLE, "--actors", "2",
                            "--batch-size", "2", "--address", cluster.address,
                            env=offline_environment(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0"))
        try:
            # Once results flow, kill one classifying actor's process.
            deadline, killed = time.monotonic() + 240, None
            while time.monotonic() < deadline and process.poll() is None and killed is None:
                if list(out.glob(".staging/*.jsonl")) or (out / "manifest.json").exists():
                    actors = subprocess.run(["pgrep", "-f", "MapWorker"], capture_output=True, text=True).stdout.split()
                    if actors:
                        killed = int(actors[0])
                        os.kill(killed, signal.SIGKILL)
                time.sleep(0.2)
            assert killed is not None, "no actor process was seen running"
            stdout, stderr = process.communicate(timeout=600)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 0, stdout + stderr
    finally:
        cluster.shutdown()
    manifest = json.loads((out / "manifest.json").read_text())["videos"]
    assert sorted(manifest) == sorted(counts) and all(e["status"] == "done" for e in manifest.values())
    for name, count in counts.items():
        records = _records(out / f"{name}.predictions.jsonl")
        assert [record["frame_index"] for record in records] == list(range(count)), name
        with open(out / f"{name}.segments.csv", newline="") as segments:
            rows = list(csv.DictReader(segments))
        assert rows[0]["start_frame"] == "0" and rows[-1]["end_frame"] == str(count)


@pytest.mark.parametrize("arguments, message", [
    (["--input", "{empty}"], "holds no video file"),
    (["--input", "{missing}"], "no such file or folder"),
    (["--input", "{video}", "--model", "{missing}"], "bundle"),
    (["--input", "{video}", "--address", "127.0.0.1:{port}"], "nothing answers there"),
])
def test_bad_inputs_are_refused_in_one_line(tmp_path, arguments, message):
    from rtsp import free_port

    (tmp_path / "empty").mkdir()
    video = write_video(tmp_path / "one.avi", 5, (64, 48), codec="MJPG")
    values = {"empty": tmp_path / "empty", "missing": tmp_path / "missing", "video": video, "port": free_port()}
    filled = [argument.format(**values) for argument in arguments]
    if "--model" not in filled:
        filled += ["--model", str(BUNDLE)]
    started = time.monotonic()
    result = run_cli("batch", *filled, "--output", tmp_path / "out", env=_environment(), timeout=120)
    assert result.returncode in (2, 4), result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert time.monotonic() - started < 60
