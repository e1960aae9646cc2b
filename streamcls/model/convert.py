"""Convert a classifier for the LiteRT (TFLite) interpreter, and cache the result.

Quantisations: ``float32``; ``float16`` weights; ``dynamic`` (int8 weights, float
activations); ``int8`` (weights and activations, calibrated on real frames;
input and output stay float32 so every backend takes the same preprocessed
batch). The input size is fixed at conversion; the batch dimension is left
open and set by the interpreter.

Converting MobileNet takes seconds, so results are cached on disk under a key
made of the model's weights, its spec, the quantisation and (int8) the
calibration frames: a sweep converts each point once, and a changed model
never reuses a stale file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np

from streamcls.errors import ConfigError, ModelError
from streamcls.model.build import LoadedModel
from streamcls.model.runtime import import_tensorflow
from streamcls.preprocess import PreprocessSpec, preprocess_batch

logger = logging.getLogger(__name__)

QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")
HELD_OUT_EVERY = 5  # every 5th calibration frame is kept out, to measure agreement on


def cache_folder() -> Path:
    """``$STREAMCLS_CACHE`` or ``~/.cache/streamcls``, then ``tflite``."""
    root = os.environ.get("STREAMCLS_CACHE") or Path.home() / ".cache" / "streamcls"
    return Path(root) / "tflite"


def split_calibration(frames: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(calibrate on, held out): every ``HELD_OUT_EVERY``-th frame is held out."""
    held_out = frames[HELD_OUT_EVERY - 1 :: HELD_OUT_EVERY]
    calibrate = [frame for index, frame in enumerate(frames) if (index + 1) % HELD_OUT_EVERY]
    return calibrate, held_out


def model_digest(loaded: LoadedModel) -> str:
    """A digest of what the model computes: its spec and every weight."""
    digest = hashlib.sha256(json.dumps(asdict(loaded.spec), sort_keys=True, default=str).encode())
    for weight in loaded.model.weights:
        digest.update(weight.path.encode())
        digest.update(np.ascontiguousarray(np.asarray(weight.numpy())).tobytes())
    return digest.hexdigest()


def converted_model(loaded: LoadedModel, quantization: str, calibration: list[np.ndarray] | None = None) -> Path:
    """The path of the converted flatbuffer, converting only on a cache miss.

    Args:
        loaded: the Keras classifier.
        quantization: one of ``QUANTIZATIONS``.
        calibration: BGR frames for ``int8`` (the representative dataset).

    Raises:
        ConfigError: ``int8`` without calibration frames.
        ModelError: the converter failed.
    """
    if quantization not in QUANTIZATIONS:
        raise ConfigError(f"quantization: received {quantization!r}; expected one of {', '.join(QUANTIZATIONS)}")
    if quantization == "int8" and not calibration:
        raise ConfigError(
            "int8 needs calibration frames: pass --calibration VIDEO|IMAGE_FOLDER "
            "(inference.calibration) with frames like the ones you will classify"
        )
    key = hashlib.sha256(f"{model_digest(loaded)}/{quantization}".encode())
    if quantization == "int8":
        for frame in calibration or []:
            key.update(np.ascontiguousarray(frame).tobytes())
    spec = loaded.spec
    path = cache_folder() / f"mobilenet-{spec.input_size}-{quantization}-{key.hexdigest()[:16]}.tflite"
    if path.is_file():
        logger.debug("using the cached conversion %s", path)
        return path
    logger.info("converting the classifier at %s to TFLite %s (cached for next time)", spec.input_size, quantization)
    flatbuffer = convert(loaded, quantization, calibration)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(f".{os.getpid()}.partial")
    staging.write_bytes(flatbuffer)
    staging.replace(path)  # never a half-written model under the final name
    return path


def convert(loaded: LoadedModel, quantization: str, calibration: list[np.ndarray] | None = None) -> bytes:
    """The TFLite flatbuffer for ``loaded`` at its input size (no caching)."""
    tensorflow = import_tensorflow()
    converter = tensorflow.lite.TFLiteConverter.from_keras_model(loaded.model)
    if quantization in ("float16", "dynamic", "int8"):
        converter.optimizations = [tensorflow.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tensorflow.float16]
    if quantization == "int8":
        batch = preprocess_batch(calibration or [], PreprocessSpec(loaded.spec.input_size, loaded.spec.preprocess))

        def representative() -> Iterator[list[np.ndarray]]:
            for image in batch:
                yield [image[None]]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tensorflow.lite.OpsSet.TFLITE_BUILTINS_INT8]
    import contextlib
    import io

    from streamcls.quiet import quiet_native_stderr

    try:
        # The converter's MLIR chatter goes to the native stderr, and Keras' export prints
        # "Saved artifact at ..." with every captured tensor to Python's stdout.
        with quiet_native_stderr(), contextlib.redirect_stdout(io.StringIO()):
            return converter.convert()
    except Exception as error:  # the converter raises many unrelated types
        raise ModelError(f"TFLite conversion ({quantization}) failed: {str(error).splitlines()[0]}") from error
