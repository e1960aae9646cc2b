"""Run metrics from a monotonic clock: sliding FPS, latency percentiles, stage times."""

from __future__ import annotations

import time
from collections import defaultdict, deque

import numpy as np


class SlidingRate:
    """Events per second over the last ``window_s`` seconds (not since start)."""

    def __init__(self, window_s: float = 1.0):
        self.window_s = window_s
        self._times: deque[float] = deque()

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._times.append(now)
        while self._times and self._times[0] < now - self.window_s:
            self._times.popleft()

    def rate(self) -> float | None:
        if len(self._times) < 2:
            return None
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else None


class StageClock:
    """Per-stage totals (milliseconds) and a bounded reservoir of latencies."""

    MAX_LATENCIES = 100_000  # ~1 h at 30 fps; older ones are thinned, memory stays bounded

    def __init__(self) -> None:
        self.totals_ms: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self.latencies_ms: list[float] = []
        self._seen = 0
        self._rng = np.random.default_rng(0)

    def add(self, stage: str, milliseconds: float) -> None:
        self.totals_ms[stage] += milliseconds
        self.counts[stage] += 1

    def add_latency(self, milliseconds: float) -> None:
        # Reservoir sampling keeps a uniform sample of every latency seen.
        self._seen += 1
        if len(self.latencies_ms) < self.MAX_LATENCIES:
            self.latencies_ms.append(milliseconds)
        else:
            slot = int(self._rng.integers(0, self._seen))
            if slot < self.MAX_LATENCIES:
                self.latencies_ms[slot] = milliseconds

    def mean_ms(self) -> dict[str, float]:
        return {stage: self.totals_ms[stage] / self.counts[stage] for stage in self.totals_ms if self.counts[stage]}

    def latency(self, percentile: float) -> float | None:
        if not self.latencies_ms:
            return None
        return float(np.percentile(self.latencies_ms, percentile))
