"""`streamcls train` / `evaluate`: data gathering, the split, refusals, and a model that really learns."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from cli import offline_environment, run_cli, start_cli
from toyset import CLASSES, toy_images
from videos import write_video

from streamcls.config import load_config
from streamcls.errors import ConfigError
from streamcls.model.bundle import load_bundle
from streamcls.train import examples as gather
from streamcls.train.fit import _class_weights, _unfreeze_top_blocks, gather_examples
from streamcls.train.metrics import measure


def picture_folder(root, count=30, seed=0, size=(64, 64)):
    images, labels = toy_images(count, seed, height=size[0], width=size[1])
    for name in CLASSES:
        (root / name).mkdir(parents=True, exist_ok=True)
    for index, (image, label) in enumerate(zip(images, labels)):
        cv2.imwrite(str(root / CLASSES[label] / f"{index:03d}.png"), image)
    return root


def toy_clip(folder, seed, frames_per_scene=20):
    """A clip of toy pictures, one class per scene, and its segments (frame indices)."""
    images, labels = toy_images(frames_per_scene * 3, seed, height=64, width=64)
    order = np.argsort(labels, kind="stable")
    writer = cv2.VideoWriter(str(folder / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 64))
    for index in order:
        writer.write(images[index])
    writer.release()
    rows = ["video,start_frame,end_frame,label"] + [
        f"clip.avi,{n * frames_per_scene},{(n + 1) * frames_per_scene},{name}" for n, name in enumerate(CLASSES)]
    (folder / "segments.csv").write_text("\n".join(rows) + "\n")
    return folder / "clip.avi", folder / "segments.csv"


def test_split_is_by_segment_not_by_frame(tmp_path):
    _, segments = toy_clip(tmp_path, seed=1, frames_per_scene=20)
    # three segments of 20 frames at 10 fps, sampled at 5 fps: 10 frames each
    examples = gather.from_segments(segments, sample_fps=5)
    assert len(examples) == 30 and [e.frame_index for e in examples[:3]] == [0, 2, 4]
    extra = [gather.Example(e.path, e.label, e.group + "b", e.frame_index) for e in examples]  # 2 groups per class
    train, validation = gather.split(examples + extra, 0.5, seed=0)
    assert {e.group for e in train}.isdisjoint({e.group for e in validation})
    assert {e.label for e in validation} == set(CLASSES)  # every class on both sides


def test_empty_class_folder_is_named(tmp_path):
    picture_folder(tmp_path, 6)
    (tmp_path / "zebra").mkdir()
    with pytest.raises(ConfigError, match="class folder .*zebra holds no pictures"):
        gather.from_folder(tmp_path)


def test_single_class_and_label_mismatch_are_refused(tmp_path):
    single = tmp_path / "single"
    (single / "cat").mkdir(parents=True)
    cv2.imwrite(str(single / "cat" / "a.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ConfigError, match="training data has 1 class .*at least two"):
        gather.check_classes(gather.from_folder(single), [])
    train = gather.from_folder(picture_folder(tmp_path / "train", 9))
    other = tmp_path / "validation" / "dog"
    other.mkdir(parents=True)
    cv2.imwrite(str(other / "a.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ConfigError, match="validation labels dog do not occur in the training data"):
        gather.check_classes(train, gather.from_folder(tmp_path / "validation"))


def test_segment_past_the_end_of_its_video(tmp_path):
    write_video(tmp_path / "short.avi", 10, codec="MJPG", fps=10)
    (tmp_path / "s.csv").write_text("video,start,end,label\nshort.avi,0,5,cat\n")  # 5 s of a 1 s video
    with pytest.raises(ConfigError, match="ends past the video"):
        gather.from_segments(tmp_path / "s.csv", 5)


def test_unreadable_pictures_are_skipped_and_counted(tmp_path):
    from streamcls.config import InputSize
    from streamcls.preprocess import PreprocessSpec
    from streamcls.train.load import load_arrays

    root = picture_folder(tmp_path, 9)
    (root / "red_disc" / "broken.png").write_bytes(b"not a png")
    examples = gather.from_folder(root)
    inputs, labels, unreadable = load_arrays(examples, CLASSES, PreprocessSpec(InputSize(32, 32)))
    assert unreadable == 1 and len(inputs) == 9 and sorted(np.bincount(labels)) == [3, 3, 3]
    for path in root.rglob("*.png"):
        path.write_bytes(b"junk")
    with pytest.raises(ConfigError, match="none of the 10 training examples could be read"):
        load_arrays(gather.from_folder(root), CLASSES, PreprocessSpec(InputSize(32, 32)))


def test_class_weights_and_metrics():
    weights = _class_weights(np.array([0, 0, 0, 1]), 2)
    assert weights == {0: pytest.approx(4 / 6), 1: pytest.approx(2.0)}
    metrics = measure(("a", "b"), np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
    assert metrics.accuracy == 0.75 and metrics.confusion == ((1, 1), (0, 2))
    assert metrics.precision == (1.0, pytest.approx(2 / 3)) and metrics.recall == (0.5, 1.0)


def test_fine_tuning_unfreezes_only_the_top_blocks():
    from streamcls.config import HeadConfig, InputSize, ModelConfig
    from streamcls.model.load import load_model

    loaded = load_model(ModelConfig(alpha=0.25, input_size=InputSize(32, 32), weights="none",
                                    head=HeadConfig(kind="dense", classes=("a", "b"))))
    backbone = loaded.model.get_layer("backbone")
    _unfreeze_top_blocks(backbone, 2, train_batch_norm=False)
    trainable = {layer.name for layer in backbone.layers if layer.trainable and layer.weights}
    assert trainable == {"conv_dw_12", "conv_pw_12", "conv_dw_13", "conv_pw_13"}  # batch norm stays frozen


def test_train_then_evaluate_end_to_end(tmp_path):
    """Folders and a labelled clip in; a bundle that has learned, its report, and `evaluate` agreeing."""
    data = picture_folder(tmp_path / "data", 90, seed=0)
    clip, segments = toy_clip(tmp_path, seed=5)
    config = tmp_path / "train.yaml"
    config.write_text("train:\n  epochs: 2\n  fine_tune_blocks: 13\n  fine_tune_epochs: 12\n"
                      "  fine_tune_learning_rate: 0.002\n  batch_size: 16\n  patience: 12\n  sample_fps: 10\n")
    result = run_cli("train", "--config", str(config), "--data", str(data), "--segments", str(segments),
                     "--weights", "none", "--alpha", "0.25", "--input-size", "64x64", "--output", str(tmp_path / "b"),
                     timeout=900)
    assert result.returncode == 0, result.stderr
    assert "head epoch 1/2" in result.stderr and "fine-tune epoch 1/12" in result.stderr
    report = json.loads((tmp_path / "b" / "training" / "metrics.json").read_text())
    assert report["classes"] == sorted(CLASSES) and report["accuracy"] >= 0.8
    assert len(report["history"]["loss"]) >= 3 and "val_loss" in report["history"]
    for name in ("confusion.png", "history.png", "confusion.txt"):
        assert (tmp_path / "b" / "training" / name).stat().st_size > 0
    assert load_bundle(tmp_path / "b").spec.classes == tuple(sorted(CLASSES))
    trained = json.loads((tmp_path / "b" / "streamcls-bundle.json").read_text())["metadata"]["trained"]
    assert trained["best_epoch"].split(" epoch ")[0] in ("head", "fine-tune")
    assert not list(tmp_path.glob(".b.*"))  # the on-disk checkpoint is gone once the bundle is written
    unseen = picture_folder(tmp_path / "unseen", 60, seed=42)
    result = run_cli("evaluate", str(tmp_path / "b"), "--data", str(unseen), "--report", str(tmp_path / "eval"))
    assert result.returncode == 0, result.stderr
    accuracy = json.loads((tmp_path / "eval" / "metrics.json").read_text())["accuracy"]
    assert accuracy >= 0.85, result.stdout


def test_train_refusals_are_one_line(tmp_path):
    result = run_cli("train", "--output", str(tmp_path / "b"), "--weights", "none")
    assert result.returncode == 2 and "train: no data; pass --data FOLDER" in result.stderr
    result = run_cli("train", "--data", str(tmp_path / "none"), "--output", str(tmp_path / "b"), "--weights", "none")
    assert result.returncode == 2 and "is not a folder" in result.stderr
    result = run_cli("train", "--data", str(tmp_path), "--output", str(tmp_path / "b"), "--epochs", "0")
    assert result.returncode == 2 and "train.epochs: received 0" in result.stderr


def test_gather_uses_explicit_validation_folder(tmp_path):
    data = picture_folder(tmp_path / "train", 9)
    validation = picture_folder(tmp_path / "validation", 6, seed=3)
    config = load_config(None, {"train.validation_data": str(validation)})
    train, held_out, classes = gather_examples(config, str(data), None)
    assert len(train) == 9 and len(held_out) == 6 and classes == tuple(sorted(CLASSES))


def test_interrupted_training_writes_the_best_epoch_so_far(tmp_path):
    """SIGINT (or SIGTERM) mid-training: status 130, and a bundle from the best epoch so far, not nothing."""
    import signal
    import time

    data = picture_folder(tmp_path / "data", 30, seed=1)
    process = start_cli("train", "--data", data, "--weights", "none", "--alpha", "0.25", "--input-size", "32x32",
                        "--epochs", "500", "--batch-size", "8", "--output", tmp_path / "b",
                        env=offline_environment(PYTHONUNBUFFERED="1"))
    deadline = time.monotonic() + 240
    lines = []
    try:
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "head epoch 3/500" in line:
                process.send_signal(signal.SIGTERM)
                break
        _, rest = process.communicate(timeout=60)
    finally:
        process.kill()
    stderr = "".join(lines) + rest
    assert process.returncode == 130, stderr
    assert "training interrupted; wrote bundle" in stderr and "from the best epoch so far (head epoch" in stderr
    loaded = load_bundle(tmp_path / "b")
    assert loaded.spec.classes == tuple(sorted(CLASSES))
    trained = json.loads((tmp_path / "b" / "streamcls-bundle.json").read_text())["metadata"]["trained"]
    assert trained["interrupted"] is True and trained["best_epoch"].startswith("head epoch ")
    history = json.loads((tmp_path / "b" / "training" / "history.json").read_text())
    assert len(history["loss"]) >= 3
    assert not list(tmp_path.glob(".b.*"))  # no checkpoint or staging file left behind
