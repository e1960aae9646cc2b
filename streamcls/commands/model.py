"""``streamcls model info`` and ``streamcls model bench``: inspect or benchmark a classifier."""

from __future__ import annotations

import argparse
import json
from typing import Any

from streamcls.commands.options import add_device_flag, add_model_flags, config_from, parse_counts


def add_parser(subcommands: Any) -> None:
    """Add ``model`` and its actions ``info`` and ``bench`` to the CLI's sub-commands."""
    model = subcommands.add_parser("model", help="inspect or benchmark a classifier")
    actions = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")

    info = actions.add_parser("info", help="print backbone, alpha, input size, parameters, classes, MACs, weights")
    add_model_flags(info)
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(handler=handle_info)

    bench = actions.add_parser("bench", help="images/s of the compiled classifier against plain model.predict")
    add_model_flags(bench)
    bench.add_argument("--sizes", default="160,224", help="input sizes, e.g. 160,224 or 240x320 (default 160,224)")
    bench.add_argument("--batch-sizes", default="1,8", help="batch sizes (default 1,8)")
    bench.add_argument("--repeats", type=int, default=5, help="timed repeats per point (median)")
    bench.add_argument("--seconds", type=float, default=0.5, help="seconds per repeat (default 0.5)")
    add_device_flag(bench)
    bench.set_defaults(handler=handle_bench)


def handle_info(arguments: argparse.Namespace) -> int:
    """Print what the configured classifier is, as text or ``--json``."""
    config = config_from(arguments)
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


def handle_bench(arguments: argparse.Namespace) -> int:
    """Print images/s of the compiled classifier against ``model.predict``, per size and batch."""
    from dataclasses import replace

    from streamcls.config import parse_input_size

    sizes = [parse_input_size(size.strip(), "--sizes") for size in arguments.sizes.split(",")]
    batch_sizes = parse_counts(arguments.batch_sizes, "--batch-sizes")
    config = config_from(arguments)
    model_config = config.model
    if arguments.model is None and arguments.config is None and arguments.weights is None:
        # Speed does not depend on weight values: measure without needing a download.
        model_config = replace(model_config, weights="none")
    from streamcls.benchmark.model_speed import bench_model

    print(f"{'input':>9} {'batch':>5} {'compiled img/s':>15} {'spread':>7} {'predict img/s':>14} {'speed-up':>8}")
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
            f"{point.input_size!s:>9} {point.batch_size:>5} "
            f"{point.compiled_images_per_second:>15.1f} {point.compiled_spread:>6.0%} "
            f"{point.predict_images_per_second:>14.1f} {point.speedup:>7.2f}x"
        )
    return 0
