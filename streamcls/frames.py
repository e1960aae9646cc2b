"""Every type that travels between stages, one direction only.

``FrameSource -> Decoded -> Frame -> preprocess -> classifier -> Classified -> postprocess
-> Prediction -> overlay -> sinks``. All frozen: a stage never changes what an
earlier stage produced. ``Gap`` records a live stream's silence, ``StreamState``
what a source's capture is doing, and ``END`` closes every queue between stages.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

import numpy as np

END = object()  # the sentinel that closes a channel or queue between two stages


class StreamState(str, enum.Enum):
    """What a source's capture thread is doing. Compares equal to its value (``"failed"``)."""

    OPENING = "opening"
    RUNNING = "running"
    RECONNECTING = "reconnecting"
    ENDED = "ended"
    FAILED = "failed"

    def __str__(self) -> str:  # printed and written as the plain word
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


@dataclass(frozen=True)
class Decoded:
    """What a source's ``read`` returns: one picture and where it is in the source.

    ``position_ms`` is the position in a video file (``None`` for cameras, streams
    and pictures); ``name`` is a picture's path relative to its folder or glob root,
    with ``/`` separators (``"sub dir/été 2.png"``; ``None`` for videos, cameras and streams).
    """

    image: np.ndarray
    position_ms: float | None = None
    name: str | None = None


@dataclass(frozen=True)
class Frame:
    """One decoded picture and where it came from.

    ``index`` counts from 0 in decode order for this source (it keeps counting
    across a reconnect, so a gap in indices is a gap in the stream);
    ``captured_at`` is ``time.monotonic()`` when the decoder returned it;
    ``position_ms`` is the position in a file (``None`` for cameras/streams);
    ``name`` the picture's path in an image folder (see :class:`Decoded`).
    """

    image: np.ndarray
    source_id: str
    index: int
    captured_at: float
    position_ms: float | None = None
    gap_before_ms: float | None = None  # the first frame after a dropped stream came back
    name: str | None = None


def carry_gap(dropped: Frame, kept: Frame) -> Frame:
    """``kept`` holding the gap that ``dropped`` (a frame a live policy let go) was first after.

    The first frame after a reconnect says how long the stream was silent; when a
    live policy drops it for a newer one, the newer one carries that news instead,
    so the gap still reaches the records.
    """
    if dropped.gap_before_ms is None or kept.gap_before_ms is not None:
        return kept
    return replace(kept, gap_before_ms=dropped.gap_before_ms)


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
    name: str | None = None  # the picture's path in an image folder (``Decoded.name``); None for videos

    @property
    def shown_label(self) -> str:
        """What a user is shown: the temporal label when configured, else the frame's own."""
        return self.label if self.smoothed_label is None else self.smoothed_label

    @property
    def shown_score(self) -> float:
        return self.score if self.smoothed_score is None else self.smoothed_score

    def as_record(self) -> dict[str, object]:
        """The JSON Lines / CSV record of this prediction (``file``: the picture's name, or None)."""
        return {
            "source": self.source_id,
            "frame_index": self.frame_index,
            "file": self.name,
            "position_ms": None if self.position_ms is None else round(self.position_ms, 3),
            "label": self.label,
            "score": round(self.score, 6),
            "top_k": [[label, round(score, 6)] for label, score in self.top_k],
            "smoothed_label": self.smoothed_label,
            "smoothed_score": None if self.smoothed_score is None else round(self.smoothed_score, 6),
            "latency_ms": round(self.latency_ms, 3),
            "gap_before_ms": None if self.gap_before_ms is None else round(self.gap_before_ms, 1),
        }


@dataclass(frozen=True)
class Gap:
    """A stretch of time a live stream delivered nothing.

    ``started_at`` is when the last frame before it was decoded (``time.monotonic()``),
    ``ended_at`` when the first frame after it was (None: it never came back).
    ``frames_missed`` is as far as known: the gap's length times the stream's frame
    rate, when the stream announces one. Frame indices are never invented for it:
    the first frame after a gap gets the next index, and its record says how long
    the gap before it was (``gap_before_ms``).
    """

    source_id: str
    started_at: float
    ended_at: float | None  # None: never came back
    last_index_before: int
    frames_missed: int | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.started_at


@dataclass(frozen=True)
class Event:
    """A change of a source's shown label: the run of ``previous_label`` ended, one of ``label`` began.

    Only the shown label (after smoothing and hysteresis) makes events, and only
    once the new label has lasted the rules' minimum duration; ``event_id`` is
    stable (the same file run twice gives the same ids), for receivers to
    de-duplicate. Times: ``start_s`` is the position in a file, or seconds since
    the source's first frame for a live source; ``start_time`` is the wall-clock
    time (UTC, ISO 8601) the frame was captured, for live sources (None for files).
    ``captured_at`` (``time.monotonic()`` of the first frame of the new run) and
    ``confirmed_at`` (when the rules let it through) are for latency figures and
    are not part of the record.
    """

    event_id: str
    source_id: str
    label: str
    score: float  # the mean shown score over the frames that confirmed it
    start_frame: int
    start_s: float
    start_time: str | None
    previous_label: str | None  # None: the first label of the source
    previous_start_frame: int | None
    previous_end_frame: int | None  # half-open: the first frame of the new run
    previous_duration_s: float | None
    created_at: str  # wall-clock time (UTC, ISO 8601) the event was produced
    captured_at: float = 0.0
    confirmed_at: float = 0.0
    file: str | None = None  # the picture that started it (image sources)
    snapshot_jpeg: bytes | None = None  # a small JPEG of the frame that started it, when asked for
    clip: str | None = None  # the clip file that will hold it, when clips are written

    def as_record(self, snapshot: bool = True) -> dict[str, object]:
        """The JSON record (events file, webhook body, MQTT payload); the snapshot as base64."""
        import base64

        record: dict[str, object] = {
            "event_id": self.event_id,
            "source": self.source_id,
            "label": self.label,
            "score": round(self.score, 6),
            "start_frame": self.start_frame,
            "start_s": round(self.start_s, 3),
            "start_time": self.start_time,
            "file": self.file,
            "previous_label": self.previous_label,
            "previous_start_frame": self.previous_start_frame,
            "previous_end_frame": self.previous_end_frame,
            "previous_duration_s": None if self.previous_duration_s is None else round(self.previous_duration_s, 3),
            "created_at": self.created_at,
            "clip": self.clip,
        }
        if snapshot and self.snapshot_jpeg is not None:
            record["snapshot_jpeg"] = base64.b64encode(self.snapshot_jpeg).decode("ascii")
        return record
