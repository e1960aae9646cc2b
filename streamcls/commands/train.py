"""``streamcls train``: train a classifier on your own classes; flags in, a bundle and one summary out."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from streamcls.commands.options import add_model_flags, config_from
from streamcls.errors import ConfigError


def add_parser(subcommands: Any) -> None:
    """Add ``train`` to the CLI's sub-commands."""
    parser = subcommands.add_parser(
        "train", help="train a classifier on your own classes (folders and/or labelled videos)"
    )
    add_model_flags(parser)
    parser.add_argument("--data", help="a folder with one sub-folder of pictures per class")
    parser.add_argument("--segments", help="a segments CSV (video,start,end,label) of labelled videos")
    parser.add_argument("--output", required=True, help="the bundle folder to write")
    parser.add_argument("--epochs", type=int, help="head epochs (default 10)")
    parser.add_argument("--fine-tune-blocks", type=int, help="then train the top N of 13 backbone blocks (0: off)")
    parser.add_argument("--fine-tune-epochs", type=int, help="epochs of the fine-tuning phase (default 5)")
    parser.add_argument("--batch-size", type=int, help="training batch size (default 32)")
    parser.add_argument("--validation", help="an explicit validation folder instead of a split")
    parser.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Train, write the bundle to ``--output`` and print its metrics."""
    config = config_from(arguments)
    from dataclasses import replace

    from streamcls.train.fit import train

    changes = {
        key: value
        for key, value in (
            ("epochs", arguments.epochs),
            ("batch_size", arguments.batch_size),
            ("fine_tune_blocks", arguments.fine_tune_blocks),
            ("fine_tune_epochs", arguments.fine_tune_epochs),
            ("validation_data", arguments.validation),
        )
        if value is not None
    }
    if changes:
        from streamcls.config import load_config

        # Checked like a config file's values (ranges, types), then laid over the config.
        checked = load_config(None, {f"train.{key}": value for key, value in changes.items()}).train
        config = replace(config, train=replace(config.train, **{key: getattr(checked, key) for key in changes}))
    output = Path(arguments.output)
    if not output.parent.is_dir():
        raise ConfigError(f"--output: folder {output.parent} does not exist; create it first")
    result = train(config, arguments.data, arguments.segments, output)
    from streamcls.train.metrics import format_metrics

    print(format_metrics(result.metrics))
    print(
        f"\nwrote bundle {result.bundle} ({result.train_examples} training, {result.validation_examples} validation "
        f"examples{f', {result.unreadable} unreadable skipped' if result.unreadable else ''}; "
        f"{result.seconds:.0f} s); report in {result.bundle / 'training'}"
    )
    return 0
