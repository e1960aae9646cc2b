"""What one measured point of a sweep holds; the sweep produces them, the report reads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from streamcls.config import names

BACKENDS = tuple(names.BACKENDS)  # the registry's names, in its order
Mode = Literal["model", "end_to_end", "naive", "decode"]


@dataclass(frozen=True)
class BenchPoint:
    """One (backend, input size, batch size, mode) measurement.

    ``mode``: ``model`` is the classifier alone on a synthetic batch; ``end_to_end``
    the whole pipeline on the source (capture to overlay); ``naive`` the tutorial
    loop (read, resize, ``model.predict`` one frame, draw); ``decode`` only reading
    the source, the bound no pipeline can beat.
    """

    backend: str
    height: int
    width: int
    batch_size: int
    mode: Mode
    throughput_fps: float
    spread: float | None = None  # (max - min) / median over the repeats
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    macs: int | None = None
    peak_memory_mb: float | None = None  # the process's peak resident memory while this point ran
    accuracy: float | None = None  # top-1 on the labelled source, when one was given
    agreement_top1: float | None = None  # converted backends: top-1 agreement with Keras float32
    max_probability_difference: float | None = None
    device: str = "/CPU:0"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def input_size(self) -> str:
        return f"{self.height}x{self.width}"
