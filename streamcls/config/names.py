"""The one list of each kind of name: capture policies, devices, backends and sink kinds.

Backends and sinks are extension points. Each entry names its implementation
as ``"package.module:attribute"``, imported only when a run uses it, so that
reading this registry (config validation, CLI choices, the bench report,
doctor) costs nothing and never imports TensorFlow. A new backend or sink is
one module plus one entry here; see ``docs/architecture.md``.

A config may also name an implementation of its own the same way
(``inference.backend: my_package.backends:build``); such a name is imported
when the config is loaded, so a typo fails at once with the key's path.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from streamcls.errors import ConfigError

POLICIES = ("auto", "block", "latest")
DEVICES = ("auto", "cpu", "gpu")
FAIRNESS = ("round_robin", "oldest_first")

_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class Extension:
    """A named implementation, imported on first use."""

    name: str
    target: str  # "package.module:attribute"
    summary: str

    def load(self, key: str = "") -> Any:
        """Import and return the implementation.

        Raises:
            ConfigError: naming ``key`` when the module or attribute is missing.
        """
        module_name, _, attribute = self.target.partition(":")
        where = f"{key}: " if key else ""
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ConfigError(
                f"{where}{self.name!r} needs module {module_name!r}, which cannot be imported "
                f"({error}); install it, or check the spelling"
            ) from None
        try:
            return getattr(module, attribute)
        except AttributeError:
            raise ConfigError(
                f"{where}module {module_name!r} has no {attribute!r}; expected "
                f"'module:attribute' naming a class or function"
            ) from None


@dataclass(frozen=True)
class Backend(Extension):
    """An inference runtime. ``target`` is a factory; see ``streamcls.model.backends``.

    ``cpu_only``: refused with ``inference.device: gpu``. ``needs_calibration``:
    frames from a recording are required (int8). ``compare_with_keras``: a
    converted model, whose agreement with Keras float32 is measured on held-out
    frames. ``options``: keyword arguments for the factory.
    """

    cpu_only: bool = False
    needs_calibration: bool = False
    compare_with_keras: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SinkKind(Extension):
    """An output. ``target`` is a class built from ``(target, context)``; see ``streamcls.outputs``.

    ``config_key``: the ``output:`` key (and ``--flag``) that names a file of this
    kind, for the built-in file outputs; other kinds are listed under ``output.sinks``.
    """

    config_key: str | None = None


def _registry(*entries: Extension) -> Mapping[str, Any]:
    return MappingProxyType({entry.name: entry for entry in entries})


_LITERT = "streamcls.model.backends.litert:build"
BACKENDS: Mapping[str, Backend] = _registry(
    Backend("keras", "streamcls.model.backends.keras:build", "the compiled Keras model, CPU or GPU"),
    Backend(
        "tflite",
        _LITERT,
        "LiteRT (XNNPACK, CPU), float32",
        cpu_only=True,
        compare_with_keras=True,
        options={"quantization": "float32"},
    ),
    Backend(
        "tflite-float16",
        _LITERT,
        "LiteRT, float16 weights",
        cpu_only=True,
        compare_with_keras=True,
        options={"quantization": "float16"},
    ),
    Backend(
        "tflite-dynamic",
        _LITERT,
        "LiteRT, dynamic-range int8 weights",
        cpu_only=True,
        compare_with_keras=True,
        options={"quantization": "dynamic"},
    ),
    Backend(
        "tflite-int8",
        _LITERT,
        "LiteRT, full int8 (calibrated on real frames)",
        cpu_only=True,
        needs_calibration=True,
        compare_with_keras=True,
        options={"quantization": "int8"},
    ),
)

SINKS: Mapping[str, SinkKind] = _registry(
    SinkKind(
        "predictions",
        "streamcls.outputs.predictions:PredictionsSink",
        "one record per frame (.jsonl or .csv)",
        config_key="predictions",
    ),
    SinkKind(
        "segments",
        "streamcls.outputs.segments:SegmentsSink",
        "runs of one shown label (.csv, .jsonl or .json)",
        config_key="segments",
    ),
    SinkKind("video", "streamcls.outputs.video:VideoSink", "the annotated video (.mp4, .avi)", config_key="video"),
    SinkKind("window", "streamcls.outputs.window:WindowSink", "a window on the screen"),
    SinkKind("events", "streamcls.outputs.events:EventsSink", "one record per event (.jsonl)"),
    SinkKind("clips", "streamcls.outputs.clips:ClipsSink", "an MP4 clip around each event (a folder)"),
    SinkKind("webhook", "streamcls.outputs.webhook:WebhookSink", "each event POSTed as signed JSON, via an outbox"),
    SinkKind("mqtt", "streamcls.outputs.mqtt:MqttSink", "states, events and availability to an MQTT broker"),
)


def backend(name: str, key: str = "inference.backend") -> Backend:
    """The registry entry for ``name``, or one made for a ``module:factory`` name.

    Raises:
        ConfigError: an unknown name, with the valid ones.
    """
    entry: Backend = _lookup(BACKENDS, name, key, Backend, "module:factory", "a backend of your own")
    return entry


def sink_kind(name: str, key: str = "output.sinks[].kind") -> SinkKind:
    """The registry entry for ``name``, or one made for a ``module:Class`` name.

    Raises:
        ConfigError: an unknown name, with the valid ones.
    """
    entry: SinkKind = _lookup(SINKS, name, key, SinkKind, "module:Class", "a sink of your own")
    return entry


def _lookup(registry: Mapping[str, Any], name: str, key: str, make: type, form: str, summary: str) -> Any:
    if name in registry:
        return registry[name]
    if _TARGET.match(name):
        return make(name, name, summary)
    raise ConfigError(f"{key}: received {name!r}; expected one of {', '.join(registry)} (or {form!r} for {summary})")
