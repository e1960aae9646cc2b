"""Output faults: a folder that does not exist or cannot be written, and a disk that fills mid-run.

The full disk is real: a small tmpfs mounted for the test (root only; skipped
with the reason elsewhere). What was written before the fault must stay
readable: whole JSON lines, and a video that plays with exactly those frames.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli import run_cli
from faults import TINY_MODEL, Run, whole_records
from videos import decode_all


@pytest.fixture(scope="module")
def noisy_clip(tmp_path_factory):
    """Raw noise compresses badly: its annotated copy fills a small disk within a few hundred frames."""
    path = tmp_path_factory.mktemp("clip") / "noise.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (320, 240))
    generator = np.random.default_rng(0)
    for _ in range(300):
        writer.write(generator.integers(0, 256, (240, 320, 3), dtype=np.uint8))
    writer.release()
    return path


def mount_tmpfs(folder: Path, options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                            text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or 'not root'}); the full-disk faults "
                    f"need one")


@pytest.fixture
def small_disk(tmp_path):
    folders = []

    def make(name: str, options: str) -> Path:
        folder = tmp_path / name
        mount_tmpfs(folder, options)
        folders.append(folder)
        return folder

    yield make
    for folder in folders:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def run_without_tensorflow(*arguments: str) -> subprocess.CompletedProcess:
    """The CLI in a child that reports (status 99) if TensorFlow was imported before it failed."""
    code = ("import sys; from streamcls.cli import main; status = main(sys.argv[1:]); "
            "sys.exit(99 if 'tensorflow' in sys.modules else status)")
    return subprocess.run([sys.executable, "-c", code, *arguments], capture_output=True, text=True, timeout=120)


def one_error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("streamcls: error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


@pytest.mark.parametrize("flag", ["--predictions", "--segments", "--output-video"])
def test_a_missing_output_folder_fails_before_any_heavy_work(tmp_path, noisy_clip, flag):
    target = tmp_path / "no-such-folder" / ("out.mp4" if flag == "--output-video" else "out.jsonl")
    result = run_without_tensorflow("run", "--source", str(noisy_clip), *TINY_MODEL, flag, str(target))
    assert result.returncode == 6, result.stderr
    error = one_error_line(result.stderr)
    assert f"folder '{target.parent}' does not exist; create it or choose another path" in error


def test_a_read_only_output_folder_is_refused(tmp_path, noisy_clip, small_disk):
    folder = small_disk("read-only", "size=1m,ro")
    result = run_without_tensorflow("run", "--source", str(noisy_clip), *TINY_MODEL,
                                    "--predictions", str(folder / "p.jsonl"))
    assert result.returncode == 6, result.stderr
    assert f"folder '{folder}' is not writable" in one_error_line(result.stderr)


def test_a_filling_disk_stops_the_run_while_every_file_can_still_be_closed(tmp_path, noisy_clip, small_disk):
    folder = small_disk("small", "size=6m")
    config = tmp_path / "c.yaml"
    config.write_text("output:\n  min_free_mb: 2\n")
    result = run_cli("run", "--source", str(noisy_clip), *TINY_MODEL, "--config", str(config),
                     "--predictions", str(folder / "p.jsonl"), "--segments", str(folder / "s.json"),
                     "--output-video", str(folder / "out.mp4"))
    assert result.returncode == 6, result.stderr
    error = one_error_line(result.stderr)
    assert f"output folder '{folder}' has" in error and "below output.min_free_mb (2); stopped after" in error
    records = whole_records(folder / "p.jsonl")
    assert 0 < len(records) < 300
    assert [record["frame_index"] for record in records] == list(range(len(records)))
    assert len(decode_all(folder / "out.mp4")) == len(records)  # the MP4's index was written: it plays
    segments = json.loads((folder / "s.json").read_text())["segments"]
    assert segments[-1]["end_frame"] == len(records)
    assert f"{len(records)} processed" in result.stdout  # the summary is printed even so


def test_a_full_disk_mid_write_leaves_whole_records(tmp_path, noisy_clip, small_disk):
    """With the guard off, the disk really fills: the record that does not fit is cut away, not left half."""
    folder = small_disk("tiny", "size=48k")
    config = tmp_path / "c.yaml"
    config.write_text("output:\n  min_free_mb: 0\n")
    result = run_cli("run", "--source", str(noisy_clip), *TINY_MODEL, "--config", str(config),
                     "--predictions", str(folder / "p.jsonl"))
    assert result.returncode == 6, result.stderr
    error = one_error_line(result.stderr)
    assert "write failed (No space left on device); the" in error and "records before it are complete" in error
    records = whole_records(folder / "p.jsonl")
    complete = int(error.split("; the ")[1].split(" records")[0])
    assert len(records) == complete > 0
    assert [record["frame_index"] for record in records] == list(range(complete))


def test_an_interrupted_json_segments_file_is_always_a_whole_document(tmp_path, noisy_clip):
    run = Run("run", "--source", str(noisy_clip), *TINY_MODEL, "--segments", str(tmp_path / "s.json"),
              "--realtime")
    try:
        run.wait_for(lambda: (tmp_path / "s.json").exists(), 60, "the segments file")
        for _ in range(20):  # read it while it is being replaced: never half a document
            json.loads((tmp_path / "s.json").read_text())
        run.signal()
        assert run.finish(10) == 130
    finally:
        run.process.kill()
    assert "segments" in json.loads((tmp_path / "s.json").read_text())
