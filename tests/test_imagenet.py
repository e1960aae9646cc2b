"""ImageNet weights through Keras' cache, offline, at any input size; the class names."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from cli import run_cli
from weightfiles import assert_layers_equal, keras_mobilenet, published_name, save_legacy_h5

from streamcls.config import HeadConfig, InputSize, ModelConfig
from streamcls.errors import WeightsError
from streamcls.model.imagenet import imagenet_class_names
from streamcls.model.load import load_model


def imagenet_config(height, width, alpha=0.25):
    return ModelConfig(alpha=alpha, input_size=InputSize(height, width), weights="imagenet")


@pytest.fixture(scope="module")
def top_224():
    """A locally made stand-in for mobilenet_2_5_224_tf.h5 (1000 classes, with top)."""
    return keras_mobilenet(0.25, 224, include_top=True)


def place_in_cache(keras_home, model, alpha, size, include_top):
    return save_legacy_h5(model, keras_home / "models" / published_name(alpha, size, include_top))


def test_class_names_ship_with_the_package():
    names = imagenet_class_names()
    assert len(names) == 1000
    assert names[:3] == ("tench", "goldfish", "great_white_shark")
    assert names[999] == "toilet_tissue"


@pytest.mark.parametrize("height, width", [(160, 160), (320, 320), (240, 320)])
def test_imagenet_head_at_any_size_from_the_224_file(keras_home, offline, top_224, height, width):
    path = place_in_cache(keras_home, top_224, 0.25, 224, include_top=True)
    loaded = load_model(imagenet_config(height, width))
    assert loaded.spec.classes == imagenet_class_names()
    # Every weight of the file, the top included, is carried over unchanged.
    assert assert_layers_equal(top_224, loaded.model.get_layer("backbone")) == 54
    assert assert_layers_equal(top_224, loaded.model) == 1  # conv_preds
    assert str(path) in loaded.weights_origin
    assert "carrying the 224 px ImageNet weights over" in loaded.weights_origin
    probabilities = np.asarray(loaded.model(np.zeros((1, height, width, 3), "float32")))
    assert probabilities.shape == (1, 1000)


@pytest.mark.parametrize("size", [224, 160])
def test_imagenet_head_equals_keras_own_classifier(keras_home, offline, top_224, size):
    """Our rebuilt top gives Keras' own MobileNet(include_top=True) predictions."""
    import keras

    path = place_in_cache(keras_home, top_224, 0.25, 224, include_top=True)
    ours = load_model(imagenet_config(size, size)).model
    theirs = keras.applications.MobileNet(input_shape=(size, size, 3), alpha=0.25, weights=str(path))
    images = np.random.default_rng(0).uniform(-1, 1, (3, size, size, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(ours(images)), np.asarray(theirs(images)), atol=1e-6)


def test_matched_file_is_preferred(keras_home, offline):
    matched = keras_mobilenet(0.25, 160, include_top=False, seed=1)
    place_in_cache(keras_home, matched, 0.25, 160, include_top=False)
    place_in_cache(keras_home, keras_mobilenet(0.25, 224, include_top=False, seed=2), 0.25, 224, False)
    config = ModelConfig(alpha=0.25, input_size=InputSize(160, 160), head=HeadConfig(kind="dense", classes=("a", "b")))
    loaded = load_model(config)
    assert assert_layers_equal(matched, loaded.model.get_layer("backbone")) == 54
    assert "carrying" not in loaded.weights_origin
    assert offline == []  # found in the cache: nothing was downloaded


def test_falls_back_to_cached_224_and_says_so_in_one_line(keras_home, offline, caplog):
    source = keras_mobilenet(0.25, 224, include_top=False)
    place_in_cache(keras_home, source, 0.25, 224, include_top=False)
    config = ModelConfig(alpha=0.25, input_size=InputSize(160, 160), head=HeadConfig(kind="dense", classes=("a", "b")))
    with caplog.at_level(logging.WARNING):
        loaded = load_model(config)
    assert offline == ["mobilenet_2_5_160_tf_no_top.h5"]  # the matched file was tried first
    assert assert_layers_equal(source, loaded.model.get_layer("backbone")) == 54
    notes = [record.getMessage() for record in caplog.records]
    assert len(notes) == 1 and "\n" not in notes[0]
    assert notes[0].startswith("carrying the 224 px ImageNet weights over to 160x160")
    assert "Name or service not known" in notes[0]


def test_with_top_file_serves_a_backbone(keras_home, offline, top_224):
    place_in_cache(keras_home, top_224, 0.25, 224, include_top=True)
    config = ModelConfig(alpha=0.25, input_size=InputSize(224, 224), head=HeadConfig(kind="dense", classes=("a", "b")))
    loaded = load_model(config)
    assert assert_layers_equal(top_224, loaded.model.get_layer("backbone")) == 54
    assert offline == []


def test_offline_error_names_file_cache_and_local_option(keras_home, offline):
    with pytest.raises(WeightsError) as caught:
        load_model(imagenet_config(160, 160))
    message = str(caught.value)
    assert "mobilenet_2_5_160_tf.h5" in message and "mobilenet_2_5_224_tf.h5" in message
    assert str(keras_home / "models") in message
    assert "KERAS_HOME" in message and "--weights PATH" in message
    assert "Name or service not known" in message
    assert "\n" not in message


def test_imagenet_head_needs_the_file_with_top(tmp_path):
    path = save_legacy_h5(keras_mobilenet(0.25, 224, include_top=False), tmp_path / "no_top.h5")
    config = ModelConfig(alpha=0.25, input_size=InputSize(128, 128), weights=str(path))
    with pytest.raises(WeightsError, match="has no ImageNet top .*mobilenet_1_0_224_tf.h5 rather than"):
        load_model(config)


def test_cli_model_info_imagenet_offline_from_the_cache(keras_home):
    """A user who placed mobilenet_1_0_224_tf.h5 in the cache gets the classifier offline."""
    place_in_cache(keras_home, keras_mobilenet(1.0, 224, include_top=True), 1.0, 224, include_top=True)
    result = run_cli("model", "info", "--model", "imagenet", "--input-size", "240x320", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["input_size"] == "240x320" and info["alpha"] == 1.0
    assert info["num_classes"] == 1000 and info["classes"][1] == "goldfish"
    assert info["parameters"] == 4_253_864  # MobileNet 1.0 with its top
    assert str(keras_home / "models" / "mobilenet_1_0_224_tf.h5") in info["weights"]
    assert "no file is published for that size" in info["weights"]
