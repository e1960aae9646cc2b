"""The flags several commands share, and how they become a config.

Flags mean the same in every command: ``--model imagenet|BUNDLE``,
``--input-size HxW``, ``--alpha``, ``--weights``, ``--config FILE``. A command
adds them with :func:`add_model_flags` (and :func:`add_backend_flags`,
:func:`add_device_flag`), then turns its parsed flags into a validated config
with :func:`config_from`: the YAML file first, every flag given on top of it.

Only light imports here: the CLI imports this module to build its parser.
"""

from __future__ import annotations

import argparse
from typing import Any

from streamcls.config import names
from streamcls.errors import ConfigError

# Flags of some commands and the config keys they set; a command without the flag has no attribute.
_FLAG_KEYS = {
    "source": "source.uri",
    "batch_size": "inference.batch_size",
    "output_video": "output.video",
    "predictions": "output.predictions",
    "segments_output": "output.segments",
    "max_frames": "output.max_frames",
    "backend": "inference.backend",
    "threads": "inference.threads",
    "calibration": "inference.calibration",
}


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--model``, ``--input-size``, ``--alpha``, ``--weights``, ``--verbose``."""
    parser.add_argument("--config", help="YAML config file (flags override it)")
    parser.add_argument("--model", help="'imagenet' (MobileNet's ImageNet classifier) or a bundle folder")
    parser.add_argument("--input-size", help="network input HEIGHTxWIDTH, e.g. 160x160, 240x320")
    parser.add_argument("--alpha", type=float, help="MobileNet width: 0.25, 0.5, 0.75 or 1.0")
    parser.add_argument("--weights", help="backbone weights: imagenet, none, or a .h5/.weights.h5 file")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging and tracebacks")


def add_backend_flags(parser: argparse.ArgumentParser) -> None:
    """``--backend`` (a registry name, or ``module:factory``), ``--threads``, ``--calibration``."""
    # No argparse choices: a backend of one's own ('module:factory') is accepted too, and
    # config_from checks the name against the registry. The metavar lists the registry's names.
    parser.add_argument(
        "--backend",
        metavar="{" + ",".join(names.BACKENDS) + "}",
        help="inference runtime (default keras); tflite* convert once and cache",
    )
    parser.add_argument("--threads", type=int, help="LiteRT interpreter threads (default: all cores)")
    parser.add_argument(
        "--calibration",
        help="int8: a video or image folder to calibrate on (default: the source, when it is a file or folder)",
    )


def add_output_flags(parser: argparse.ArgumentParser) -> None:
    """Where results go: ``--predictions``, ``--segments``, ``--sink KIND=PATH``, ``--events``, ``--mqtt``,
    ``--webhook``, ``--clips`` (``run`` and ``serve``)."""
    parser.add_argument("--predictions", help="write one record per frame here (.jsonl or .csv)")
    parser.add_argument(
        "--segments",
        dest="segments_output",
        metavar="PATH",
        help="write runs of one label here (.csv, .json or .jsonl): source, "
        "start/end frame and time, label, mean score",
    )
    parser.add_argument(
        "--sink",
        dest="sinks",
        action="append",
        metavar="KIND=PATH",
        help=f"also write to an output of this kind: {', '.join(names.SINKS)} or "
        f"module:Class (output.sinks); repeatable",
    )
    parser.add_argument(
        "--events",
        dest="events_output",
        metavar="PATH.jsonl",
        help="write each event (a change of the shown label that passes events: rules) here",
    )
    parser.add_argument(
        "--mqtt",
        metavar="mqtt[s]://[user:pass@]host[:port]/prefix",
        help="publish state, events and availability to this MQTT broker (options: output.sinks)",
    )
    parser.add_argument(
        "--webhook",
        dest="webhooks",
        action="append",
        metavar="URL",
        help="POST each event as signed JSON to this URL, through a durable outbox; repeatable",
    )
    parser.add_argument("--clips", metavar="DIR", help="write an MP4 clip around each event into this folder")


def add_device_flag(parser: argparse.ArgumentParser) -> None:
    """``--device auto|cpu|gpu`` (default: the config's)."""
    parser.add_argument("--device", choices=list(names.DEVICES), default=None)


def config_from(arguments: argparse.Namespace, extra: dict[str, Any] | None = None) -> Any:
    """Load ``--config`` and apply the flags given on top of it.

    Returns:
        The validated :class:`streamcls.config.Config`.

    Raises:
        ConfigError: a flag's value is invalid (naming the flag), or the config is.
    """
    from streamcls.config import load_config

    overrides: dict[str, Any] = {}
    if arguments.model is not None:
        if arguments.model.lower() == "imagenet":
            overrides.update({"model.head.kind": "imagenet", "model.bundle": None})
            if arguments.weights is None:
                overrides["model.weights"] = "imagenet"
        else:
            overrides["model.bundle"] = arguments.model
    if arguments.input_size is not None:
        overrides["model.input_size"] = arguments.input_size
    if arguments.alpha is not None:
        overrides["model.alpha"] = arguments.alpha
    if arguments.weights is not None:
        overrides["model.weights"] = arguments.weights
    if getattr(arguments, "device", None) is not None:
        overrides["inference.device"] = arguments.device
    if getattr(arguments, "backend", None) is not None:
        names.backend(arguments.backend, "--backend")  # a registry name or 'module:factory'
    for flag, key in _FLAG_KEYS.items():
        if getattr(arguments, flag, None) is not None:
            overrides[key] = getattr(arguments, flag)
    run_sources = getattr(arguments, "run_sources", None) or []
    if len(run_sources) == 1:
        overrides["source.uri"] = run_sources[0]
    elif run_sources:  # several: they replace any sources: list of the config file
        overrides["sources"] = [{"uri": uri} for uri in run_sources]
    if getattr(arguments, "no_display", False):
        overrides["output.display"] = False
    if getattr(arguments, "realtime", False):
        overrides["source.realtime"] = True
    overrides.update(extra or {})
    config = load_config(arguments.config, overrides)
    flagged = _sinks_from_flags(arguments)
    if flagged:  # after the file's own output.sinks, not instead of them
        kept = [{"kind": sink.kind, "path": sink.path, "options": dict(sink.options)} for sink in config.output.sinks]
        config = load_config(arguments.config, {**overrides, "output.sinks": kept + flagged})
    if config.model.bundle is not None and arguments.weights is not None:
        raise ConfigError("--weights: a bundle carries its own weights; drop --weights, or use --model imagenet")
    return config


def parse_counts(text: str, flag: str) -> list[int]:
    """``"1,8"`` -> ``[1, 8]``: whole numbers from 1 to 1024.

    Raises:
        ConfigError: naming ``flag``, for anything else.
    """
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"{flag}: received {text!r}; expected whole numbers such as 1,8") from None
    if not counts or any(count < 1 or count > 1024 for count in counts):
        raise ConfigError(f"{flag}: received {text!r}; expected numbers from 1 to 1024")
    return counts


