"""`streamcls bench` end to end on a tiny model: every point runs, outputs are whole, errors are one line."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
import yaml
from cli import run_cli
from toyset import CLASSES, toy_images

from streamcls.config import load_config


@pytest.fixture(scope="module")
def labelled_clip(tmp_path_factory):
    """A clip of toy pictures, 12 frames per class in turn, and its segments file (frame indices)."""
    folder = tmp_path_factory.mktemp("clip")
    images, labels = toy_images(36, seed=21, height=96, width=96)
    order = np.argsort(labels, kind="stable")  # 12 red discs, 12 green squares, 12 blue bars
    writer = cv2.VideoWriter(str(folder / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 12, (96, 96))
    for index in order:
        writer.write(images[index])
    writer.release()
    rows = ["video,start_frame,end_frame,label"] + [f"clip.avi,{12 * n},{12 * n + 12},{name}" for n, name in enumerate(CLASSES)]
    (folder / "segments.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_sweep_measures_every_point_and_writes_every_output(toy_bundle, labelled_clip, tmp_path):
    _, bundle = toy_bundle
    result = run_cli(
        "bench", "--model", str(bundle), "--sizes", "64,48x80", "--batch-sizes", "1,4",
        "--backends", "keras,tflite-int8", "--source", str(labelled_clip / "clip.avi"),
        "--segments", str(labelled_clip / "segments.csv"), "--repeats", "2", "--seconds", "0.1",
        "--naive-frames", "5", "--report", str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv"),
        "--plot", str(tmp_path / "r.png"), "--target-fps", "5", "--write-config", str(tmp_path / "best.yaml"))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    points = report["points"]
    grid = {(p["backend"], p["input_size"], p["batch_size"], p["mode"]) for p in points}
    expected = {(backend, size, batch, mode) for backend in ("keras", "tflite-int8") for size in ("64x64", "48x80")
                for batch in (1, 4) for mode in ("model", "end_to_end")}
    assert expected <= grid
    assert sum(p["mode"] == "naive" for p in points) == 2 and sum(p["mode"] == "decode" for p in points) == 1
    assert len(points) == 16 + 2 + 1
    measured = [p for p in points if p["mode"] in ("model", "end_to_end")]
    assert all(p["throughput_fps"] > 0 and p["latency_p50_ms"] <= p["latency_p95_ms"] <= p["latency_p99_ms"]
               for p in measured)
    assert all(p["macs"] > 0 and p["peak_memory_mb"] > 50 for p in measured)
    assert all(0 <= p["accuracy"] <= 1 for p in measured)  # the segments made accuracy known
    assert all(p["agreement_top1"] is not None for p in measured if p["backend"] == "tflite-int8")
    # MACs grow with the input: 48x80 has 3840 pixels against 4096
    macs = {p["input_size"]: p["macs"] for p in measured}
    assert macs["48x80"] < macs["64x64"]
    assert any(p["pareto"] for p in points)
    with open(tmp_path / "r.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == len(points)
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cv2.imread(str(tmp_path / "r.png")).shape[1] > 400
    chosen = report["recommendation"]["point"]
    assert chosen["mode"] == "end_to_end" and chosen["throughput_fps"] >= 5 * 1.2
    best = yaml.safe_load((tmp_path / "best.yaml").read_text())
    config = load_config(tmp_path / "best.yaml", {})  # a ready config for streamcls run
    assert config.inference.backend == chosen["backend"] == best["inference"]["backend"]
    assert str(config.model.input_size) == chosen["input_size"]
    assert config.inference.batch_size == chosen["batch_size"]
    assert "end to end / naive" in result.stdout and "recommended:" in result.stdout


def test_model_only_sweep_without_a_source(tmp_path):
    result = run_cli("bench", "--weights", "none", "--alpha", "0.25", "--sizes", "32,40", "--batch-sizes", "2",
                     "--backends", "keras,tflite", "--repeats", "2", "--seconds", "0.1", "--naive-frames", "3",
                     "--report", str(tmp_path / "r.json"), "--target-fps", "1000000")
    assert result.returncode == 0, result.stderr
    points = json.loads((tmp_path / "r.json").read_text())["points"]
    assert sorted((p["backend"], p["input_size"], p["mode"]) for p in points if p["mode"] == "model") == [
        ("keras", "32x32", "model"), ("keras", "40x40", "model"), ("tflite", "32x32", "model"), ("tflite", "40x40", "model")]
    assert not any(p["mode"] == "end_to_end" for p in points)
    assert "no recommendation:" in result.stdout and not (tmp_path / "recommended.yaml").exists()


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--sizes", "16", "--sizes: height 16 is out of range; expected 32 to 4096"),
        ("--sizes", "abc", "--sizes: received 'abc'"),
        ("--backends", "keras,onnx", "--backends: received 'keras,onnx'"),
        ("--source", "/no/such/clip.mp4", "--source: '/no/such/clip.mp4' does not exist"),
        ("--batch-sizes", "0", "--batch-sizes: received '0'"),
        ("--plot", "out.svg", "--plot: received 'out.svg'; expected a .png path"),
    ],
)
def test_bad_input_is_one_line(flag, value, message):
    result = run_cli("bench", "--weights", "none", "--alpha", "0.25", "--sizes", "32", flag, value)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("streamcls: error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_mixed_precision_needs_a_gpu():
    result = run_cli("bench", "--weights", "none", "--alpha", "0.25", "--sizes", "32", "--mixed-precision")
    assert result.returncode == 2, result.stderr
    assert "--mixed-precision: float16 needs a GPU" in result.stderr and "Traceback" not in result.stderr


def test_int8_without_any_calibration_source_is_one_line():
    result = run_cli("bench", "--weights", "none", "--alpha", "0.25", "--sizes", "32", "--backends", "tflite-int8",
                     "--repeats", "1", "--seconds", "0.05")
    assert result.returncode == 2, result.stderr
    assert "tflite-int8 needs calibration frames" in result.stderr and "Traceback" not in result.stderr
