"""``streamcls demo``: the pipeline on the bundled sample clip (no camera, network or download)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from streamcls.errors import ConfigError

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def add_parser(subcommands: Any) -> None:
    """Add ``demo`` to the CLI's sub-commands."""
    demo = subcommands.add_parser(
        "demo", help="run the pipeline on the bundled sample clip (no camera, network, download)"
    )
    demo.add_argument("--output", default="streamcls-demo", help="folder for the annotated video and predictions")
    demo.add_argument("--no-display", action="store_true", help="do not open a window")
    demo.set_defaults(handler=handle, verbose=False)


def handle(arguments: argparse.Namespace) -> int:
    """The pipeline on the bundled sample clip with the bundled demo classifier: no camera, network or download."""
    from streamcls.commands.console import print_summary
    from streamcls.config import load_config
    from streamcls.pipeline import Pipeline

    bundle, clip = SAMPLES / "demo-bundle", SAMPLES / "demo-clip.mp4"
    for needed in (bundle, clip):
        if not needed.exists():
            raise ConfigError(
                f"demo: {needed} is missing; run the demo from a clone of the streamcls repository "
                f"(pip install -e .), where samples/ holds the demo clip and bundle"
            )
    output = Path(arguments.output)
    if not output.parent.is_dir():
        raise ConfigError(f"--output: folder {output.parent} does not exist; create it first")
    output.mkdir(exist_ok=True)
    video, predictions, segments_path = (
        output / "annotated.mp4",
        output / "predictions.jsonl",
        output / "segments.csv",
    )
    config = load_config(
        None,
        {
            "model.bundle": str(bundle),
            "source.uri": str(clip),
            "output.video": str(video),
            "output.predictions": str(predictions),
            "output.segments": str(segments_path),
            "output.display": not arguments.no_display,
            "output.progress": False,
            "inference.batch_size": 8,
            # Steady labels: an average over ~3 frames, and a label change only
            # when another class leads by 0.2 for 3 frames in a row.
            "postprocess.smoothing": "ema",
            "postprocess.ema_alpha": 0.5,
            "postprocess.hysteresis": {"margin": 0.2, "frames": 3},
        },
    )
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
    print_summary(summary, interrupted=False)
    print(
        f"accuracy    {correct / max(total, 1):.1%} of {total} frames match the clip's labelled segments "
        f"({steady / max(total, 1):.1%} for the steady label, which lags a boundary by a few frames)"
    )
    print(f"truth       {len(truth)} labelled segments in the clip")
    print(f"annotated video  {video}\npredictions      {predictions}\nsegments         {segments_path}")
    return 0
