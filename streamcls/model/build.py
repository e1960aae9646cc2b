"""Build the classifier: a MobileNet backbone at any input size plus a head.

The network is ``image -> backbone -> head``. The backbone is
``keras.applications.MobileNet(include_top=False)`` nested as one layer named
``backbone`` (so it can be frozen or fine-tuned as a whole); its layer names
(``conv1``, ``conv_dw_1_bn``, ...) are Keras' own, which is what lets weight
files be matched layer by layer. Every weight in MobileNet and in both heads is
independent of the spatial input size, so the same weights fit a build at any
size.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamcls.config import InputSize, PreprocessConfig
from streamcls.model.runtime import import_keras

if TYPE_CHECKING:
    import keras

BACKBONE_NAME = "backbone"
IMAGENET_CLASSES = 1000
# Keras' own names for MobileNet's top, kept so ImageNet weight files match.
IMAGENET_TOP_LAYER = "conv_preds"


@dataclass(frozen=True)
class ModelSpec:
    """A fully resolved description of one classifier (no defaults left open).

    This, with the weights, is what a bundle stores; ``build_classifier`` turns it
    into a Keras model.
    """

    alpha: float
    input_size: InputSize
    classes: tuple[str, ...]
    head: str = "dense"  # "dense" or "imagenet"
    pooling: str = "avg"
    head_units: int = 128
    head_dropout: float = 0.5
    preprocess: PreprocessConfig = PreprocessConfig()
    seed: int = 0
    backbone: str = "mobilenet"

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def at_size(self, input_size: InputSize) -> ModelSpec:
        """The same classifier at another input size."""
        return replace(self, input_size=input_size)


def build_classifier(spec: ModelSpec, freeze_backbone: bool = True) -> keras.Model:
    """Build the network with freshly initialised weights, seeded by ``spec.seed``.

    Raises:
        ModelError: the spec cannot be built (for example no classes).
    """
    from streamcls.errors import ModelError

    keras = import_keras()
    if spec.num_classes < 1:
        raise ModelError(
            "the dense head has no classes; list them under model.head.classes "
            "or load a trained bundle with --model PATH"
        )
    # Seeds the backbone's random initialisation too (used with weights: none).
    keras.utils.set_random_seed(spec.seed)
    image = keras.Input(shape=spec.input_size.shape, name="image")
    backbone = keras.applications.MobileNet(
        input_shape=spec.input_size.shape,
        alpha=spec.alpha,
        include_top=False,
        weights=None,
        pooling=None if spec.head == "imagenet" else spec.pooling,
        name=BACKBONE_NAME,
    )
    backbone.trainable = not freeze_backbone
    features = backbone(image)
    if spec.head == "imagenet":
        probabilities = _imagenet_head(keras, features, spec.num_classes)
    else:
        probabilities = _dense_head(keras, features, spec)
    return keras.Model(image, probabilities, name="streamcls_classifier")


def _dense_head(keras: Any, features: Any, spec: ModelSpec) -> Any:
    initializer = keras.initializers.GlorotUniform
    hidden = keras.layers.Dense(
        spec.head_units,
        activation="relu",
        kernel_initializer=initializer(seed=spec.seed),
        name="head_dense",
    )(features)
    hidden = keras.layers.Dropout(spec.head_dropout, seed=spec.seed, name="head_dropout")(hidden)
    return keras.layers.Dense(
        spec.num_classes,
        activation="softmax",
        kernel_initializer=initializer(seed=spec.seed + 1),
        name="predictions",
    )(hidden)


def _imagenet_head(keras: Any, features: Any, num_classes: int) -> Any:
    # The same layers, names and order as keras.applications.MobileNet's top.
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True, name="global_pool")(features)
    pooled = keras.layers.Dropout(1e-3, name="dropout")(pooled)
    logits = keras.layers.Conv2D(num_classes, (1, 1), padding="same", name=IMAGENET_TOP_LAYER)(pooled)
    logits = keras.layers.Reshape((num_classes,), name="reshape_2")(logits)
    return keras.layers.Activation("softmax", name="predictions")(logits)


def backbone_of(model: keras.Model) -> keras.Model:
    """The nested MobileNet of a classifier built here."""
    return model.get_layer(BACKBONE_NAME)


def head_layers(model: keras.Model) -> list[Any]:
    """The head's layers that carry weights (everything but the backbone)."""
    return [layer for layer in model.layers if layer.name != BACKBONE_NAME and layer.weights]


@dataclass(frozen=True)
class LoadedModel:
    """A built classifier, what it is, and where its weights came from."""

    model: Any  # keras.Model
    spec: ModelSpec
    weights_origin: str
    bundle_path: Path | None = None
