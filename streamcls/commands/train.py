"""``streamcls train``, ``streamcls evaluate`` and ``streamcls demo``: flags in, files and one summary out."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from streamcls.errors import ConfigError

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="a folder with one sub-folder of pictures per class")
    parser.add_argument("--segments", help="a segments CSV (video,start,end,label) of labelled videos")
    parser.add_argument("--output", required=True, help="the bundle folder to write")
    parser.add_argument("--epochs", type=int, help="head epochs (default 10)")
    parser.add_argument("--fine-tune-blocks", type=int, help="then train the top N of 13 backbone blocks (0: off)")
    parser.add_argument("--fine-tune-epochs", type=int, help="epochs of the fine-tuning phase (default 5)")
    parser.add_argument("--batch-size", type=int, help="training batch size (default 32)")
    parser.add_argument("--validation", help="an explicit validation folder instead of a split")


def train_command(arguments: argparse.Namespace, config: Any) -> int:
    from dataclasses import replace

    from streamcls.train.fit import train

    changes = {key: value for key, value in (("epochs", arguments.epochs), ("batch_size", arguments.batch_size),
                                             ("fine_tune_blocks", arguments.fine_tune_blocks),
                                             ("fine_tune_epochs", arguments.fine_tune_epochs),
                                             ("validation_data", arguments.validation)) if value is not None}
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
    print(f"\nwrote bundle {result.bundle} ({result.train_examples} training, {result.validation_examples} validation "
          f"examples{f', {result.unreadable} unreadable skipped' if result.unreadable else ''}; "
          f"{result.seconds:.0f} s); report in {result.bundle / 'training'}")
    return 0


def evaluate_command(arguments: argparse.Namespace, config: Any) -> int:
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
    examples = (gather.from_folder(arguments.data) if arguments.data else []) + \
        (gather.from_segments(arguments.segments, config.train.sample_fps) if arguments.segments else [])
    unknown = sorted({example.label for example in examples} - set(loaded.spec.classes))
    if unknown:
        raise ConfigError(f"labels {', '.join(unknown)} are not classes of this model ({', '.join(loaded.spec.classes)})")
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


def demo_command(arguments: argparse.Namespace) -> int:
    """The pipeline on the bundled sample clip with the bundled demo classifier: no camera, network or download."""
    from streamcls.config import load_config
    from streamcls.pipeline import Pipeline

    bundle, clip = SAMPLES / "demo-bundle", SAMPLES / "demo-clip.mp4"
    for needed in (bundle, clip):
        if not needed.exists():
            raise ConfigError(f"demo: {needed} is missing; run the demo from a clone of the streamcls repository "
                              f"(pip install -e .), where samples/ holds the demo clip and bundle")
    output = Path(arguments.output)
    if not output.parent.is_dir():
        raise ConfigError(f"--output: folder {output.parent} does not exist; create it first")
    output.mkdir(exist_ok=True)
    video, predictions, segments_path = (output / "annotated.mp4", output / "predictions.jsonl",
                                         output / "segments.csv")
    config = load_config(None, {"model.bundle": str(bundle), "source.uri": str(clip), "output.video": str(video),
                                "output.predictions": str(predictions), "output.segments": str(segments_path),
                                "output.display": not arguments.no_display, "output.progress": False,
                                "inference.batch_size": 8,
                                # Steady labels: an average over ~3 frames, and a label change only
                                # when another class leads by 0.2 for 3 frames in a row.
                                "postprocess.smoothing": "ema", "postprocess.ema_alpha": 0.5,
                                "postprocess.hysteresis": {"margin": 0.2, "frames": 3}})
    from streamcls.ground_truth import label_at, read_segments

    truth = read_segments(clip.with_suffix(".csv"))  # the clip's true labels (frame indices), to score the run
    correct = steady = total = 0
    with Pipeline(config) as pipeline:
        for prediction in pipeline:
            expected = label_at(truth, clip, prediction.frame_index, None)
            total += 1
            correct += prediction.label == expected
            steady += prediction.shown_label == expected
    summary = pipeline.summary()
    from streamcls.cli import _print_summary

    _print_summary(summary, interrupted=False)
    print(f"accuracy    {correct / max(total, 1):.1%} of {total} frames match the clip's labelled segments "
          f"({steady / max(total, 1):.1%} for the steady label, which lags a boundary by a few frames)")
    print(f"truth       {len(truth)} labelled segments in the clip")
    print(f"annotated video  {video}\npredictions      {predictions}\nsegments         {segments_path}")
    return 0
