"""streamcls: real-time video classification with a Keras MobileNet at any input size.

The common case in a line or two::

    import streamcls

    for prediction in streamcls.stream("clip.mp4", model="my-bundle"):
        print(prediction.frame_index, prediction.shown_label)

    predictions = streamcls.classify(["cat.jpg", "dog.jpg"], model="imagenet")

``streamcls.load`` keeps a model for many calls; ``streamcls.Pipeline`` is the
full API (several sources, sinks of your own, summaries). Importing the package
is cheap: these names are imported on first use, and TensorFlow only by the
functions that build or run a model.
"""

from __future__ import annotations

import importlib
from typing import Any

from streamcls.version import __version__

_LAZY = {
    "stream": "streamcls.api",
    "classify": "streamcls.api",
    "load": "streamcls.api",
    "Model": "streamcls.api",
    "Pipeline": "streamcls.pipeline",
    "load_config": "streamcls.config",
    "Config": "streamcls.config",
    "Prediction": "streamcls.frames",
    "Sink": "streamcls.outputs.sink",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'streamcls' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
