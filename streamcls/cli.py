"""The ``streamcls`` command: argparse subcommands, the only place that prints.

Errors raised as :class:`StreamclsError` become one line on stderr and the
error's exit code; a traceback is shown only with ``--verbose``. Flags mean the
same in every command: ``--model imagenet|BUNDLE``, ``--input-size HxW``,
``--alpha``, ``--weights``, ``--config FILE``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from streamcls.errors import ConfigError, StreamclsError

logger = logging.getLogger("streamcls")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if arguments.verbose else logging.INFO,
        format="streamcls: %(message)s",
    )
    if arguments.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
    try:
        return int(arguments.handler(arguments) or 0)
    except StreamclsError as error:
        if arguments.verbose:
            logger.exception("error")
        print(f"streamcls: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("streamcls: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    from streamcls import __version__

    parser = argparse.ArgumentParser(
        prog="streamcls",
        description="Real-time video classification with a Keras MobileNet at any input size.",
    )
    parser.add_argument("--version", action="version", version=f"streamcls {__version__}")
    parser.set_defaults(verbose=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    model = commands.add_parser("model", help="inspect or benchmark a classifier")
    model_commands = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")

    info = model_commands.add_parser(
        "info", help="print backbone, alpha, input size, parameters, classes, MACs, weights"
    )
    _add_model_flags(info)
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(handler=_model_info)

    bench = model_commands.add_parser(
        "bench", help="images/s of the compiled classifier against plain model.predict"
    )
    _add_model_flags(bench)
    bench.add_argument(
        "--sizes", default="160,224", help="input sizes, e.g. 160,224 or 240x320 (default 160,224)"
    )
    bench.add_argument("--batch-sizes", default="1,8", help="batch sizes (default 1,8)")
    bench.add_argument("--repeats", type=int, default=5, help="timed repeats per point (median)")
    bench.add_argument(
        "--seconds", type=float, default=0.5, help="seconds per repeat (default 0.5)"
    )
    bench.add_argument("--device", choices=["auto", "cpu", "gpu"], default=None)
    bench.set_defaults(handler=_model_bench)
    return parser


def _add_model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config file (flags override it)")
    parser.add_argument(
        "--model", help="'imagenet' (MobileNet's ImageNet classifier) or a bundle folder"
    )
    parser.add_argument("--input-size", help="network input HEIGHTxWIDTH, e.g. 160x160, 240x320")
    parser.add_argument("--alpha", type=float, help="MobileNet width: 0.25, 0.5, 0.75 or 1.0")
    parser.add_argument(
        "--weights", help="backbone weights: imagenet, none, or a .h5/.weights.h5 file"
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="debug logging and tracebacks"
    )


def _config_from(arguments: argparse.Namespace) -> Any:
    """Load ``--config`` and apply the model flags on top of it."""
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
    config = load_config(arguments.config, overrides)
    if config.model.bundle is not None and arguments.weights is not None:
        raise ConfigError(
            "--weights: a bundle carries its own weights; drop --weights, or use --model imagenet"
        )
    return config


def _model_info(arguments: argparse.Namespace) -> int:
    config = _config_from(arguments)
    from streamcls.model.info import describe
    from streamcls.model.load import load_model

    description = describe(load_model(config.model))
    if arguments.json:
        print(json.dumps(description, indent=2))
        return 0
    classes = description["classes"]
    shown = ", ".join(classes[:8]) + (f", ... ({len(classes)} in all)" if len(classes) > 8 else "")
    rows = [
        ("backbone", description["backbone"]),
        ("alpha", description["alpha"]),
        ("input size", f"{description['input_size']} (height x width)"),
        ("head", description["head"]),
        ("classes", shown),
        (
            "parameters",
            f"{description['parameters']:,} ({description['trainable_parameters']:,} trainable)",
        ),
        ("MACs", f"{description['macs'] / 1e6:,.1f} M per image at this size"),
        ("preprocess", description["preprocess"]),
        ("weights", description["weights"]),
    ]
    for name, value in rows:
        print(f"{name:<11} {value}")
    return 0


def _model_bench(arguments: argparse.Namespace) -> int:
    from dataclasses import replace

    from streamcls.config import parse_input_size

    sizes = [parse_input_size(size.strip(), "--sizes") for size in arguments.sizes.split(",")]
    batch_sizes = _parse_counts(arguments.batch_sizes, "--batch-sizes")
    config = _config_from(arguments)
    model_config = config.model
    if arguments.model is None and arguments.config is None and arguments.weights is None:
        # Speed does not depend on weight values: measure without needing a download.
        model_config = replace(model_config, weights="none")
    from streamcls.model.bench import bench_model

    print(
        f"{'input':>9} {'batch':>5} {'compiled img/s':>15} {'spread':>7} "
        f"{'predict img/s':>14} {'speed-up':>8}"
    )
    points = bench_model(
        model_config,
        sizes,
        batch_sizes,
        repeats=arguments.repeats,
        seconds_per_repeat=arguments.seconds,
        device=config.inference.device,
    )
    for point in points:
        print(
            f"{str(point.input_size):>9} {point.batch_size:>5} "
            f"{point.compiled_images_per_second:>15.1f} {point.compiled_spread:>6.0%} "
            f"{point.predict_images_per_second:>14.1f} {point.speedup:>7.2f}x"
        )
    return 0


def _parse_counts(text: str, flag: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"{flag}: received {text!r}; expected whole numbers such as 1,8") from None
    if not counts or any(count < 1 or count > 1024 for count in counts):
        raise ConfigError(f"{flag}: received {text!r}; expected numbers from 1 to 1024")
    return counts
