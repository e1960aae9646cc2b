"""Preprocessing and batched inference, each in its own thread.

``PreprocessThread`` turns frames from a capture channel into model input;
``BatchThread`` collects up to ``batch_size`` of them, or whatever has arrived
``max_batch_wait_ms`` after the first, runs the classifier once, and splits
the results back to frames in their order. Decoding, preprocessing and
inference of different frames overlap; every queue between them is bounded.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from streamcls.frames import Classified, Frame
from streamcls.preprocess import PreprocessSpec, preprocess
from streamcls.queues import force_put, put_until_stopped
from streamcls.sources.capture import END, FrameChannel

logger = logging.getLogger(__name__)


class BatchClassifier(Protocol):
    """What the batcher needs: ``model.classify.Classifier`` or a test fake."""

    batch_size: int
    preprocess_spec: PreprocessSpec

    def classify(self, images: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Prepared:
    frame: Frame
    image: np.ndarray
    preprocess_ms: float
    ready_at: float


class PreprocessThread(threading.Thread):
    def __init__(self, channel: FrameChannel, spec: PreprocessSpec, output: queue.Queue,
                 stop: threading.Event):
        super().__init__(name="preprocess", daemon=True)
        self.channel, self.spec, self.output, self.stop_event = channel, spec, output, stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                item = self.channel.get(timeout=0.1)
                if item is None:
                    continue
                if item is END:
                    break
                frame = item  # type: ignore[assignment]
                start = time.monotonic()
                image = preprocess(frame.image, self.spec)  # type: ignore[attr-defined]
                done = time.monotonic()
                prepared = Prepared(frame, image, (done - start) * 1000, done)  # type: ignore[arg-type]
                if not put_until_stopped(self.output, prepared, self.stop_event):
                    break
        except BaseException as error:
            logger.exception("preprocessing failed")
            self.error = error
        finally:
            force_put(self.output, END, self.stop_event)


class BatchThread(threading.Thread):
    """Runs the classifier on batches of prepared frames, keeping their order."""

    def __init__(self, classifier: BatchClassifier, source: queue.Queue, output: queue.Queue,
                 stop: threading.Event, max_batch_wait_ms: float):
        super().__init__(name="inference", daemon=True)
        self.classifier, self.source, self.output, self.stop_event = classifier, source, output, stop
        self.max_wait = max_batch_wait_ms / 1000
        self.batches = 0
        self.inference_seconds = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            finished = False
            while not finished and not self.stop_event.is_set():
                batch, finished = self._collect()
                if batch and not self._run_batch(batch):
                    break
        except BaseException as error:
            logger.exception("inference failed")
            self.error = error
        finally:
            force_put(self.output, END, self.stop_event)

    def _collect(self) -> tuple[list[Prepared], bool]:
        """Up to batch_size items, waiting at most max_wait after the first."""
        batch: list[Prepared] = []
        deadline = None
        while len(batch) < self.classifier.batch_size and not self.stop_event.is_set():
            timeout = 0.1 if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item = self.source.get(timeout=timeout)
            except queue.Empty:
                if deadline is not None:
                    break
                continue
            if item is END:
                return batch, True
            batch.append(item)
            if deadline is None:
                deadline = time.monotonic() + self.max_wait
        return batch, False

    def _run_batch(self, batch: list[Prepared]) -> bool:
        images = np.stack([item.image for item in batch])
        start = time.monotonic()
        probabilities = self.classifier.classify(images)
        elapsed = time.monotonic() - start
        self.batches += 1
        self.inference_seconds += elapsed
        share_ms = elapsed * 1000 / len(batch)
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
