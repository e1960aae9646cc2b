"""Run a converted classifier with the LiteRT interpreter, behind ``Classifier``'s interface.

``ai-edge-litert`` is preferred; ``tf.lite.Interpreter`` serves where only
TensorFlow is installed. XNNPACK runs the float and int8 kernels; the thread
count is explicit because the interpreter is single-threaded by default.
Like the Keras classifier, one interpreter per bucket batch size (1, 2, 4 ...)
is prepared up front: a live run's single frames are not padded to 8.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from streamcls.errors import ModelError
from streamcls.model.backends.keras import BucketedClassifier, bucket_sizes
from streamcls.model.build import ModelSpec
from streamcls.preprocess import PreprocessSpec
from streamcls.quiet import quiet_native_stderr


def interpreter_class() -> tuple[Any, str]:
    """The interpreter class and the runtime's name."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "LiteRT"
    except ImportError:
        from streamcls.model.runtime import import_tensorflow

        return import_tensorflow().lite.Interpreter, "tf.lite"


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class LiteClassifier(BucketedClassifier):
    """A TFLite flatbuffer as a classifier: preprocessed batches in, probabilities out."""

    def __init__(
        self,
        model_path: Path,
        spec: ModelSpec,
        batch_size: int = 8,
        threads: int | None = None,
        quantization: str = "float32",
    ):
        interpreter_type, runtime = interpreter_class()
        self.spec = spec
        self.batch_size = batch_size
        self.threads = threads or available_cores()
        self.quantization = quantization
        self.preprocess_spec = PreprocessSpec(spec.input_size, spec.preprocess)
        self.device = f"/CPU:0 ({runtime} {quantization}, XNNPACK, {self.threads} threads)"
        content = Path(model_path).read_bytes()
        self._interpreters: dict[int, Any] = {}
        for size in bucket_sizes(batch_size):
            with quiet_native_stderr():  # "INFO: Created TensorFlow Lite XNNPACK delegate", per interpreter
                interpreter = interpreter_type(model_content=content, num_threads=self.threads)
                input_index = interpreter.get_input_details()[0]["index"]
                interpreter.resize_tensor_input(input_index, (size, *spec.input_size.shape), strict=False)
                interpreter.allocate_tensors()
            self._interpreters[size] = interpreter
        self.buckets = tuple(self._interpreters)
        output = self._interpreters[batch_size].get_output_details()[0]
        if tuple(output["shape"])[-1] != spec.num_classes:
            raise ModelError(
                f"{model_path} gives {tuple(output['shape'])[-1]} classes; expected {spec.num_classes}: "
                f"the converted file does not belong to this model (clear the cache folder)"
            )

    def _run_bucket(self, size: int, batch: np.ndarray) -> np.ndarray:
        interpreter = self._interpreters[size]
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
        interpreter.invoke()
        # A copy: the interpreter reuses its output buffer on the next call.
        return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


def build(loaded: Any, inference: Any, calibration: list[np.ndarray], quantization: str = "float32") -> LiteClassifier:
    """The registry's factory for the ``tflite*`` backends: convert (cached), then interpret.

    ``calibration``: the frames int8 quantization is calibrated on.
    """
    from streamcls.model.convert import converted_model

    path = converted_model(loaded, quantization, calibration if quantization == "int8" else None)
    return LiteClassifier(
        path, loaded.spec, batch_size=inference.batch_size, threads=inference.threads, quantization=quantization
    )


def missing_runtime() -> str | None:
    """None when an interpreter is here (see :func:`interpreter_class`), else why not and the fix.

    The reason reads "what is missing; how to fix it", the fix after the last "; ".
    """
    try:
        interpreter_class()
    except Exception:  # noqa: BLE001  a broken install fails in many ways; absent either way
        return "needs LiteRT; neither ai_edge_litert nor tf.lite is here; pip install ai-edge-litert"
    return None
