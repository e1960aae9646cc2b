"""The compiled inference callable: preprocessed batches in, probabilities out.

Not ``model.predict``: that builds a data pipeline on every call, which costs
more than the network itself for one small batch. Here the model is traced
once per *bucket* batch size (1, 2, 4, ... up to ``batch_size``) into a
concrete ``tf.function`` with a fixed input signature; a short batch is padded
to the next bucket, so nothing is ever retraced while running and padding
wastes at most half a batch. All buckets are traced up front.

Example::

    classifier = Classifier.from_loaded(load_model(config.model), batch_size=8)
    probabilities = classifier.classify_frames([frame_bgr])   # (1, num_classes)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streamcls.errors import ModelError
from streamcls.model.build import ModelSpec
from streamcls.model.runtime import import_tensorflow, resolve_device
from streamcls.preprocess import PreprocessSpec, preprocess_batch


def bucket_sizes(batch_size: int) -> tuple[int, ...]:
    """Powers of two below ``batch_size``, then ``batch_size`` itself: 8 -> (1, 2, 4, 8)."""
    sizes = []
    size = 1
    while size < batch_size:
        sizes.append(size)
        size *= 2
    sizes.append(batch_size)
    return tuple(sizes)


class BucketedClassifier:
    """What every backend shares: split into batches, pad each to its bucket, run, trim.

    Subclasses set ``spec``, ``batch_size``, ``preprocess_spec`` and ``buckets`` and
    implement ``_run_bucket``, which runs one full bucket-sized batch.
    """

    spec: ModelSpec
    batch_size: int
    preprocess_spec: PreprocessSpec
    buckets: tuple[int, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.classes

    def classify(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (n, num_classes) float32 for a preprocessed batch of any length n.

        Raises:
            ModelError: the batch does not have the model's input shape.
        """
        expected = self.spec.input_size.shape
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ModelError(
                f"received a batch of shape {tuple(images.shape)}; expected (n, "
                f"{expected[0]}, {expected[1]}, 3): preprocess frames with the model's "
                f"own PreprocessSpec (input size {self.spec.input_size})"
            )
        images = np.ascontiguousarray(images, dtype=np.float32)
        results = [
            self._run(images[start : start + self.batch_size]) for start in range(0, len(images), self.batch_size)
        ]
        if not results:
            return np.empty((0, self.spec.num_classes), dtype=np.float32)
        return np.concatenate(results) if len(results) > 1 else results[0]

    def classify_frames(self, frames: list[np.ndarray]) -> np.ndarray:
        """Preprocess BGR uint8 frames with the model's own spec, then classify them."""
        return self.classify(preprocess_batch(frames, self.preprocess_spec))

    def warm_up(self) -> None:
        """Run every bucket once, so the first real batch is not the slow one."""
        for size in self.buckets:
            self._run(np.zeros((size, *self.spec.input_size.shape), dtype=np.float32))

    def _run(self, chunk: np.ndarray) -> np.ndarray:
        count = len(chunk)
        size = next(bucket for bucket in self.buckets if bucket >= count)
        if size != count:
            padded = np.zeros((size, *chunk.shape[1:]), dtype=np.float32)
            padded[:count] = chunk
            chunk = padded
        return self._run_bucket(size, chunk)[:count]

    def _run_bucket(self, size: int, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Classifier(BucketedClassifier):
    """Runs a Keras classifier as compiled functions of fixed batch shapes."""

    def __init__(self, model: Any, spec: ModelSpec, batch_size: int = 8, device: str = "auto"):
        """
        Args:
            model: a Keras model taking (n, height, width, 3) float32 in [-1, 1].
            spec: what the model is (input size, classes, preprocessing).
            batch_size: the largest batch one call runs.
            device: ``auto``, ``cpu`` or ``gpu``.

        Raises:
            DeviceError: ``gpu`` asked for and not present.
        """
        tensorflow = import_tensorflow()
        self.model = model
        self.spec = spec
        self.batch_size = batch_size
        self.device = resolve_device(device)
        self.preprocess_spec = PreprocessSpec(spec.input_size, spec.preprocess)
        self._tensorflow = tensorflow

        def forward(images: Any) -> Any:
            return model(images, training=False)

        traced = tensorflow.function(forward, jit_compile=False, autograph=False)
        self._traced = traced
        height, width, channels = spec.input_size.shape
        self._functions = {}
        with tensorflow.device(self.device):
            for size in bucket_sizes(batch_size):
                signature = tensorflow.TensorSpec((size, height, width, channels), tensorflow.float32)
                self._functions[size] = traced.get_concrete_function(signature)
        self.buckets = tuple(self._functions)

    @classmethod
    def from_loaded(cls, loaded: Any, batch_size: int = 8, device: str = "auto") -> Classifier:
        """From a :class:`streamcls.model.load.LoadedModel`."""
        return cls(loaded.model, loaded.spec, batch_size=batch_size, device=device)

    def _run_bucket(self, size: int, batch: np.ndarray) -> np.ndarray:
        with self._tensorflow.device(self.device):
            output = self._functions[size](self._tensorflow.constant(batch))
        return np.asarray(output)


def build(loaded: Any, inference: Any, calibration: list[np.ndarray]) -> Classifier:
    """The registry's factory for ``keras``: the compiled model on ``inference.device``."""
    return Classifier.from_loaded(loaded, batch_size=inference.batch_size, device=inference.device)


def missing_runtime() -> str | None:
    """None when TensorFlow and Keras are installed, else why not and the fix.

    Only looks for the packages (no import): a broken install is reported where it
    is imported. The reason reads "what is missing; how to fix it".
    """
    from importlib.util import find_spec

    absent = [name for name in ("tensorflow", "keras") if find_spec(name) is None]
    if not absent:
        return None
    return (
        f"needs TensorFlow and Keras; {' and '.join(absent)} not installed; "
        f"pip install 'tensorflow>=2.16,<3' 'keras>=3.3,<4'"
    )
