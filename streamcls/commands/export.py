"""``streamcls export``: write a classifier as TFLite or SavedModel, with its labels."""

from __future__ import annotations

import argparse
from typing import Any

from streamcls.commands.options import add_model_flags, config_for_model_argument
from streamcls.errors import ConfigError


def add_parser(subcommands: Any) -> None:
    """Add ``export`` to the CLI's sub-commands."""
    # A light import: the exporter imports TensorFlow and NumPy only when it exports.
    from streamcls.model.export import FORMATS, QUANTIZE

    export = subcommands.add_parser("export", help="write a classifier as TFLite or SavedModel, with its labels")
    export.add_argument("model_path", metavar="BUNDLE", help="a bundle folder, or 'imagenet'")
    add_model_flags(export)
    export.add_argument("--format", dest="export_format", choices=list(FORMATS), required=True)
    export.add_argument("--quantize", default="float32", choices=list(QUANTIZE))
    export.add_argument("--calibration", help="int8: a video or image folder with frames like the real ones")
    export.add_argument("--calibration-frames", type=int, default=200)
    export.add_argument("--output", required=True, help="the folder to write (model, labels.txt, manifest)")
    export.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Export the model named by the first argument to ``--output``."""
    config = config_for_model_argument(arguments, "export", "the model (BUNDLE or imagenet)")
    from streamcls.model.export import export_model
    from streamcls.model.load import load_model

    if arguments.export_format == "saved_model" and arguments.quantize != "float32":
        raise ConfigError("--quantize applies to --format tflite; a SavedModel keeps float32 weights")
    calibration = None
    if arguments.quantize == "int8":
        if not arguments.calibration:
            raise ConfigError("--quantize int8 needs --calibration VIDEO|IMAGE_FOLDER with frames like the real ones")
        from streamcls.model.convert import split_calibration
        from streamcls.sources.sample import sample_frames

        calibration, _ = split_calibration(sample_frames(arguments.calibration, arguments.calibration_frames))
    loaded = load_model(config.model)
    path = export_model(loaded, arguments.output, arguments.export_format, arguments.quantize, calibration)
    print(
        f"wrote {path} ({arguments.export_format}, {arguments.quantize}, input {loaded.spec.input_size}, "
        f"{loaded.spec.num_classes} classes) with labels.txt and streamcls-export.json"
    )
    return 0
