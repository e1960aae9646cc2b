"""The data that flows between stages, one direction only.

``FrameSource -> Frame -> preprocess -> classifier -> Classified -> postprocess
-> Prediction -> overlay -> sinks``. All frozen: a stage never changes what an
earlier stage produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One decoded picture and where it came from.

    ``index`` counts from 0 in decode order for this source (it keeps counting
    across a reconnect, so a gap in indices is a gap in the stream);
    ``captured_at`` is ``time.monotonic()`` when the decoder returned it;
    ``position_ms`` is the position in a file (``None`` for cameras/streams).
    """

    image: np.ndarray
    source_id: str
    index: int
    captured_at: float
    position_ms: float | None = None
    gap_before_ms: float | None = None  # the first frame after a dropped stream came back


@dataclass(frozen=True)
class Classified:
    """A frame with its class probabilities and the time spent on it so far."""

    frame: Frame
    probabilities: np.ndarray
    preprocess_ms: float
    queue_wait_ms: float
    inference_ms: float  # this frame's share of its batch
    batch_size: int


@dataclass(frozen=True)
class Prediction:
    """What a user gets per frame: labels, scores and timing."""

    source_id: str
    frame_index: int
    position_ms: float | None
    top_k: tuple[tuple[str, float], ...]
    label: str  # top-1, or ``unknown`` below the score threshold
    score: float
    smoothed_label: str | None  # shown label after smoothing and hysteresis; None when both are off
    smoothed_score: float | None
    latency_ms: float  # capture to the end of postprocessing
    timings: dict[str, float] = field(default_factory=dict)
    captured_at: float | None = None  # time.monotonic() when the frame was decoded
    gap_before_ms: float | None = None  # how long the stream delivered nothing before this frame

    @property
    def shown_label(self) -> str:
        """What a user is shown: the temporal label when configured, else the frame's own."""
        return self.label if self.smoothed_label is None else self.smoothed_label

    @property
    def shown_score(self) -> float:
        return self.score if self.smoothed_score is None else self.smoothed_score

    def as_record(self) -> dict[str, object]:
        """The JSON Lines / CSV record of this prediction."""
        return {
            "source": self.source_id,
            "frame_index": self.frame_index,
            "position_ms": None if self.position_ms is None else round(self.position_ms, 3),
            "label": self.label,
            "score": round(self.score, 6),
            "top_k": [[label, round(score, 6)] for label, score in self.top_k],
            "smoothed_label": self.smoothed_label,
            "smoothed_score": None if self.smoothed_score is None else round(self.smoothed_score, 6),
            "latency_ms": round(self.latency_ms, 3),
            "gap_before_ms": None if self.gap_before_ms is None else round(self.gap_before_ms, 1),
        }
