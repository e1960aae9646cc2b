"""What the service shows of every source: the pipeline's sink behind the page and the API.

The consuming thread writes each prediction here (and, while somebody watches,
the annotated picture); HTTP handlers read copies under a short lock. Nothing
here blocks the pipeline: a JPEG is encoded only when a viewer asks for it,
once per picture however many viewers there are, in the viewer's thread.

Example::

    board = Board(history=100)
    with Pipeline(config, sinks=[board], serve=True) as pipeline: ...
    board.latest("door")        # {"label": ..., "score": ..., "frame_age_ms": ...}
    board.jpeg("door", 640)     # the latest annotated picture, or None
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from streamcls.frames import Event, Prediction
from streamcls.postprocess.events import encode_jpeg

WATCH_S = 5.0  # a viewer's request keeps the overlay drawn this long


@dataclass
class _Run:
    """One run of a shown label, in wall-clock time (the page's timeline)."""

    label: str
    start_frame: int
    started: float
    last_frame: int
    last: float
    frames: int = 1
    score_sum: float = 0.0

    def as_record(self, open_run: bool) -> dict[str, object]:
        return {
            "label": self.label,
            "start_frame": self.start_frame,
            "end_frame": None if open_run else self.last_frame + 1,
            "start_time": _iso(self.started),
            "end_time": None if open_run else _iso(self.last),
            "duration_s": round(self.last - self.started, 3),
            "frames": self.frames,
            "mean_score": round(self.score_sum / self.frames, 4),
        }


@dataclass
class _Source:
    """What the board keeps of one source."""

    prediction: Prediction | None = None
    published_at: float = 0.0  # time.time() of the latest prediction
    image: np.ndarray | None = None
    version: int = 0  # counts pictures, so a viewer knows a new one from the last
    runs: deque[_Run] = field(default_factory=deque)
    ages_ms: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    jpeg: tuple[int, int, bytes] | None = None  # (version, width, bytes) of the last encoded picture


class Board:
    """A sink of every source (``Pipeline(sinks=[board])``) that the service reads."""

    def __init__(self, history: int = 100, clock: Callable[[], float] = time.time):
        self.history = history
        self._clock = clock
        self._lock = threading.Lock()
        self._sources: dict[str, _Source] = {}
        self._events: deque[Event] = deque(maxlen=history)
        self._watched_until = 0.0
        self.observers: list[Callable[[Prediction, float], None]] = []  # (prediction, frame age in s): metrics

    # -- the sink side (the consuming thread) ------------------------------------------
    def __enter__(self) -> Board:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to finish: the board is memory only."""

    @property
    def needs_image(self) -> bool:
        """Draw the overlay only while somebody watches: an unwatched camera costs no drawing."""
        return time.monotonic() < self._watched_until

    def write(self, image: np.ndarray | None, prediction: Prediction) -> None:
        now = self._clock()
        age_s = max(0.0, time.monotonic() - prediction.captured_at) if prediction.captured_at else 0.0
        with self._lock:
            source = self._sources.get(prediction.source_id)
            if source is None:
                source = self._sources[prediction.source_id] = _Source()
            source.prediction, source.published_at = prediction, now
            source.ages_ms.append(age_s * 1000)
            if image is not None:
                source.image, source.version = image, source.version + 1
            self._extend_runs(source, prediction, now)
        for observer in self.observers:
            observer(prediction, age_s)

    def write_event(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    def _extend_runs(self, source: _Source, prediction: Prediction, now: float) -> None:
        runs = source.runs
        label, score = prediction.shown_label, prediction.shown_score
        if runs and runs[-1].label == label:
            run = runs[-1]
            run.last_frame, run.last, run.frames, run.score_sum = (
                prediction.frame_index,
                now,
                run.frames + 1,
                run.score_sum + score,
            )
            return
        if runs:
            runs[-1].last = now  # a run ends where the next one starts
        runs.append(_Run(label, prediction.frame_index, now, prediction.frame_index, now, 1, score))
        while len(runs) > self.history:
            runs.popleft()

    def forget(self, source_id: str) -> None:
        """A source removed from the service: its picture and runs go (its events stay in the history)."""
        with self._lock:
            self._sources.pop(source_id, None)

    # -- the reading side (HTTP handlers) -----------------------------------------------
    def latest(self, source_id: str) -> dict[str, object] | None:
        """The latest prediction of a source as a record, with its age; None before the first."""
        with self._lock:
            source = self._sources.get(source_id)
            if source is None or source.prediction is None:
                return None
            prediction, published_at = source.prediction, source.published_at
        record = prediction.as_record()
        record["shown_label"], record["shown_score"] = prediction.shown_label, round(prediction.shown_score, 6)
        record["published_at"] = _iso(published_at)
        record["age_s"] = round(max(0.0, self._clock() - published_at), 3)
        return record

    def frame_age_p95_ms(self, source_id: str) -> float | None:
        with self._lock:
            source = self._sources.get(source_id)
            ages = sorted(source.ages_ms) if source is not None else []
        return round(ages[min(len(ages) - 1, int(0.95 * len(ages)))], 1) if ages else None

    def runs(self, source_id: str, limit: int | None = None) -> list[dict[str, object]]:
        """The source's recent label runs, oldest first; the last one is still going (no end)."""
        with self._lock:
            source = self._sources.get(source_id)
            runs = list(source.runs) if source is not None else []
            records = [run.as_record(open_run=index == len(runs) - 1) for index, run in enumerate(runs)]
        return records[-limit:] if limit else records

    def events(self, source_id: str | None = None, limit: int | None = None) -> list[dict[str, object]]:
        """Recent events, newest last (one source's, or every source's); no snapshots (see the events outputs)."""
        with self._lock:
            events = [event for event in self._events if source_id is None or event.source_id == source_id]
        records = [event.as_record(snapshot=False) for event in events]
        return records[-limit:] if limit else records

    def watch(self) -> None:
        """A viewer wants pictures: draw the overlay from now on, for a while."""
        self._watched_until = time.monotonic() + WATCH_S

    def picture(self, source_id: str) -> tuple[int, np.ndarray | None]:
        """(version, latest annotated picture) of a source; (0, None) before the first."""
        with self._lock:
            source = self._sources.get(source_id)
            return (source.version, source.image) if source is not None else (0, None)

    def jpeg(self, source_id: str, width: int) -> tuple[int, bytes | None]:
        """(version, JPEG of the latest picture at most ``width`` wide), encoded once per picture and width."""
        self.watch()
        version, image = self.picture(source_id)
        if image is None:
            return 0, None
        with self._lock:
            source = self._sources.get(source_id)
            cached = source.jpeg if source is not None else None
        if cached is not None and cached[0] == version and cached[1] == width:
            return version, cached[2]
        encoded = encode_jpeg(image, width)  # outside the lock: viewers wait, the pipeline does not
        with self._lock:
            source = self._sources.get(source_id)
            if source is not None and encoded is not None:
                source.jpeg = (version, width, encoded)
        return version, encoded


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1000):03d}Z"
