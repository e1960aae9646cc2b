"""Images per second of the compiled classifier against plain ``model.predict``.

Both run the same Keras model on the same synthetic batch in the same process,
one after the other, so their ratio is meaningful on a shared, noisy machine
even when the absolute figures wander. Each figure is the median of several
timed repeats after a warm-up.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from streamcls.benchmark.measure import time_calls
from streamcls.config import InputSize, ModelConfig
from streamcls.model.backends.keras import Classifier
from streamcls.model.load import load_model


@dataclass(frozen=True)
class SpeedPoint:
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
) -> list[SpeedPoint]:
    """Measure every (size, batch size) point; see the module docstring."""
    points = []
    for size in sizes:
        loaded = load_model(replace(config, input_size=size))
        for batch_size in batch_sizes:
            classifier = Classifier.from_loaded(loaded, batch_size=batch_size, device=device)
            batch = np.random.default_rng(0).uniform(-1, 1, (batch_size, *size.shape))
            batch = batch.astype(np.float32)
            compiled = _rates(classifier.classify, (batch,), batch_size, repeats, seconds_per_repeat)
            predict = _rates(loaded.model.predict, (batch, batch_size, 0), batch_size, repeats, seconds_per_repeat)
            median = statistics.median(compiled)
            points.append(
                SpeedPoint(
                    size,
                    batch_size,
                    median,
                    statistics.median(predict),
                    (max(compiled) - min(compiled)) / median,
                )
            )
    return points


def _rates(
    function: Callable[..., object],
    arguments: tuple[object, ...],
    batch_size: int,
    repeats: int,
    seconds_per_repeat: float,
) -> list[float]:
    rates, _calls_ms = time_calls(lambda: function(*arguments), batch_size, repeats, seconds_per_repeat, warm_up=3)
    return rates
