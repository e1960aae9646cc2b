"""Probabilities -> labels: top-k, a score threshold, then smoothing and hysteresis over time."""

from __future__ import annotations

import time

import numpy as np

from streamcls.config import PostprocessConfig
from streamcls.frames import Classified, Prediction
from streamcls.postprocess.temporal import Hysteresis, make_smoother

UNKNOWN = "unknown"


class Postprocessor:
    """Turns classified frames of one source into predictions, in order.

    ``label``/``score`` are the frame's own top class. With smoothing or
    hysteresis configured, ``smoothed_label``/``smoothed_score`` are the shown
    label (after both) and its smoothed probability. They keep state, so one
    instance per source.
    """

    def __init__(self, labels: tuple[str, ...], config: PostprocessConfig):
        self.labels = labels
        self.config = config
        self.top_k = min(config.top_k, len(labels))
        self._smoother = make_smoother(config)
        self._hysteresis = Hysteresis(config.hysteresis, config.threshold)

    def predict(self, classified: Classified) -> Prediction:
        probabilities = classified.probabilities
        order = np.argsort(probabilities)[::-1][: self.top_k]
        top_k = tuple((self.labels[i], float(probabilities[i])) for i in order)
        best_label, best_score = top_k[0]
        label = best_label if best_score >= self.config.threshold else UNKNOWN
        smoothed_label = smoothed_score = None
        if self.config.temporal:
            smoothed = self._smoother.update(probabilities)
            shown = self._hysteresis.update(smoothed)
            if shown is None:
                smoothed_label, smoothed_score = UNKNOWN, float(smoothed.max())
            else:
                smoothed_label, smoothed_score = self.labels[shown], float(smoothed[shown])
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
            captured_at=frame.captured_at,
            gap_before_ms=frame.gap_before_ms,
            name=frame.name,
        )
