"""What a classifier is: parameters, multiply-accumulates at its input size, classes.

MACs are counted from each layer's real output shape: a convolution costs
``out_h * out_w * k_h * k_w * (in_channels / groups) * out_channels``, a
depthwise one ``out_h * out_w * k_h * k_w * in_channels * depth_multiplier``, a
dense layer ``in * out``. Batch norm, activations and pooling are left out, as
in the MobileNet paper (569 M for alpha 1.0 at 224 px).
"""

from __future__ import annotations

from typing import Any

from streamcls.model.build import LoadedModel


def count_macs(model: Any) -> int:
    """Multiply-accumulates for one image through ``model`` (nested models included)."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if hasattr(layer, "layers"):  # a nested model
            total += count_macs(layer)
        elif kind == "DepthwiseConv2D":
            _, out_height, out_width, _ = layer.output.shape
            kernel_height, kernel_width, in_channels, multiplier = layer.kernel.shape
            total += out_height * out_width * kernel_height * kernel_width * in_channels * multiplier
        elif kind == "Conv2D":
            _, out_height, out_width, _ = layer.output.shape
            kernel_height, kernel_width, in_per_group, out_channels = layer.kernel.shape
            total += out_height * out_width * kernel_height * kernel_width * in_per_group * out_channels
        elif kind == "Dense":
            in_features, out_features = layer.kernel.shape
            total += in_features * out_features
    return int(total)


def describe(loaded: LoadedModel) -> dict[str, Any]:
    """A flat, JSON-ready description for ``streamcls model info``."""
    model, spec = loaded.model, loaded.spec
    trainable = sum(int(_size(w)) for w in model.trainable_weights)
    total = int(model.count_params())
    classes = list(spec.classes)
    return {
        "backbone": "MobileNet (keras.applications, include_top=False, "
        + ("pooling in the top)" if spec.head == "imagenet" else f"pooling={spec.pooling})"),
        "alpha": spec.alpha,
        "input_size": str(spec.input_size),
        "head": (
            "imagenet (MobileNet's own 1000-class top)"
            if spec.head == "imagenet"
            else f"dense: Dense({spec.head_units}, relu) -> Dropout({spec.head_dropout}) -> "
            f"Dense({spec.num_classes}, softmax)"
        ),
        "num_classes": spec.num_classes,
        "classes": classes,
        "parameters": total,
        "trainable_parameters": trainable,
        "macs": count_macs(model),
        "preprocess": (
            f"BGR->RGB, {spec.preprocess.resize_mode} to {spec.input_size} with "
            f"{spec.preprocess.interpolation} interpolation, x/127.5 - 1"
        ),
        "weights": loaded.weights_origin,
    }


def _size(weight: Any) -> int:
    count = 1
    for side in weight.shape:
        count *= int(side)
    return count
