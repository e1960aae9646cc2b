"""The LiteRT backend: conversions match Keras, int8 keeps a trained model's answers, the cache works."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli import run_cli
from toyset import toy_images
from videos import decode_all, write_video

from streamcls.config import InferenceConfig, InputSize
from streamcls.errors import ConfigError
from streamcls.model.backends import build_classifier_for, measure_agreement
from streamcls.model.backends.keras import Classifier
from streamcls.model.backends.litert import LiteClassifier
from streamcls.model.bundle import load_bundle
from streamcls.model.convert import cache_folder, converted_model, split_calibration
from streamcls.preprocess import PreprocessSpec, preprocess_batch
from streamcls.sources.sample import sample_frames


@pytest.fixture(scope="module")
def at_two_sizes(toy_bundle):
    """The trained toy classifier loaded at two input sizes, one of them not square."""
    _, path = toy_bundle
    return [load_bundle(path, InputSize(96, 96)), load_bundle(path, InputSize(48, 80))]


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("quantization, tolerance", [("float32", 1e-4), ("float16", 2e-2), ("dynamic", 0.1)])
def test_float_conversions_match_keras(at_two_sizes, which, quantization, tolerance):
    loaded = at_two_sizes[which]
    images, _ = toy_images(24, seed=7)
    keras_classifier = Classifier.from_loaded(loaded, batch_size=4, device="cpu")
    lite = LiteClassifier(converted_model(loaded, quantization), loaded.spec, batch_size=4, quantization=quantization)
    expected = keras_classifier.classify_frames(images)
    actual = lite.classify_frames(images)  # 24 frames: six full batches, in order
    assert actual.shape == expected.shape == (24, 3)
    np.testing.assert_allclose(actual, expected, atol=tolerance)
    assert (actual.argmax(axis=1) == expected.argmax(axis=1)).mean() >= 0.95
    assert np.abs(expected[0] - expected[1]).max() > 1e-2  # outputs depend on the input: a mix-up would show


def test_int8_keeps_a_trained_models_answers(at_two_sizes):
    loaded = at_two_sizes[0]
    images, labels = toy_images(100, seed=3)
    calibrate, held_out = split_calibration(images)
    assert len(calibrate) == 80 and len(held_out) == 20
    lite = LiteClassifier(converted_model(loaded, "int8", calibrate), loaded.spec, batch_size=8, quantization="int8")
    keras_classifier = Classifier.from_loaded(loaded, batch_size=8, device="cpu")
    agreement = measure_agreement(keras_classifier, lite, held_out)
    assert agreement.frames == 20
    assert agreement.top1 >= 0.95, agreement
    assert 0 < agreement.max_probability_difference < 0.3  # quantised: close, not identical
    held_out_labels = labels[4::5]
    assert (keras_classifier.classify_frames(held_out).argmax(axis=1) == held_out_labels).mean() >= 0.9
    assert (lite.classify_frames(held_out).argmax(axis=1) == held_out_labels).mean() >= 0.9


def test_short_batches_use_their_own_bucket(at_two_sizes):
    loaded = at_two_sizes[0]
    lite = LiteClassifier(converted_model(loaded, "float32"), loaded.spec, batch_size=8)
    images, _ = toy_images(11, seed=5)
    batch = preprocess_batch(images, PreprocessSpec(loaded.spec.input_size, loaded.spec.preprocess))
    whole = lite.classify(batch)  # 8 + 3 (the 3 run in the 4-bucket)
    one_by_one = np.concatenate([lite.classify(batch[index : index + 1]) for index in range(11)])
    np.testing.assert_allclose(whole, one_by_one, atol=1e-5)
    assert sorted(lite._interpreters) == [1, 2, 4, 8]


def test_conversions_are_cached_by_content(at_two_sizes, monkeypatch):
    import streamcls.model.convert as convert_module

    loaded = at_two_sizes[0]
    first = converted_model(loaded, "float32")
    assert first.parent == cache_folder() and first.is_file()
    calls = []
    monkeypatch.setattr(convert_module, "convert", lambda *arguments: calls.append(arguments) or b"")
    assert converted_model(loaded, "float32") == first and calls == []  # a hit: not converted again
    weights = loaded.model.get_weights()
    changed = [weight.copy() for weight in weights]
    changed[-1] += 0.5  # the head's bias: another model
    loaded.model.set_weights(changed)
    try:
        assert converted_model(loaded, "float32") != first and len(calls) == 1
    finally:
        loaded.model.set_weights(weights)


def test_int8_without_calibration_is_refused(at_two_sizes):
    with pytest.raises(ConfigError, match="int8 needs calibration frames: pass --calibration"):
        converted_model(at_two_sizes[0], "int8", None)


def test_calibration_frames_spread_over_the_video(tmp_path):
    video = write_video(tmp_path / "clip.avi", 40, codec="MJPG")
    frames = sample_frames(str(video), 10)
    every_fourth = decode_all(video)[::4]
    assert len(frames) == 10
    for sampled, expected in zip(frames, every_fourth, strict=True):
        np.testing.assert_array_equal(sampled, expected)
    with pytest.raises(ConfigError, match="calibration source 'rtsp://127.0.0.1:1/x' is a live source"):
        sample_frames("rtsp://127.0.0.1:1/x", 10)


def test_backend_choice_through_the_config(toy_bundle, tmp_path):
    _, path = toy_bundle
    loaded = load_bundle(path, InputSize(96, 96))
    images, _ = toy_images(30, seed=11)
    folder = tmp_path / "calibration"
    folder.mkdir()
    import cv2

    for index, image in enumerate(images):
        cv2.imwrite(str(folder / f"{index:03d}.png"), image)
    classifier, agreement = build_classifier_for(
        loaded, InferenceConfig(batch_size=4, backend="tflite-int8", threads=1, calibration=str(folder),
                                calibration_frames=30),
        lambda count: sample_frames(str(folder), count))  # the caller supplies the frames
    assert isinstance(classifier, LiteClassifier) and classifier.threads == 1
    assert "int8" in classifier.device and agreement is not None and agreement.frames == 6
    assert agreement.top1 >= 0.8
    with pytest.raises(ConfigError, match="tflite-int8 needs calibration frames and the source is live"):
        build_classifier_for(loaded, InferenceConfig(backend="tflite-int8"), None)


def test_run_with_the_int8_backend(toy_bundle, tmp_path):
    """End to end: `streamcls run --backend tflite-int8` calibrates on the file it runs on."""
    _, path = toy_bundle
    video = write_video(tmp_path / "clip.avi", 30, (96, 96), codec="MJPG")
    result = run_cli("run", "--source", str(video), "--model", str(path), "--input-size", "96x96",
                     "--no-display", "--backend", "tflite-int8", "--threads", "2",
                     "--predictions", str(tmp_path / "p.jsonl"))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [row["frame_index"] for row in rows] == list(range(30))
    assert "LiteRT int8, XNNPACK, 2 threads" in result.stdout
    assert "tflite-int8 agrees with Keras float32 on" in result.stderr


def test_tf_lite_serves_where_litert_is_not_installed(monkeypatch):
    import sys

    from streamcls.model.backends.litert import interpreter_class

    assert interpreter_class()[1] == "LiteRT"
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # as if not installed
    interpreter, runtime = interpreter_class()
    assert runtime == "tf.lite" and interpreter.__name__ == "Interpreter"


def test_low_agreement_is_flagged_in_the_point():
    from streamcls.benchmark.sweep import _agreement_notes
    from streamcls.model.backends import Agreement

    assert _agreement_notes("tflite-int8", Agreement(20, 0.97, 0.1), 0.95) == ()
    notes = _agreement_notes("tflite-int8", Agreement(20, 0.80, 0.4), 0.95)
    assert notes == ("top-1 agreement with keras 80% is below 95%: check the calibration frames",)


def test_conversion_prints_nothing(at_two_sizes, capsys):
    converted_model(at_two_sizes[1], "dynamic")
    captured = capsys.readouterr()
    assert "TensorSpec" not in captured.out and "Saved artifact" not in captured.out
