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
from streamcls.model.build import ModelSpec
from streamcls.model.classify import bucket_sizes
from streamcls.preprocess import PreprocessSpec, preprocess_batch
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


class LiteClassifier:
    """A TFLite flatbuffer as a classifier: preprocessed batches in, probabilities out."""

    def __init__(self, model_path: Path, spec: ModelSpec, batch_size: int = 8, threads: int | None = None,
                 quantization: str = "float32"):
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
        output = self._interpreters[batch_size].get_output_details()[0]
        if tuple(output["shape"])[-1] != spec.num_classes:
            raise ModelError(
                f"{model_path} gives {tuple(output['shape'])[-1]} classes; expected {spec.num_classes}: "
                f"the converted file does not belong to this model (clear the cache folder)"
            )

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.classes

    def classify(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (n, num_classes) float32 for a preprocessed batch of any length n."""
        expected = self.spec.input_size.shape
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ModelError(
                f"received a batch of shape {tuple(images.shape)}; expected (n, {expected[0]}, "
                f"{expected[1]}, 3): preprocess frames with the model's own PreprocessSpec"
            )
        images = np.ascontiguousarray(images, dtype=np.float32)
        results = [self._run(images[start : start + self.batch_size])
                   for start in range(0, len(images), self.batch_size)]
        if not results:
            return np.empty((0, self.spec.num_classes), dtype=np.float32)
        return np.concatenate(results) if len(results) > 1 else results[0]

    def classify_frames(self, frames: list[np.ndarray]) -> np.ndarray:
        return self.classify(preprocess_batch(frames, self.preprocess_spec))

    def warm_up(self) -> None:
        for size in self._interpreters:
            self._run(np.zeros((size, *self.spec.input_size.shape), dtype=np.float32))

    def _run(self, chunk: np.ndarray) -> np.ndarray:
        count = len(chunk)
        size = next(bucket for bucket in self._interpreters if bucket >= count)
        if size != count:
            padded = np.zeros((size, *chunk.shape[1:]), dtype=np.float32)
            padded[:count] = chunk
            chunk = padded
        interpreter = self._interpreters[size]
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], chunk)
        interpreter.invoke()
        # A copy: the interpreter reuses its output buffer on the next call.
        return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))[:count]
