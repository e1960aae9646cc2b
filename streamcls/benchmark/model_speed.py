"""Images per second of the compiled classifier against plain ``model.predict``.

Both run the same Keras model on the same synthetic batch in the same process,
one after the other, so their ratio is meaningful on a shared, noisy machine
even when the absolute figures wander. Each figure is the median of several
timed repeats after a warm-up.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from streamcls.config import InputSize, ModelConfig
from streamcls.model.backends.keras import Classifier
from streamcls.model.load import load_model


@dataclass(frozen=True)
class BenchPoint:
    """One measured (input size, batch size) point."""

    input_size: InputSize
    batch_size: int
    compiled_images_per_second: float
    predict_images_per_second: float
    compiled_spread: float  # (max - min) / median over the repeats

    @property
    def speedup(self) -> float:
        return self.compiled_images_per_second / self.predict_images_per_second


def bench_model(
    config: ModelConfig,
    sizes: list[InputSize],
    batch_sizes: list[int],
    repeats: int = 5,
    seconds_per_repeat: float = 0.5,
    device: str = "auto",
) -> list[BenchPoint]:
    """Measure every (size, batch size) point; see the module docstring."""
    points = []
    for size in sizes:
        loaded = load_model(replace(config, input_size=size))
        for batch_size in batch_sizes:
            classifier = Classifier.from_loaded(loaded, batch_size=batch_size, device=device)
            batch = np.random.default_rng(0).uniform(-1, 1, (batch_size, *size.shape))
            batch = batch.astype(np.float32)
            compiled = _images_per_second(
                lambda: classifier.classify(batch), batch_size, repeats, seconds_per_repeat
            )
            predict = _images_per_second(
                lambda: loaded.model.predict(batch, batch_size=batch_size, verbose=0),
                batch_size,
                repeats,
                seconds_per_repeat,
            )
            median = statistics.median(compiled)
            points.append(
                BenchPoint(
                    size,
                    batch_size,
                    median,
                    statistics.median(predict),
                    (max(compiled) - min(compiled)) / median,
                )
            )
    return points


def _images_per_second(
    call: Callable[[], object], batch_size: int, repeats: int, seconds_per_repeat: float
) -> list[float]:
    for _ in range(3):  # warm-up: tracing, oneDNN primitive caches
        call()
    rates = []
    for _ in range(repeats):
        calls = 0
        start = time.perf_counter()
        while True:
            call()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds_per_repeat:
                break
        rates.append(calls * batch_size / elapsed)
    return rates
