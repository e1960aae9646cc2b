"""Contiguous runs of one shown label: what a segments output records.

A run is half-open, ``[start, end)``, in frames and in seconds, like the
segments files ``streamcls train`` and ``bench`` read: a run ends where the
next one starts. Times are positions in the file for files, and seconds since
the source's first frame for cameras and streams. A live source that delivers
nothing for longer than ``max_gap_s`` (a dropped stream being reconnected)
ends the current run at its last frame; the gap belongs to no run. A run of
an image folder also names its first and last picture (``first_file``,
``last_file``: both within the run, unlike ``end_frame``).

Example::

    tracker = SegmentTracker(max_gap_s=2.0)
    for prediction in predictions:
        for run in tracker.add(prediction):
            print(run.label, run.start_frame, run.end_frame)
    finished = tracker.finish()
"""

from __future__ import annotations

from dataclasses import dataclass

from streamcls.frames import Prediction


@dataclass(frozen=True)
class LabelSegment:
    """One run of a label on one source. ``frames`` counts the predictions in it,
    fewer than ``end_frame - start_frame`` when a live policy dropped frames.
    ``first_file``/``last_file`` name the run's first and last picture (image
    sources; None for videos, cameras and streams)."""

    source_id: str
    label: str
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    frames: int
    mean_score: float
    first_file: str | None = None
    last_file: str | None = None

    def as_record(self) -> dict[str, object]:
        return {
            "source": self.source_id,
            "label": self.label,
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "first_file": self.first_file,
            "last_file": self.last_file,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "frames": self.frames,
            "mean_score": round(self.mean_score, 6),
        }


@dataclass
class _OpenSegment:
    label: str
    start_frame: int
    start_s: float
    last_frame: int
    last_s: float
    frames: int
    score_sum: float
    first_name: str | None
    last_name: str | None


class SegmentTracker:
    """Collects predictions of any number of sources into label runs, per source."""

    def __init__(self, max_gap_s: float = 2.0):
        self.max_gap_s = max_gap_s
        self._open: dict[str, _OpenSegment] = {}
        self._origin: dict[str, float] = {}
        self._previous: dict[str, tuple[int, float]] = {}  # (frame index, seconds) of the last frame
        self._frame_seconds: dict[str, float] = {}  # one frame's duration, from the last two frames

    def add(self, prediction: Prediction) -> list[LabelSegment]:
        """Take the next prediction of its source; return the run it closed, if any."""
        source = prediction.source_id
        seconds = self._seconds(prediction)
        label, score, index = prediction.shown_label, prediction.shown_score, prediction.frame_index
        previous = self._previous.get(source)
        if previous is not None and index > previous[0] and seconds > previous[1]:
            gap = seconds - previous[1]
            if gap <= self.max_gap_s or prediction.position_ms is not None:
                self._frame_seconds[source] = gap / (index - previous[0])
        self._previous[source] = (index, seconds)
        current = self._open.get(source)
        closed: list[LabelSegment] = []
        if current is not None and seconds - current.last_s > self.max_gap_s and prediction.position_ms is None:
            closed.append(self._close_at_last(source, current))
            current = None
        if current is not None and current.label != label:
            closed.append(self._close(source, current, index, seconds))
            current = None
        if current is None:
            self._open[source] = _OpenSegment(
                label, index, seconds, index, seconds, 1, score, prediction.name, prediction.name
            )
            return closed
        current.last_frame, current.last_s, current.last_name = index, seconds, prediction.name
        current.frames += 1
        current.score_sum += score
        return closed

    def finish(self) -> list[LabelSegment]:
        """Close every open run at its last frame (the end of the run)."""
        closed = [self._close_at_last(source, run) for source, run in list(self._open.items())]
        self._open.clear()
        return closed

    def _seconds(self, prediction: Prediction) -> float:
        if prediction.position_ms is not None:
            return prediction.position_ms / 1000.0
        captured = prediction.captured_at or 0.0
        origin = self._origin.setdefault(prediction.source_id, captured)
        return captured - origin

    def _close(self, source: str, run: _OpenSegment, end_frame: int, end_s: float) -> LabelSegment:
        del self._open[source]
        return LabelSegment(
            source,
            run.label,
            run.start_frame,
            end_frame,
            run.start_s,
            end_s,
            run.frames,
            run.score_sum / run.frames,
            run.first_name,
            run.last_name,
        )

    def _close_at_last(self, source: str, run: _OpenSegment) -> LabelSegment:
        # The last frame lasts one frame duration, measured between the source's last two
        # frames (0 before a second frame has come).
        duration = self._frame_seconds.get(source, 0.0)
        return self._close(source, run, run.last_frame + 1, run.last_s + duration)
