"""Events: changes of a source's shown label, filtered by the rules (``config/events.py``).

Per source, the label last accepted is the *confirmed* one. A different shown
label becomes a *candidate*; it is confirmed once it has been shown for the
rule's ``min_duration_s`` of stream time (a file's position, or seconds since a
live source's first frame) with a mean shown score of at least ``min_score``; a
blip that ends before that leaves the confirmed label as it was — no event
either way (one held back only by its score is counted as ``min_score``). A
confirmed change is an event unless a rule silences it (not an allowed label,
inside the label's cool-down on that source, over the global rate); a silenced
change still becomes the confirmed label, so the next event names the right
previous label. Every suppression is counted by its reason.

Example::

    producer = EventProducer(config.events, {})
    for prediction in predictions:
        for event in producer.update(prediction):
            print(event.source_id, event.previous_label, "->", event.label)
"""

from __future__ import annotations

import collections
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from streamcls.config.events import EventsConfig
from streamcls.frames import Event, Prediction

RATE_WINDOW_S = 60.0
DURATION_TOLERANCE_S = 1e-6  # frame times are sums of floats: 0.3 - 0.2 < 0.1


@dataclass
class _Run:
    label: str
    start_frame: int
    start_s: float
    captured_at: float
    start_time: str | None
    file: str | None
    score_sum: float = 0.0
    frames: int = 0
    snapshot_jpeg: bytes | None = None
    held_by_score: bool = False  # long enough, but its mean score is below min_score


@dataclass
class EventCounts:
    """What the rules did: events let through, and changes suppressed by each rule."""

    emitted: int = 0
    suppressed: dict[str, int] = field(default_factory=lambda: collections.Counter())

    def as_record(self) -> dict[str, object]:
        return {"emitted": self.emitted, "suppressed": dict(sorted(self.suppressed.items()))}


