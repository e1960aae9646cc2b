"""Backbone weights from local files, both layouts, across input sizes, and every refusal."""

from __future__ import annotations

import numpy as np
import pytest
from weightfiles import assert_layers_equal, keras_mobilenet, save_legacy_h5

from streamcls.config import HeadConfig, InputSize, ModelConfig
from streamcls.errors import WeightsError
from streamcls.model.build import backbone_of
from streamcls.model.load import load_model

CLASSES = ("a", "b")


def config(weights, height=96, width=96, alpha=0.25, **changes):
    return ModelConfig(
        alpha=alpha,
        input_size=InputSize(height, width),
        weights=str(weights),
        head=HeadConfig(kind="dense", classes=CLASSES),
        **changes,
    )


@pytest.fixture(scope="module")
def source_224():
    return keras_mobilenet(0.25, 224, include_top=False)


@pytest.fixture(scope="module")
def legacy_file(tmp_path_factory, source_224):
    return save_legacy_h5(source_224, tmp_path_factory.mktemp("w") / "mobilenet_2_5_224_tf_no_top.h5")


@pytest.fixture(scope="module")
def keras3_file(tmp_path_factory, source_224):
    path = tmp_path_factory.mktemp("w") / "backbone.weights.h5"
    source_224.save_weights(path)
    return path


@pytest.mark.parametrize("height, width", [(224, 224), (160, 160), (240, 320)])
@pytest.mark.parametrize("layout", ["legacy", "keras3"])
def test_224_weights_fill_a_backbone_of_any_size(request, source_224, layout, height, width):
    path = request.getfixturevalue(f"{layout}_file")
    loaded = load_model(config(path, height, width))
    backbone = backbone_of(loaded.model)
    compared = assert_layers_equal(source_224, backbone)
    assert compared == sum(1 for layer in backbone.layers if layer.weights) == 54
    assert loaded.weights_origin == str(path)


def test_head_starts_fresh_and_seeded(legacy_file):
    first = load_model(config(legacy_file, seed=5)).model.get_layer("head_dense").get_weights()
    again = load_model(config(legacy_file, seed=5)).model.get_layer("head_dense").get_weights()
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], 0.0)  # fresh bias


def test_full_model_file_fills_only_the_backbone(tmp_path):
    full = keras_mobilenet(0.25, 128, include_top=True)
    path = save_legacy_h5(full, tmp_path / "mobilenet_2_5_128_tf.h5")
    model = load_model(config(path)).model
    assert assert_layers_equal(full, backbone_of(model)) == 54
    # The dense head's output layer is fresh, not anything from the file's 1000-class top.
    assert model.get_layer("predictions").kernel.shape == (128, 2)


def test_another_alpha_is_refused_naming_layer_and_shapes(tmp_path):
    path = save_legacy_h5(keras_mobilenet(0.5, 128, include_top=False), tmp_path / "half.h5")
    with pytest.raises(WeightsError) as caught:
        load_model(config(path))
    message = str(caught.value)
    assert str(path) in message
    assert "layer 'conv1'" in message
    assert "[(3, 3, 3, 16)]" in message and "[(3, 3, 3, 8)]" in message


def test_another_architecture_is_refused(tmp_path):
    import keras

    other = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False, weights=None)
    path = save_legacy_h5(other, tmp_path / "mobilenet_v2.h5")
    with pytest.raises(WeightsError, match=r"has no weights for layer 'conv1' \(expected shapes \[\(3, 3, 3, 8\)\]\)"):
        load_model(config(path))


def test_truncated_file_is_refused(tmp_path, legacy_file):
    data = legacy_file.read_bytes()
    path = tmp_path / "truncated.h5"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match=r"truncated.h5' cannot be read as HDF5 .* may be truncated"):
        load_model(config(path))


def test_non_hdf5_file_is_refused(tmp_path):
    path = tmp_path / "notes.weights.h5"
    path.write_text("not weights")
    with pytest.raises(WeightsError, match="cannot be read as HDF5"):
        load_model(config(path))


def test_empty_hdf5_file_is_refused(tmp_path):
    import h5py

    path = tmp_path / "empty.h5"
    h5py.File(path, "w").close()
    with pytest.raises(WeightsError, match="holds no layer weights"):
        load_model(config(path))


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        load_model(config(tmp_path / "nope.h5"))


def test_refused_file_leaves_network_untouched(tmp_path, legacy_file):
    from streamcls.model.weights import assign_weights, read_weight_file

    loaded = load_model(config("none"))
    before = [w.numpy().copy() for w in loaded.model.weights]
    weights = read_weight_file(legacy_file)
    weights["conv_pw_13_bn"] = weights["conv_pw_13_bn"][:2]  # damage the last layer only
    with pytest.raises(WeightsError, match="conv_pw_13_bn"):
        assign_weights(backbone_of(loaded.model).layers, weights, "damaged", strict=False)
    for expected, variable in zip(before, loaded.model.weights):
        np.testing.assert_array_equal(variable.numpy(), expected)
