"""Probabilities -> labels: top-k, a score threshold, optional temporal smoothing."""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from streamcls.config import PostprocessConfig
from streamcls.frames import Classified, Prediction

UNKNOWN = "unknown"


class Postprocessor:
    """Turns classified frames of one source into predictions, in order.

    Smoothing is a moving average of the probability vectors over the last
    ``smoothing_window`` frames; it keeps state, so one instance per source.
    """

    def __init__(self, labels: tuple[str, ...], config: PostprocessConfig):
        self.labels = labels
        self.config = config
        self.top_k = min(config.top_k, len(labels))
        self._window: deque[np.ndarray] = deque(maxlen=config.smoothing_window)
        self._window_sum: np.ndarray | None = None

    def predict(self, classified: Classified) -> Prediction:
        probabilities = classified.probabilities
        order = np.argsort(probabilities)[::-1][: self.top_k]
        top_k = tuple((self.labels[i], float(probabilities[i])) for i in order)
        best_label, best_score = top_k[0]
        label = best_label if best_score >= self.config.threshold else UNKNOWN
        smoothed_label = smoothed_score = None
        if self.config.smoothing_window > 1:
            smoothed = self._smooth(probabilities)
            index = int(np.argmax(smoothed))
            smoothed_score = float(smoothed[index])
            smoothed_label = self.labels[index] if smoothed_score >= self.config.threshold else UNKNOWN
        frame = classified.frame
        return Prediction(
            source_id=frame.source_id,
            frame_index=frame.index,
            position_ms=frame.position_ms,
            top_k=top_k,
            label=label,
            score=best_score,
            smoothed_label=smoothed_label,
            smoothed_score=smoothed_score,
            latency_ms=(time.monotonic() - frame.captured_at) * 1000,
            timings={
                "preprocess_ms": classified.preprocess_ms,
                "queue_wait_ms": classified.queue_wait_ms,
                "inference_ms": classified.inference_ms,
            },
        )

    def _smooth(self, probabilities: np.ndarray) -> np.ndarray:
        # A running sum: O(classes) per frame whatever the window.
        values = probabilities.astype(np.float64)
        if self._window_sum is None:
            self._window_sum = np.zeros_like(values)
        if len(self._window) == self._window.maxlen:
            self._window_sum -= self._window[0]
        self._window.append(values)
        self._window_sum += values
        return self._window_sum / len(self._window)