class EventProducer:
    """Turns every source's predictions into events under the run's rules (or a source's own).

    Args:
        rules: the run's rules (``events:``).
        per_source: a source's own rules (``sources[i].events``), by source id.
        live: the ids of live sources, whose events carry a wall-clock ``start_time``.
        clock: ``time.monotonic`` (tests pass their own).
    """

    def __init__(
        self,
        rules: EventsConfig,
        per_source: Mapping[str, EventsConfig] | None = None,
        live: frozenset[str] = frozenset(),
        clock=time.monotonic,
    ):
        self.rules = rules
        self.per_source = dict(per_source or {})
        self.live = live
        self.counts = EventCounts()
        self._clock = clock
        self._confirmed: dict[str, _Run] = {}
        self._candidate: dict[str, _Run] = {}
        self._origin: dict[str, float] = {}
        self._last_event_s: dict[tuple[str, str], float] = {}
        self._recent: collections.deque[float] = collections.deque()

    def add_source(self, source_id: str, rules: EventsConfig | None, live: bool) -> None:
        """A source that joins a running service: its own rules (None: the run's), live or recorded."""
        if rules is not None:
            self.per_source[source_id] = rules
        self.live = self.live | {source_id} if live else self.live - {source_id}

    def forget(self, source_id: str) -> None:
        """A source removed from a service: its state goes (an id used again starts afresh)."""
        self.per_source.pop(source_id, None)
        self.live = self.live - {source_id}
        for state in (self._confirmed, self._candidate, self._origin):
            state.pop(source_id, None)
        for key in [key for key in self._last_event_s if key[0] == source_id]:
            del self._last_event_s[key]

    def update(self, prediction: Prediction, image: np.ndarray | None = None) -> list[Event]:
        """Take the next prediction of its source; return the event it completes, if any.

        ``image`` (the frame as decoded) is read only when a candidate starts and
        the rules ask for snapshots.
        """
        source, label = prediction.source_id, prediction.shown_label
        rules = self.per_source.get(source, self.rules)
        seconds = self._seconds(prediction)
        confirmed, candidate = self._confirmed.get(source), self._candidate.get(source)
        if candidate is not None and candidate.label != label:
            self._drop_candidate(source)  # a blip ended before it counted
            candidate = None
        if confirmed is not None and label == confirmed.label:
            return []
        if candidate is None:
            candidate = self._start(prediction, seconds, rules, image)
            self._candidate[source] = candidate
        candidate.frames += 1
        candidate.score_sum += prediction.shown_score
        rule = rules.rule(label)
        if seconds - candidate.start_s < rule.min_duration_s - DURATION_TOLERANCE_S:
            return []
        if candidate.score_sum / candidate.frames < rule.min_score:
            candidate.held_by_score = True
            return []
        del self._candidate[source]
        self._confirmed[source] = candidate
        reason = self._suppressed_by(rules, source, candidate, confirmed)
        if reason is not None:
            self.counts.suppressed[reason] += 1
            return []
        self._last_event_s[(source, label)] = candidate.start_s
        self._recent.append(self._clock())
        self.counts.emitted += 1
        return [self._event(source, candidate, confirmed)]

    def _drop_candidate(self, source: str) -> None:
        dropped = self._candidate.pop(source)
        if dropped.held_by_score:
            self.counts.suppressed["min_score"] += 1

    def _start(self, prediction: Prediction, seconds: float, rules: EventsConfig, image: np.ndarray | None) -> _Run:
        captured = prediction.captured_at if prediction.captured_at is not None else self._clock()
        start_time = _wall_clock(captured, self._clock()) if prediction.source_id in self.live else None
        snapshot = encode_jpeg(image, rules.snapshot_width) if rules.snapshot and image is not None else None
        return _Run(
            prediction.shown_label,
            prediction.frame_index,
            seconds,
            captured,
            start_time,
            prediction.name,
            snapshot_jpeg=snapshot,
        )

    def _suppressed_by(self, rules: EventsConfig, source: str, run: _Run, previous: _Run | None) -> str | None:
        rule = rules.rule(run.label)
        if previous is None and not rules.first_label:
            return "first_label"
        if (rules.labels and run.label not in rules.labels) or run.label in rules.ignore:
            return "label"
        last = self._last_event_s.get((source, run.label))
        if last is not None and run.start_s - last < rule.cooldown_s:
            return "cooldown"
        now = self._clock()
        while self._recent and now - self._recent[0] >= RATE_WINDOW_S:
            self._recent.popleft()
        if len(self._recent) >= max(1, round(self.rules.max_per_minute)):
            return "rate_limit"
        return None

    def _event(self, source: str, run: _Run, previous: _Run | None) -> Event:
        identity = f"{source}\x00{run.start_frame}\x00{run.label}\x00{run.start_time or ''}"
        return Event(
            event_id=hashlib.sha256(identity.encode()).hexdigest()[:24],
            source_id=source,
            label=run.label,
            score=run.score_sum / run.frames,
            start_frame=run.start_frame,
            start_s=run.start_s,
            start_time=run.start_time,
            previous_label=previous.label if previous else None,
            previous_start_frame=previous.start_frame if previous else None,
            previous_end_frame=run.start_frame if previous else None,
            previous_duration_s=run.start_s - previous.start_s if previous else None,
            created_at=_iso(time.time()),
            captured_at=run.captured_at,
            confirmed_at=self._clock(),
            file=run.file,
            snapshot_jpeg=run.snapshot_jpeg,
        )

    def _seconds(self, prediction: Prediction) -> float:
        if prediction.position_ms is not None:
            return prediction.position_ms / 1000.0
        captured = prediction.captured_at if prediction.captured_at is not None else self._clock()
        return captured - self._origin.setdefault(prediction.source_id, captured)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _wall_clock(captured_at: float, now_monotonic: float) -> str:
    """The wall-clock time of a ``time.monotonic()`` reading taken a moment ago."""
    return _iso(time.time() - (now_monotonic - captured_at))


def encode_jpeg(image: np.ndarray, width: int) -> bytes | None:
    """``image`` (BGR) as a JPEG, shrunk to ``width`` when wider (event snapshots, the service's views)."""
    import cv2

    height, own_width = image.shape[:2]
    if own_width > width:
        image = cv2.resize(image, (width, max(1, round(height * width / own_width))), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return encoded.tobytes() if ok else None
