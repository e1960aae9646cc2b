"""``streamcls evaluate``: accuracy, confusion matrix, precision/recall of a bundle on labelled data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from streamcls.commands.options import add_model_flags, config_for_model_argument
from streamcls.errors import ConfigError


def add_parser(subcommands: Any) -> None:
    """Add ``evaluate`` to the CLI's sub-commands."""
    parser = subcommands.add_parser("evaluate", help="accuracy, confusion matrix, precision/recall on labelled data")
    parser.add_argument("model_path", metavar="BUNDLE", help="a trained bundle folder")
    add_model_flags(parser)
    parser.add_argument("--data", help="a folder with one sub-folder of pictures per class")
    parser.add_argument("--segments", help="a segments CSV of labelled videos")
    parser.add_argument("--report", help="also write metrics.json, confusion.txt/png into this folder")
    parser.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Classify the labelled examples with the bundle and print (and write) the metrics."""
    config = config_for_model_argument(arguments, "evaluate", "the bundle")
    import numpy as np

    from streamcls.model.backends.keras import Classifier
    from streamcls.model.load import load_model
    from streamcls.train import examples as gather
    from streamcls.train.load import load_arrays
    from streamcls.train.metrics import format_metrics, measure, write_metrics

    if not arguments.data and not arguments.segments:
        raise ConfigError("evaluate: no data; pass --data FOLDER and/or --segments FILE.csv")
    loaded = load_model(config.model)
    classifier = Classifier.from_loaded(loaded, batch_size=32, device=config.inference.device)
    examples = (gather.from_folder(arguments.data) if arguments.data else []) + (
        gather.from_segments(arguments.segments, config.train.sample_fps) if arguments.segments else []
    )
    unknown = sorted({example.label for example in examples} - set(loaded.spec.classes))
    if unknown:
        raise ConfigError(
            f"labels {', '.join(unknown)} are not classes of this model ({', '.join(loaded.spec.classes)})"
        )
    inputs, labels, unreadable = load_arrays(examples, loaded.spec.classes, classifier.preprocess_spec, "evaluation")
    predicted = classifier.classify(inputs).argmax(axis=1)
    metrics = measure(loaded.spec.classes, labels, np.asarray(predicted))
    print(format_metrics(metrics))
    if unreadable:
        print(f"{unreadable} unreadable examples skipped")
    if arguments.report:
        folder = Path(arguments.report)
        if not folder.parent.is_dir():
            raise ConfigError(f"--report: folder {folder.parent} does not exist; create it first")
        folder.mkdir(exist_ok=True)
        write_metrics(folder, metrics)
        print(f"report in {folder}")
    return 0
