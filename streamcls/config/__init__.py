"""Typed configuration: one YAML file becomes nested frozen dataclasses.

Every key has a default, so an empty file (or no file) is a valid config: the
ImageNet classifier at 224x224. Unknown keys and wrong types are refused with
the key's path, what was received and what was expected, before anything heavy
(TensorFlow) is imported.

The package: ``schema`` (the dataclasses, each check beside its field),
``read`` (the YAML file and overrides), ``coerce`` (values -> dataclasses,
the checks run), ``names`` (the one list of policies, devices, backends and
sink kinds).

Example::

    config = load_config("configs/imagenet.yaml")
    config.model.input_size          # InputSize(height=224, width=224)
"""

from __future__ import annotations

from streamcls.config.coerce import from_mapping
from streamcls.config.events import EventsConfig, LabelRuleConfig
from streamcls.config.read import load_config
from streamcls.config.schema import (
    ALPHAS,
    MAX_INPUT_SIDE,
    MIN_INPUT_SIDE,
    AugmentConfig,
    Config,
    HeadConfig,
    HysteresisConfig,
    InferenceConfig,
    InputSize,
    ModelConfig,
    OutputConfig,
    PostprocessConfig,
    PreprocessConfig,
    ReconnectConfig,
    SinkConfig,
    SourceConfig,
    SourceOutputConfig,
    TrainConfig,
    parse_input_size,
)
from streamcls.config.service import ServiceConfig

__all__ = [
    "ALPHAS",
    "MAX_INPUT_SIDE",
    "MIN_INPUT_SIDE",
    "AugmentConfig",
    "Config",
    "EventsConfig",
    "HeadConfig",
    "HysteresisConfig",
    "InferenceConfig",
    "InputSize",
    "LabelRuleConfig",
    "ModelConfig",
    "OutputConfig",
    "PostprocessConfig",
    "PreprocessConfig",
    "ReconnectConfig",
    "ServiceConfig",
    "SinkConfig",
    "SourceConfig",
    "SourceOutputConfig",
    "TrainConfig",
    "from_mapping",
    "load_config",
    "parse_input_size",
]
