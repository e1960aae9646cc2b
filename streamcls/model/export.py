"""Write a classifier for deployment elsewhere: a TFLite flatbuffer or a TensorFlow SavedModel.

The output is a folder holding the model, ``labels.txt`` (one class per line,
in output order) and ``streamcls-export.json``, which says what the model
expects: input size, colour order, scaling and resize mode. Without that, the
first thing a deployment gets wrong is the preprocessing.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from streamcls.errors import ConfigError

if TYPE_CHECKING:  # the CLI reads FORMATS and QUANTIZE to build its parser: importing stays light
    import numpy as np

    from streamcls.model.build import LoadedModel

FORMATS = ("tflite", "saved_model")
QUANTIZE = ("float32", "float16", "dynamic", "int8")
MANIFEST = "streamcls-export.json"


def export_model(
    loaded: LoadedModel,
    output: str | Path,
    export_format: str,
    quantize: str = "float32",
    calibration: list[np.ndarray] | None = None,
) -> Path:
    """Write ``loaded`` to the folder ``output``; return the model file's path.

    Raises:
        ConfigError: unknown format or quantisation, quantising a SavedModel, int8 without
            calibration frames, or an output that exists and is not an earlier export.
    """
    if export_format not in FORMATS:
        raise ConfigError(f"--format: received {export_format!r}; expected tflite or saved_model")
    if quantize not in QUANTIZE:
        raise ConfigError(f"--quantize: received {quantize!r}; expected float16, dynamic or int8")
    if export_format == "saved_model" and quantize != "float32":
        raise ConfigError("--quantize applies to --format tflite; a SavedModel keeps float32 weights")
    output = Path(output)
    if output.exists() and not (output / MANIFEST).is_file():
        raise ConfigError(f"--output: {output} exists and is not a streamcls export; choose a new folder")
    if not output.parent.is_dir():
        raise ConfigError(f"--output: folder {output.parent} does not exist; create it first")
    staging = output.with_name(output.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        if export_format == "tflite":
            from streamcls.model.convert import converted_model

            model_file = staging / "model.tflite"
            shutil.copyfile(converted_model(loaded, quantize, calibration), model_file)
        else:
            from streamcls.quiet import quiet_native_stderr

            model_file = staging / "saved_model"
            with quiet_native_stderr():
                loaded.model.export(str(model_file), format="tf_saved_model", verbose=False)
        (staging / "labels.txt").write_text("\n".join(loaded.spec.classes) + "\n", encoding="utf-8")
        (staging / MANIFEST).write_text(json.dumps(_manifest(loaded, export_format, quantize), indent=2) + "\n")
        shutil.rmtree(output, ignore_errors=True)
        staging.rename(output)  # all or nothing: never a half-written export under the final name
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return output / model_file.name


def _manifest(loaded: LoadedModel, export_format: str, quantize: str) -> dict:
    spec = loaded.spec
    return {
        "format": export_format,
        "quantize": quantize,
        "input": {
            "height": spec.input_size.height,
            "width": spec.input_size.width,
            "channels": 3,
            "dtype": "float32",
            "color_order": "RGB",
            "scale": "pixel / 127.5 - 1 (range [-1, 1])",
            "resize_mode": spec.preprocess.resize_mode,
            "interpolation": spec.preprocess.interpolation,
        },
        "output": {
            "dtype": "float32",
            "meaning": "class probabilities (softmax), in labels.txt order",
            "classes": len(spec.classes),
        },
        "model": json.loads(json.dumps(asdict(spec), default=str)),
        "weights": loaded.weights_origin,
    }
