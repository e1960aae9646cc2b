"""Batches across sources: one bounded lane per source, taken fairly.

Every source's prepared frames wait in their own lane (a bounded FIFO), so a
fast or stuck source never fills the room another one needs, and the order of
each source's frames is kept. ``take`` gathers up to ``batch_size`` frames,
leaving with what it has ``max_wait`` seconds after the first, visiting the
lanes fairly:

* ``round_robin``: one frame from each lane in turn, starting after the lane
  that went first last time, so a 60 fps camera cannot starve a 5 fps one;
* ``oldest_first``: always the frame that has waited longest, whichever lane.

A live source's lane drops its oldest frame when full instead of making its
producer wait (``live``): under the latest policy at most one batch of fresh
frames waits for the model, so latency stays bounded by about one batch.

Example::

    inbox = FairInbox(["door", "lobby"], capacity=16)
    inbox.put("door", prepared, stop)        # a preprocessing thread
    inbox.finish("door")                     # its source has ended
    batch = inbox.take(8, 0.02, stop)        # the inference thread; None once every lane is done
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from streamcls.frames import Frame, carry_gap

Fairness = str  # one of config.names.FAIRNESS


class FairInbox:
    """Bounded per-source lanes with fair batch taking. Thread-safe."""

    def __init__(
        self,
        source_ids: Iterable[str],
        capacity: int,
        fairness: Fairness = "round_robin",
        age_of: Any = None,
        live: Iterable[str] = (),
        live_capacity: int | None = None,
        hold_open: bool = False,
    ):
        self.capacity = capacity
        self.fairness = fairness
        self.live = set(live)
        self.live_capacity = live_capacity or capacity
        # How long an item has waited, for oldest_first: by default its ``ready_at``.
        self._age_key = age_of or (lambda item: item.ready_at)
        self._lanes: dict[str, deque[Any]] = {source_id: deque() for source_id in source_ids}
        self._open = set(self._lanes)
        self._order = list(self._lanes)
        self._next_lane = 0
        self._condition = threading.Condition()
        self.dropped = {source_id: 0 for source_id in self._lanes}
        self.hold_open = hold_open  # a service: sources come and go, and none left is no end

    def add_lane(self, source_id: str, live: bool) -> None:
        """A source joins (a service's ``POST /sources``); its lane is taken from the next turn on."""
        with self._condition:
            self._lanes[source_id] = deque()
            self._open.add(source_id)
            self._order.append(source_id)
            self.dropped[source_id] = 0
            if live:
                self.live.add(source_id)

    def remove_lane(self, source_id: str) -> int:
        """A source leaves: its waiting frames are dropped (returned: how many); the other lanes keep their turns."""
        with self._condition:
            lane = self._lanes.pop(source_id, deque())
            self._open.discard(source_id)
            if source_id in self._order:
                position = self._order.index(source_id)
                self._order.remove(source_id)
                if position < self._next_lane:
                    self._next_lane -= 1
                self._next_lane = self._next_lane % len(self._order) if self._order else 0
            self.live.discard(source_id)
            self.dropped.pop(source_id, None)
            self._condition.notify_all()
            return len(lane)

    def put(self, source_id: str, item: Any, stop: threading.Event) -> bool:
        """Add to the source's lane, waiting while it is full (a live lane drops its oldest
        instead); False if ``stop`` was set meanwhile."""
        with self._condition:
            lane = self._lanes.get(source_id)
            if lane is None:  # removed meanwhile: nobody takes it any more
                return False
            if source_id in self.live:
                while len(lane) >= self.live_capacity:
                    stale = lane.popleft()
                    self.dropped[source_id] += 1
                    if lane:
                        lane[0] = _carry_gap(stale, lane[0])
                    else:
                        item = _carry_gap(stale, item)
            while len(lane) >= self.capacity:
                if stop.is_set() or self._lanes.get(source_id) is not lane:
                    return False
                self._condition.wait(0.1)
            lane.append(item)
            self._condition.notify_all()
        return True

    def finish(self, source_id: str) -> None:
        """The source will put nothing more; what is in its lane is still taken."""
        with self._condition:
            self._open.discard(source_id)
            self._condition.notify_all()

    def depth(self, source_id: str) -> int:
        return len(self._lanes.get(source_id, ()))

    def take(self, batch_size: int, max_wait: float, stop: threading.Event) -> list[Any] | None:
        """Up to ``batch_size`` items; ``[]`` when stopped; ``None`` once every lane is finished and empty."""
        batch: list[Any] = []
        deadline: float | None = None
        with self._condition:
            while len(batch) < batch_size and not stop.is_set():
                if self._pick(batch, batch_size):
                    deadline = deadline or time.monotonic() + max_wait
                    self._condition.notify_all()  # room in a lane: its producer may go on
                    continue
                if not self._open and not self.hold_open:  # every source has ended and every lane is empty
                    return batch or None
                if deadline is None:
                    self._condition.wait(0.1)
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
        return batch

    def _pick(self, batch: list[Any], batch_size: int) -> bool:
        """Move waiting items into ``batch`` fairly; False when every lane is empty."""
        filled = [source_id for source_id in self._order if self._lanes[source_id]]
        if not filled:
            return False
        if self.fairness == "oldest_first":
            while len(batch) < batch_size:
                heads = [source_id for source_id in self._order if self._lanes[source_id]]
                if not heads:
                    break
                oldest = min(heads, key=lambda source_id: self._age_key(self._lanes[source_id][0]))
                batch.append(self._lanes[oldest].popleft())
            return True
        # Round robin, one item per lane per turn, the turn starting where the last one stopped.
        count = len(self._order)
        while len(batch) < batch_size:
            took = False
            for step in range(count):
                lane = self._lanes[self._order[(self._next_lane + step) % count]]
                if lane and len(batch) < batch_size:
                    batch.append(lane.popleft())
                    took = True
            self._next_lane = (self._next_lane + 1) % count
            if not took:
                break
        return True


def _carry_gap(dropped: Any, kept: Any) -> Any:
    """``kept`` (a prepared frame) holding the reconnect gap ``dropped`` was first after (``frames.carry_gap``)."""
    if isinstance(getattr(dropped, "frame", None), Frame) and isinstance(getattr(kept, "frame", None), Frame):
        return dataclasses.replace(kept, frame=carry_gap(dropped.frame, kept.frame))
    return kept