def _sinks_from_flags(arguments: argparse.Namespace) -> list[dict[str, Any]]:
    """``--sink``, ``--events``, ``--mqtt``, ``--webhook`` and ``--clips`` as ``output.sinks`` entries."""
    sinks: list[dict[str, Any]] = list(parse_sinks(getattr(arguments, "sinks", None) or [], "--sink"))
    if getattr(arguments, "events_output", None):
        sinks.append({"kind": "events", "path": arguments.events_output})
    if getattr(arguments, "mqtt", None):
        sinks.append({"kind": "mqtt", "options": {"url": arguments.mqtt}})
    for url in getattr(arguments, "webhooks", None) or []:
        sinks.append({"kind": "webhook", "options": {"url": url}})
    if getattr(arguments, "clips", None):
        sinks.append({"kind": "clips", "path": arguments.clips})
    return sinks


def parse_sinks(values: list[str], flag: str) -> list[dict[str, str]]:
    """``["predictions=out.jsonl"]`` -> ``[{"kind": "predictions", "path": "out.jsonl"}]``.

    The kind is a name of :data:`streamcls.config.names.SINKS` or a ``module:Class`` of one's own.

    Raises:
        ConfigError: naming ``flag``, for a value that is not ``KIND=PATH`` or an unknown kind.
    """
    sinks = []
    for value in values:
        kind, separator, path = value.partition("=")
        kind, path = kind.strip(), path.strip()
        if not separator or not kind or not path:
            raise ConfigError(
                f"{flag}: received {value!r}; expected KIND=PATH, e.g. "
                f"{flag} predictions=out.jsonl (kinds: {', '.join(names.SINKS)})"
            )
        names.sink_kind(kind, flag)
        sinks.append({"kind": kind, "path": path})
    return sinks


def config_for_model_argument(arguments: argparse.Namespace, command: str, what: str) -> Any:
    """``config_from`` for commands that take the model as their first argument (``export``, ``evaluate``).

    Raises:
        ConfigError: ``--model`` was given too.
    """
    if arguments.model is not None:
        raise ConfigError(f"{command} takes {what} as its first argument; drop --model")
    arguments.model = arguments.model_path
    return config_from(arguments)
