"""Building the classifier: any input size, every alpha, the head, seeding, MACs."""

from __future__ import annotations

import numpy as np
import pytest

from streamcls.config import HeadConfig, InputSize, ModelConfig
from streamcls.model.build import ModelSpec, backbone_of, build_classifier
from streamcls.model.info import count_macs, describe
from streamcls.model.load import load_model

CLASSES = ("cat", "dog", "bird")


def dense_spec(height=96, width=96, alpha=0.25, **changes):
    return ModelSpec(alpha=alpha, input_size=InputSize(height, width), classes=CLASSES, **changes)


@pytest.mark.parametrize("height, width", [(32, 32), (96, 96), (160, 160), (224, 224), (240, 320), (97, 61)])
def test_any_input_size_square_or_not(height, width):
    model = build_classifier(dense_spec(height, width))
    assert tuple(model.input_shape) == (None, height, width, 3)
    images = np.random.default_rng(0).uniform(-1, 1, (2, height, width, 3)).astype("float32")
    probabilities = np.asarray(model(images, training=False))
    assert probabilities.shape == (2, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("alpha", [0.25, 0.5, 0.75, 1.0])
def test_every_alpha_sets_the_width(alpha):
    model = build_classifier(dense_spec(64, 64, alpha=alpha))
    backbone = backbone_of(model)
    assert backbone.get_layer("conv1").kernel.shape[-1] == int(32 * alpha)
    assert backbone.output_shape[-1] == int(1024 * alpha)


def test_default_head_is_the_classic_one():
    model = build_classifier(dense_spec())
    dense, dropout, predictions = (model.get_layer(n) for n in ("head_dense", "head_dropout", "predictions"))
    assert dense.units == 128 and dense.activation.__name__ == "relu"
    assert dropout.rate == 0.5
    assert predictions.units == 3 and predictions.activation.__name__ == "softmax"
    assert dense.kernel.shape == (256, 128)  # avg-pooled alpha-0.25 features


def test_head_units_dropout_and_pooling_configurable():
    model = build_classifier(dense_spec(head_units=32, head_dropout=0.2, pooling="max"))
    assert model.get_layer("head_dense").units == 32
    assert model.get_layer("head_dropout").rate == 0.2
    assert type(backbone_of(model).layers[-1]).__name__ == "GlobalMaxPooling2D"


def test_head_is_seeded():
    first = build_classifier(dense_spec(seed=3)).get_layer("head_dense").get_weights()[0]
    again = build_classifier(dense_spec(seed=3)).get_layer("head_dense").get_weights()[0]
    other = build_classifier(dense_spec(seed=4)).get_layer("head_dense").get_weights()[0]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_freeze_backbone_leaves_only_the_head_trainable():
    frozen = build_classifier(dense_spec(), freeze_backbone=True)
    names = {w.path.split("/")[0] for w in frozen.trainable_weights}
    assert names == {"head_dense", "predictions"}
    unfrozen = build_classifier(dense_spec(), freeze_backbone=False)
    assert len(unfrozen.trainable_weights) > len(frozen.trainable_weights) + 20


def test_dense_head_without_classes_is_refused():
    from streamcls.errors import ModelError

    with pytest.raises(ModelError, match="list them under model.head.classes"):
        build_classifier(ModelSpec(alpha=0.25, input_size=InputSize(64, 64), classes=()))


def test_macs_match_the_mobilenet_paper():
    import keras

    reference = keras.applications.MobileNet(input_shape=(224, 224, 3), weights=None)
    # Paper: 569 M multiply-adds for MobileNet 1.0 at 224 px.
    assert count_macs(reference) == 568_740_352
    at_160 = build_classifier(ModelSpec(alpha=1.0, input_size=InputSize(160, 160), classes=tuple(map(str, range(1000))), head="imagenet"))
    assert 289e6 < count_macs(at_160) < 292e6  # ~290 M at 160 px


def test_describe_reports_what_info_prints():
    config = ModelConfig(alpha=0.25, input_size=InputSize(96, 128), weights="none",
                         head=HeadConfig(kind="dense", classes=CLASSES))
    description = describe(load_model(config))
    assert description["input_size"] == "96x128"
    assert description["classes"] == list(CLASSES)
    assert description["weights"] == "none (random initialisation, seed 0)"
    assert description["trainable_parameters"] == 256 * 128 + 128 + 128 * 3 + 3
    assert description["macs"] > 0
