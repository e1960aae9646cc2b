"""From a ``ModelConfig`` to a ready Keras classifier with its weights.

This is the one entry point every command uses (``--model``, ``--input-size``
and ``--alpha`` mean the same everywhere):

* ``model.bundle`` set: load the trained bundle, rebuilt at ``input_size`` if given;
* otherwise build MobileNet + head and fill the backbone from ``model.weights``
  (``imagenet``, ``none`` or a file). The dense head always starts fresh.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from streamcls.config import InputSize, ModelConfig
from streamcls.errors import ConfigError, WeightsError
from streamcls.model.build import (
    IMAGENET_TOP_LAYER,
    LoadedModel,
    ModelSpec,
    backbone_of,
    build_classifier,
)
from streamcls.model.bundle import load_bundle
from streamcls.model.imagenet import find_imagenet_weights, imagenet_class_names
from streamcls.model.weights import assign_weights, read_weight_file

logger = logging.getLogger(__name__)

DEFAULT_INPUT_SIZE = InputSize(224, 224)
DEFAULT_ALPHA = 1.0


def load_model(config: ModelConfig) -> LoadedModel:
    """Build or load the classifier ``config`` describes.

    Raises:
        ConfigError: the config contradicts itself (a bundle and another alpha).
        WeightsError, BundleError: weights or bundle cannot be used.
    """
    if config.bundle is not None:
        loaded = load_bundle(config.bundle, input_size=config.input_size)
        if config.alpha is not None and config.alpha != loaded.spec.alpha:
            raise ConfigError(
                f"model.alpha: received {config.alpha}, but bundle {config.bundle!r} was "
                f"trained with alpha {loaded.spec.alpha}; drop --alpha (a bundle fixes it)"
            )
        return loaded
    spec = spec_from_config(config)
    model = build_classifier(spec, freeze_backbone=config.freeze_backbone)
    origin = load_backbone_weights(model, spec, config.weights)
    return LoadedModel(model, spec, origin)


def describe_model(config: ModelConfig) -> ModelSpec:
    """What ``load_model(config)`` would build (size, classes, preprocessing), without building it.

    Raises:
        BundleError: a bundle whose manifest is missing or damaged.
    """
    if config.bundle is None:
        return spec_from_config(config)
    from streamcls.model.bundle import bundle_spec

    spec = bundle_spec(config.bundle)
    return spec.at_size(config.input_size) if config.input_size is not None else spec


def spec_from_config(config: ModelConfig) -> ModelSpec:
    """Resolve a config without a bundle into a full ``ModelSpec``."""
    if config.head.kind == "imagenet":
        classes = imagenet_class_names()
        if config.head.classes and tuple(config.head.classes) != classes:
            raise ConfigError(
                "model.head.classes: the imagenet head has the 1000 ImageNet classes; "
                "remove the list, or use head kind: dense for your own classes"
            )
    else:
        classes = tuple(config.head.classes)
    return ModelSpec(
        alpha=config.alpha if config.alpha is not None else DEFAULT_ALPHA,
        input_size=config.input_size or DEFAULT_INPUT_SIZE,
        classes=classes,
        head=config.head.kind,
        pooling=config.pooling,
        head_units=config.head.units,
        head_dropout=config.head.dropout,
        preprocess=config.preprocess,
        seed=config.seed,
    )


def load_backbone_weights(model: Any, spec: ModelSpec, weights: str) -> str:
    """Fill the backbone (and the ImageNet top, for that head) from ``weights``.

    Returns a one-line description of where the weights came from.
    """
    if weights.lower() == "none":
        return f"none (random initialisation, seed {spec.seed})"
    note = ""
    if weights.lower() == "imagenet":
        found = find_imagenet_weights(spec.alpha, spec.input_size, spec.head == "imagenet")
        path, note = found.path, found.note
        if note:
            logger.warning("%s", note)
    else:
        path = Path(weights).expanduser()
    layer_weights = read_weight_file(path)
    assign_weights(backbone_of(model).layers, layer_weights, str(path), strict=False)
    if spec.head == "imagenet":
        if IMAGENET_TOP_LAYER not in layer_weights:
            raise WeightsError(
                f"weight file {str(path)!r} has no ImageNet top (layer {IMAGENET_TOP_LAYER!r}); "
                f"the imagenet head needs the file with the top, such as "
                f"mobilenet_1_0_224_tf.h5 rather than ..._tf_no_top.h5"
            )
        assign_weights([model.get_layer(IMAGENET_TOP_LAYER)], layer_weights, str(path), strict=False)
    source = "imagenet: " if weights.lower() == "imagenet" else ""
    return f"{source}{path}" + (f" ({note})" if note else "")
