"""``streamcls run`` on real video files: every frame once, in order, in both outputs."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli import run_cli, start_cli
from needs import needs
from videos import decode_all, write_video
from weightfiles import calibrate_batch_norm

from streamcls.config import (
    Config,
    HeadConfig,
    InferenceConfig,
    InputSize,
    ModelConfig,
    OutputConfig,
    PostprocessConfig,
    SourceConfig,
)
from streamcls.model.backends.keras import Classifier
from streamcls.model.load import load_model
from streamcls.pipeline import Pipeline
from streamcls.preprocess import PreprocessSpec, preprocess_batch

SHARED_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "media" / "walkers-720p.avi"
MODEL_FLAGS = ["--weights", "none", "--alpha", "0.25", "--input-size", "32x48", "--no-display"]


def records(path: Path) -> list[dict]:
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize(
    "name, count, size, codec",
    [
        ("clip.mp4", 23, (96, 64), "mp4v"),
        ("clip.avi", 17, (98, 62), "MJPG"),
        ("small.mp4", 11, (40, 34), "mp4v"),
        ("clip.mkv", 12, (160, 90), "mp4v"),
        ("one.mp4", 1, (64, 48), "mp4v"),
    ],
)
def test_every_frame_once_in_both_outputs(tmp_path, name, count, size, codec):
    video = write_video(tmp_path / name, count, size, codec=codec)
    decoded = decode_all(video)
    assert len(decoded) == count
    result = run_cli("run", "--source", str(video), *MODEL_FLAGS, "--batch-size", "4",
                     "--predictions", str(tmp_path / "p.jsonl"), "--output-video", str(tmp_path / "out.mp4"))
    assert result.returncode == 0, result.stderr
    rows = records(tmp_path / "p.jsonl")
    assert [row["frame_index"] for row in rows] == list(range(count))
    assert {row["source"] for row in rows} == {str(video)}
    assert all(len(row["top_k"]) == 3 and row["latency_ms"] >= 0 for row in rows)
    out_frames = decode_all(tmp_path / "out.mp4")
    assert len(out_frames) == count
    assert out_frames[0].shape == decoded[0].shape  # the source's size
    assert f"{count} read, {count} processed, 0 dropped" in result.stdout


def test_csv_predictions(tmp_path):
    video = write_video(tmp_path / "clip.mp4", 9)
    result = run_cli("run", "--source", str(video), *MODEL_FLAGS, "--predictions", str(tmp_path / "p.csv"))
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "p.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["frame_index"]) for row in rows] == list(range(9))
    assert all(row["top_k"].count(":") == 3 for row in rows)


def test_image_folder_skips_non_images(tmp_path):
    import cv2

    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(5):
        cv2.imwrite(str(folder / f"{index:03d}.png"), np.full((30, 40, 3), index * 40, np.uint8))
    (folder / "notes.txt").write_text("not an image")
    result = run_cli("run", "--source", str(folder), *MODEL_FLAGS, "--predictions", str(tmp_path / "p.jsonl"))
    assert result.returncode == 0, result.stderr
    assert [row["frame_index"] for row in records(tmp_path / "p.jsonl")] == list(range(5))
    assert "skipped     1 non-image files" in result.stdout


@pytest.mark.parametrize(
    "name, content, status, message",
    [
        ("missing.mp4", None, 5, "video file '{path}' does not exist"),
        ("empty.mp4", b"", 5, "is empty (0 bytes)"),
        ("noise.mp4", os.urandom(20000), 5, "cannot be opened as a video"),
    ],
)
def test_bad_sources_are_one_line_errors(tmp_path, name, content, status, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = run_cli("run", "--source", str(path), *MODEL_FLAGS)
    assert result.returncode == status, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("streamcls: error:")]
    assert len(errors) == 1 and message.format(path=path) in errors[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name, codec", [("clip.avi", "MJPG"), ("clip.mkv", "mp4v")])
def test_truncated_file_is_processed_up_to_the_damage_then_reported(tmp_path, name, codec):
    video = write_video(tmp_path / name, 40, codec=codec)
    data = video.read_bytes()
    cut = tmp_path / f"cut{video.suffix}"
    cut.write_bytes(data[: len(data) // 2])
    decodable = len(decode_all(cut))
    assert 0 < decodable < 40
    result = run_cli("run", "--source", str(cut), *MODEL_FLAGS, "--predictions", str(tmp_path / "p.jsonl"),
                     "--output-video", str(tmp_path / "out.avi"))
    assert result.returncode == 5, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("streamcls: error:")]
    assert len(errors) == 1 and f"ended after {decodable} of the 40 frames" in errors[0], result.stderr
    assert "truncated" in errors[0] and "Traceback" not in result.stderr
    assert [row["frame_index"] for row in records(tmp_path / "p.jsonl")] == list(range(decodable))
    assert len(decode_all(tmp_path / "out.avi")) == decodable  # closed and playable
    assert f"{decodable} read, {decodable} processed" in result.stdout


def test_valid_container_with_no_frames_is_a_one_line_error(tmp_path):
    import cv2

    path = tmp_path / "none.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    writer.release()  # a well-formed AVI header, no frames
    assert path.stat().st_size > 0 and cv2.VideoCapture(str(path)).isOpened()
    result = run_cli("run", "--source", str(path), *MODEL_FLAGS)
    assert result.returncode == 5, result.stderr
    assert "holds no decodable frame (0 frames)" in result.stderr and "Traceback" not in result.stderr


def test_missing_output_folder_fails_before_the_model_loads(tmp_path):
    video = write_video(tmp_path / "clip.mp4", 3)
    result = run_cli("run", "--source", str(video), *MODEL_FLAGS, "--predictions", str(tmp_path / "no" / "p.jsonl"))
    assert result.returncode == 6
    assert "folder" in result.stderr and "does not exist" in result.stderr


def test_predictions_equal_plain_keras(tmp_path):
    """Batching, threading and padding change nothing: each record equals model.predict on its frame."""
    video = write_video(tmp_path / "clip.mp4", 13, (80, 60))
    model_config = ModelConfig(alpha=0.25, input_size=InputSize(48, 64), weights="none",
                               head=HeadConfig(kind="dense", classes=tuple("abcde")))
    loaded = load_model(model_config)
    frames = decode_all(video)
    # Input-dependent outputs (a random backbone's are all alike), so a shuffle would show.
    calibrate_batch_norm(loaded.model.get_layer("backbone"), preprocess_batch(frames, PreprocessSpec(InputSize(48, 64))))
    classifier = Classifier.from_loaded(loaded, batch_size=4, device="cpu")
    config = Config(model=model_config, inference=InferenceConfig(batch_size=4),
                    source=SourceConfig(uri=str(video)), output=OutputConfig(display=False),
                    postprocess=PostprocessConfig(top_k=5))
    with Pipeline(config, classifier=classifier) as pipeline:
        predictions = list(pipeline)
    expected = loaded.model.predict(preprocess_batch(frames, classifier.preprocess_spec), verbose=0)
    assert [p.frame_index for p in predictions] == list(range(13))
    for prediction, row in zip(predictions, expected):
        actual = dict(prediction.top_k)
        np.testing.assert_allclose([actual[label] for label in "abcde"], row, atol=1e-5)
    assert np.abs(expected[0] - expected[-1]).max() > 1e-3


@needs(SHARED_VIDEO.is_file(), f"the shared recording ../shared/media/walkers-720p.avi is absent ({SHARED_VIDEO})")
def test_real_recording_whose_header_lies(tmp_path):
    """The AVI holds two packets per picture: its header says 682 frames at 50 fps, it has 341 at 25."""
    import cv2

    result = run_cli("run", "--source", str(SHARED_VIDEO), *MODEL_FLAGS, "--batch-size", "8",
                     "--predictions", str(tmp_path / "p.jsonl"), "--output-video", str(tmp_path / "out.mp4"))
    assert result.returncode == 0, result.stderr
    rows = records(tmp_path / "p.jsonl")
    assert [row["frame_index"] for row in rows] == list(range(341))
    positions = [row["position_ms"] for row in rows]
    assert positions[:3] == [0.0, 40.0, 80.0]  # the timestamps' 25 fps, not the header's 50
    assert positions[-1] == pytest.approx(13600.0)  # ffprobe: 13.64 s long
    output = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert output.get(cv2.CAP_PROP_FPS) == 25  # plays at the real speed, not twice as fast
    assert int(output.get(cv2.CAP_PROP_FRAME_COUNT)) == 341


def test_video_sink_pads_odd_frames_and_scales_a_size_change(tmp_path):
    """Odd sizes keep every pixel (one replicated row/column); a later size change is scaled."""
    import cv2

    from streamcls.outputs.video import VideoSink

    with VideoSink(tmp_path / "odd.mp4", fps=10) as sink:
        for value in (50, 100, 150):
            sink.write(np.full((61, 97, 3), value, np.uint8), None)
        sink.write(np.full((120, 200, 3), 200, np.uint8), None)  # a reconnect at another resolution
    frames = decode_all(tmp_path / "odd.mp4")
    assert sink.codec in ("avc1", "mp4v")
    assert [frame.shape for frame in frames] == [(62, 98, 3)] * 4
    assert [int(np.median(frame)) for frame in frames] == pytest.approx([50, 100, 150, 200], abs=6)  # lossy codec
    assert cv2.VideoCapture(str(tmp_path / "odd.mp4")).get(cv2.CAP_PROP_FPS) == 10


def test_missing_camera_is_a_one_line_error():
    result = run_cli("run", "--source", "9", *MODEL_FLAGS)
    assert result.returncode == 5, result.stderr
    assert "streamcls: error: camera 9 cannot be opened" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_mid_run_leaves_complete_outputs(tmp_path):
    import signal
    import time

    video = write_video(tmp_path / "long.mp4", 400, fps=25)
    process = start_cli("run", "--source", video, *MODEL_FLAGS, "--realtime",
                        "--predictions", tmp_path / "p.jsonl", "--output-video", tmp_path / "out.mp4")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until records are being written
        if (tmp_path / "p.jsonl").exists() and (tmp_path / "p.jsonl").stat().st_size > 2000:
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr
    rows = records(tmp_path / "p.jsonl")  # every line parses: none half-written
    assert 0 < len(rows) < 400
    indices = [row["frame_index"] for row in rows]
    assert indices == sorted(set(indices))
    assert 0 < len(decode_all(tmp_path / "out.mp4")) <= 400  # the video was closed playable
    assert "interrupted" in stdout


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine may have a GPU")
def test_device_choice_reaches_the_run(tmp_path):
    video = write_video(tmp_path / "clip.mp4", 3)
    result = run_cli("run", "--source", str(video), *MODEL_FLAGS, "--device", "gpu")
    assert result.returncode == 4, result.stderr  # this machine has no GPU
    errors = [line for line in result.stderr.splitlines() if line.startswith("streamcls: error:")]
    assert len(errors) == 1 and "device 'gpu' was requested but TensorFlow sees no GPU" in errors[0]
    assert "--device cpu" in errors[0] and "Traceback" not in result.stderr
    result = run_cli("run", "--source", str(video), *MODEL_FLAGS, "--device", "auto")
    assert result.returncode == 0, result.stderr
    assert "device /CPU:0" in result.stdout  # auto fell back to the CPU, and says so
