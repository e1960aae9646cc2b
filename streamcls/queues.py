"""Bounded-queue hand-offs that never hang a thread and never lose an item needlessly."""

from __future__ import annotations

import queue
import threading


def put_until_stopped(target: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put into a bounded queue, giving up (False) when ``stop`` is set."""
    while not stop.is_set():
        try:
            target.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def force_put(target: queue.Queue, item: object, stop: threading.Event) -> None:
    """Put an end sentinel: wait for room while the run goes on (a slow consumer
    still gets every item); make room only once the run is stopping."""
    while True:
        try:
            target.put(item, timeout=0.1)
            return
        except queue.Full:
            if stop.is_set():
                try:
                    target.get_nowait()
                except queue.Empty:
                    pass
