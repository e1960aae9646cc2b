"""Capture policies and the channel between a capture thread and its consumer.

Two policies, named rather than hidden:

* ``BLOCK`` (files, image folders): a bounded queue; the thread waits when it
  is full, so every decoded frame is processed, in order, exactly once.
* ``LATEST`` (cameras, streams): a one-frame slot; a new frame replaces a
  waiting one (counted as dropped), so a slow consumer never makes the picture
  lag and latency stays bounded however long the stream runs.
"""

from __future__ import annotations

import enum
import queue
import threading

from streamcls.config import SourceConfig
from streamcls.frames import END, Frame, carry_gap
from streamcls.queues import force_put, put_until_stopped


class CapturePolicy(enum.Enum):
    BLOCK = "block"
    LATEST = "latest"


def choose_policy(config: SourceConfig, live: bool) -> CapturePolicy:
    """``auto`` follows the source kind; ``realtime`` previews a file as if live."""
    if config.policy != "auto":
        return CapturePolicy(config.policy)
    return CapturePolicy.LATEST if live or config.realtime else CapturePolicy.BLOCK


class FrameChannel:
    """The hand-off between a capture thread and its consumer, under one policy."""

    def __init__(self, policy: CapturePolicy, capacity: int):
        self.policy = policy
        self.capacity = 2 if policy is CapturePolicy.LATEST else capacity  # latest: the newest frame, then END
        self.dropped = 0
        self._queue: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self._slot: list[object] = []
        self._condition = threading.Condition()

    def put(self, item: object, stop: threading.Event) -> bool:
        """Hand over ``item``; False if ``stop`` was set while waiting for room."""
        if self.policy is CapturePolicy.LATEST:
            with self._condition:
                if self._slot and self._slot[0] is not END:
                    self.dropped += 1
                    stale = self._slot.pop()
                    if isinstance(stale, Frame) and isinstance(item, Frame):
                        item = carry_gap(stale, item)
                if not self._slot:
                    self._slot.append(item)
                self._condition.notify()
            return True
        return put_until_stopped(self._queue, item, stop)

    def get(self, timeout: float) -> object | None:
        """The next item, ``END`` when closed, or ``None`` after ``timeout`` seconds."""
        if self.policy is CapturePolicy.LATEST:
            with self._condition:
                if not self._slot:
                    self._condition.wait(timeout)
                return self._slot.pop(0) if self._slot else None
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self, stop: threading.Event) -> None:
        """Put the end sentinel after any frame still waiting (see ``force_put``)."""
        if self.policy is CapturePolicy.LATEST:
            with self._condition:
                if self._slot and self._slot[0] is END:
                    return
                # A frame still in the slot is kept: the sentinel goes after it.
                self._slot.append(END)
                self._condition.notify()
            return
        force_put(self._queue, END, stop)

    def depth(self) -> int:
        if self.policy is CapturePolicy.LATEST:
            return len(self._slot)
        return self._queue.qsize()
