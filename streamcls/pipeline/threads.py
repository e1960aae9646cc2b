"""Preprocessing and batched inference, each in its own thread.

``PreprocessThread`` (one per source) turns frames from that source's capture
channel into model input, in the source's lane of a ``FairInbox``;
``BatchThread`` (one or more per pipeline: ``inference.workers``) takes up to ``batch_size`` of them across the
lanes fairly, or whatever has arrived ``max_batch_wait_ms`` after the first,
runs the classifier once, and hands the results on in the order taken (each
source's frames stay in their order). Decoding, preprocessing and inference
of different frames overlap; every queue between them is bounded.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from streamcls.frames import END, Classified, Frame
from streamcls.model.build import ModelSpec
from streamcls.pipeline.batching import FairInbox
from streamcls.preprocess import PreprocessSpec, preprocess
from streamcls.queues import force_put, put_until_stopped
from streamcls.sources.channel import FrameChannel

logger = logging.getLogger(__name__)


class BatchClassifier(Protocol):
    """What the batcher needs: a backend's classifier (``model.backends``) or a test fake."""

    batch_size: int
    preprocess_spec: PreprocessSpec
    spec: ModelSpec  # its classes name the probabilities' columns

    def classify(self, images: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Prepared:
    frame: Frame
    image: np.ndarray
    preprocess_ms: float
    ready_at: float


class PreprocessThread(threading.Thread):
    def __init__(
        self, channel: FrameChannel, spec: PreprocessSpec, inbox: FairInbox, source_id: str, stop: threading.Event
    ):
        super().__init__(name=f"preprocess-{source_id}", daemon=True)
        self.channel, self.spec, self.inbox, self.stop_event = channel, spec, inbox, stop
        self.source_id = source_id
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                item = self.channel.get(timeout=0.1)
                if item is None:
                    continue
                if item is END:
                    break
                frame = item
                start = time.monotonic()
                image = preprocess(frame.image, self.spec)  # type: ignore[attr-defined]
                done = time.monotonic()
                prepared = Prepared(frame, image, (done - start) * 1000, done)  # type: ignore[arg-type]
                if not self.inbox.put(self.source_id, prepared, self.stop_event):
                    break
        except BaseException as error:
            logger.exception("preprocessing of %s failed", self.source_id)
            self.error = error
        finally:
            self.inbox.finish(self.source_id)


class Turns:
    """Batch tickets for several inference threads: taken in order, handed on in the same order.

    Two inference threads overlap two batches on the CPU (a single TensorFlow call
    leaves part of a core idle between its ops); the turns keep the results in the
    order the batches were taken, so every source's frames stay in order.
    """

    def __init__(self, workers: int):
        self._condition = threading.Condition()
        self._take_lock = threading.Lock()
        self._next_ticket = 0
        self._turn = 0
        self._running = workers

    def take(
        self, inbox: FairInbox, batch_size: int, max_wait: float, stop: threading.Event
    ) -> tuple[int, list[Prepared] | None]:
        with self._take_lock:  # a ticket and its batch together, in one order
            batch = inbox.take(batch_size, max_wait, stop)
            ticket = self._next_ticket
            self._next_ticket += 1
            return ticket, batch

    def wait_for(self, ticket: int, stop: threading.Event) -> bool:
        """Wait until it is ``ticket``'s turn to hand on its results; False if stopped."""
        with self._condition:
            while self._turn != ticket:
                if stop.is_set():
                    return False
                self._condition.wait(0.1)
            return True

    def done(self, ticket: int) -> None:
        """``ticket`` has handed on its results (call only after ``wait_for`` gave it the turn)."""
        with self._condition:
            self._turn = ticket + 1
            self._condition.notify_all()

    def finished(self) -> bool:
        """Call once per thread as it ends; True for the last one (it closes the output)."""
        with self._condition:
            self._running -= 1
            return self._running == 0


class BatchThread(threading.Thread):
    """Runs the classifier on batches taken fairly across sources, keeping each source's order.

    Several of them may share one ``Turns`` (``inference.workers``).
    """

    def __init__(
        self,
        classifier: BatchClassifier,
        inbox: FairInbox,
        output: queue.Queue,
        stop: threading.Event,
        max_batch_wait_ms: float,
        turns: Turns | None = None,
        number: int = 0,
    ):
        super().__init__(name=f"inference-{number}" if number else "inference", daemon=True)
        self.classifier, self.inbox, self.output, self.stop_event = classifier, inbox, output, stop
        self.max_wait = max_batch_wait_ms / 1000
        self.turns = turns or Turns(1)
        self.batches = 0
        self.inference_seconds = 0.0
        self.error: BaseException | None = None
        self.observers: list[Callable[[int, float], object]] = []  # (batch size, seconds) per batch: metrics

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                ticket, batch = self.turns.take(self.inbox, self.classifier.batch_size, self.max_wait, self.stop_event)
                if batch is None:  # every source has ended
                    if self.turns.wait_for(ticket, self.stop_event):
                        self.turns.done(ticket)
                    break
                if not self._run_batch(ticket, batch):
                    break  # stopped: the turns need not go on
                self.turns.done(ticket)
        except BaseException as error:
            logger.exception("inference failed")
            self.error = error
            self.stop_event.set()  # the other workers' turns would never come
        finally:
            if self.turns.finished():
                force_put(self.output, END, self.stop_event)

    def _run_batch(self, ticket: int, batch: list[Prepared]) -> bool:
        if not batch:  # stopped while taking: still this ticket's turn to pass
            return self.turns.wait_for(ticket, self.stop_event)
        images = np.stack([item.image for item in batch])
        start = time.monotonic()
        probabilities = self.classifier.classify(images)
        elapsed = time.monotonic() - start
        self.batches += 1
        self.inference_seconds += elapsed
        for observer in self.observers:
            observer(len(batch), elapsed)
        share_ms = elapsed * 1000 / len(batch)
        if not self.turns.wait_for(ticket, self.stop_event):
            return False
        for item, row in zip(batch, probabilities):
            classified = Classified(
                frame=item.frame,
                probabilities=row,
                preprocess_ms=item.preprocess_ms,
                queue_wait_ms=max(0.0, (start - item.ready_at) * 1000),
                inference_ms=share_ms,
                batch_size=len(batch),
            )
            if not put_until_stopped(self.output, classified, self.stop_event):
                return False
        return True
