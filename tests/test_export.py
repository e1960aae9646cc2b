"""`streamcls export`: the deployed model gives the Keras model's answers, with its labels and manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli import run_cli
from toyset import CLASSES, toy_images

from streamcls.config import InputSize
from streamcls.model.backends.keras import Classifier
from streamcls.model.bundle import load_bundle
from streamcls.preprocess import preprocess_batch


def keras_probabilities(bundle, images, size=InputSize(64, 64)):
    loaded = load_bundle(bundle, size)
    classifier = Classifier.from_loaded(loaded, batch_size=8, device="cpu")
    return classifier.classify_frames(images), preprocess_batch(images, classifier.preprocess_spec)


@pytest.mark.parametrize("quantize, tolerance", [("float32", 1e-4), ("float16", 2e-2)])
def test_tflite_export_matches_keras(toy_bundle, tmp_path, quantize, tolerance):
    from ai_edge_litert.interpreter import Interpreter

    _, bundle = toy_bundle
    result = run_cli("export", str(bundle), "--format", "tflite", "--quantize", quantize, "--input-size", "64x64",
                     "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "labels.txt").read_text().splitlines() == list(CLASSES)
    manifest = json.loads((tmp_path / "out" / "streamcls-export.json").read_text())
    assert manifest["input"]["height"] == 64 and manifest["input"]["color_order"] == "RGB"
    assert manifest["quantize"] == quantize and manifest["output"]["classes"] == 3
    images, _ = toy_images(6, seed=4)
    expected, batch = keras_probabilities(bundle, images)
    interpreter = Interpreter(model_path=str(tmp_path / "out" / "model.tflite"))
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], batch.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
    interpreter.invoke()
    actual = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(actual, expected, atol=tolerance)


def test_saved_model_export_matches_keras(toy_bundle, tmp_path):
    import tensorflow as tf

    _, bundle = toy_bundle
    result = run_cli("export", str(bundle), "--format", "saved_model", "--input-size", "64x64",
                     "--output", str(tmp_path / "sm"))
    assert result.returncode == 0, result.stderr
    images, _ = toy_images(5, seed=8)
    expected, batch = keras_probabilities(bundle, images)
    restored = tf.saved_model.load(str(tmp_path / "sm" / "saved_model"))
    actual = np.asarray(restored.serve(tf.constant(batch)))
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_int8_export_needs_calibration_and_agrees(toy_bundle, tmp_path):
    import cv2

    _, bundle = toy_bundle
    result = run_cli("export", str(bundle), "--format", "tflite", "--quantize", "int8", "--output", str(tmp_path / "q"))
    assert result.returncode == 2 and "--quantize int8 needs --calibration" in result.stderr
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, image in enumerate(toy_images(40, seed=2)[0]):
        cv2.imwrite(str(folder / f"{index:02d}.png"), image)
    result = run_cli("export", str(bundle), "--format", "tflite", "--quantize", "int8", "--input-size", "96x96",
                     "--calibration", str(folder), "--output", str(tmp_path / "q"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "q" / "model.tflite").stat().st_size < 1_000_000  # int8: a quarter of float32


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--format", "saved_model", "--quantize", "int8"], "--quantize applies to --format tflite"),
        (["--format", "tflite", "--output", "/no/such/folder/out"], "folder /no/such/folder does not exist"),
    ],
)
def test_export_refusals(toy_bundle, tmp_path, arguments, message):
    _, bundle = toy_bundle
    if "--output" not in arguments:
        arguments = [*arguments, "--output", str(tmp_path / "x")]
    result = run_cli("export", str(bundle), *arguments)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_export_never_overwrites_a_folder_that_is_not_an_export(toy_bundle, tmp_path):
    _, bundle = toy_bundle
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = run_cli("export", str(bundle), "--format", "tflite", "--output", str(tmp_path / "mine"))
    assert result.returncode == 2 and "is not a streamcls export" in result.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
