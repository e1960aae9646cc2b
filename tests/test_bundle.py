"""Bundles: round trip, loading at another input size, and every refusal."""

from __future__ import annotations

import json

import numpy as np
import pytest
from toyset import CLASSES, toy_images

from streamcls.config import InputSize, ModelConfig, PreprocessConfig
from streamcls.errors import BundleError, ConfigError, WeightsError
from streamcls.model.bundle import MANIFEST, WEIGHTS, load_bundle, save_bundle
from streamcls.model.load import load_model
from streamcls.preprocess import PreprocessSpec, preprocess_batch


def assert_same_weights(first, second):
    assert len(first.weights) == len(second.weights)
    for a, b in zip(first.weights, second.weights, strict=True):
        assert a.path == b.path
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


@pytest.fixture(scope="module")
def trained(toy_bundle):
    return toy_bundle


def test_round_trip_keeps_everything(trained):
    loaded, path = trained
    again = load_bundle(path)
    assert again.spec == loaded.spec
    assert again.spec.classes == CLASSES
    assert again.spec.preprocess == PreprocessConfig(interpolation="area", resize_mode="center_crop")
    assert_same_weights(loaded.model, again.model)
    manifest = json.loads((path / MANIFEST).read_text())
    assert manifest["format_version"] == 1 and manifest["metadata"] == {"note": "toy"}
    assert manifest["model"]["input_size"] == [96, 96]


@pytest.mark.parametrize("height, width", [(128, 128), (160, 160), (240, 320)])
def test_loading_at_another_size_carries_every_weight(trained, height, width):
    loaded, path = trained
    resized = load_bundle(path, InputSize(height, width))
    assert resized.spec.input_size == InputSize(height, width)
    assert tuple(resized.model.input_shape) == (None, height, width, 3)
    assert_same_weights(loaded.model, resized.model)


def test_trained_head_agrees_across_sizes(trained):
    loaded, path = trained
    images, labels = toy_images(60, seed=99)  # pictures the head never saw

    def top1(model_spec, model):
        spec = PreprocessSpec(model_spec.input_size, model_spec.preprocess)
        return np.asarray(model(preprocess_batch(images, spec), training=False)).argmax(axis=1)

    at_96 = top1(loaded.spec, loaded.model)
    assert (at_96 == labels).mean() >= 0.9, "the toy head did not learn"
    resized = load_bundle(path, InputSize(128, 128))
    at_128 = top1(resized.spec, resized.model)
    assert (at_96 == at_128).mean() >= 0.9


def test_bundle_through_model_config(trained):
    _, path = trained
    loaded = load_model(ModelConfig(bundle=str(path), input_size=InputSize(64, 80)))
    assert loaded.spec.input_size == InputSize(64, 80)
    assert loaded.weights_origin == f"bundle: {path}"
    with pytest.raises(ConfigError, match="trained with alpha 0.25; drop --alpha"):
        load_model(ModelConfig(bundle=str(path), alpha=0.5))


def test_save_replaces_a_bundle_but_never_another_folder(trained, tmp_path):
    loaded, path = trained
    target = tmp_path / "out"
    save_bundle(loaded.model, loaded.spec, target)
    save_bundle(loaded.model, loaded.spec, target)  # replacing a bundle is fine
    assert sorted(p.name for p in target.iterdir()) == sorted([MANIFEST, WEIGHTS])
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left behind
    other = tmp_path / "photos"
    other.mkdir()
    (other / "keep.jpg").write_bytes(b"x")
    with pytest.raises(BundleError, match="exists and is not a streamcls bundle"):
        save_bundle(loaded.model, loaded.spec, other)
    assert (other / "keep.jpg").exists()


def copy_bundle(path, tmp_path):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(path, target)
    return target


def test_refusals(trained, tmp_path):
    _, path = trained
    with pytest.raises(BundleError, match="does not exist; pass a folder written by streamcls train"):
        load_bundle(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="is not a streamcls bundle: it has no streamcls-bundle.json"):
        load_bundle(tmp_path / "empty")

    copy = copy_bundle(path, tmp_path)
    manifest = json.loads((copy / MANIFEST).read_text())
    (copy / MANIFEST).write_text(json.dumps({**manifest, "format_version": 2}))
    with pytest.raises(BundleError, match="format version 2; this streamcls reads version 1 and older: upgrade"):
        load_bundle(copy)

    (copy / MANIFEST).write_text("{not json")
    with pytest.raises(BundleError, match="is not valid JSON"):
        load_bundle(copy)

    (copy / MANIFEST).write_text(json.dumps({**manifest, "model": {"alpha": 0.25}}))
    with pytest.raises(BundleError, match="damaged model description"):
        load_bundle(copy)

    (copy / MANIFEST).write_text(json.dumps(manifest))
    (copy / WEIGHTS).unlink()
    with pytest.raises(BundleError, match="missing its weights file weights.h5"):
        load_bundle(copy)


def test_weights_that_do_not_fit_the_manifest(trained, tmp_path):
    _, path = trained
    copy = copy_bundle(path, tmp_path)
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["model"]["alpha"] = 0.5
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(WeightsError, match=r"does not fit layer 'conv1': the file has shapes \[\(3, 3, 3, 8\)\], the network needs \[\(3, 3, 3, 16\)\]"):
        load_bundle(copy)
