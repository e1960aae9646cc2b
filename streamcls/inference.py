"""Preprocessing and batched inference, each in its own thread.

``PreprocessThread`` (one per source) turns frames from that source's capture
channel into model input, in the source's lane of a ``FairInbox``;
``BatchThread`` (one per run) takes up to ``batch_size`` of them across the
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
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from streamcls.batching import FairInbox
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
    def __init__(self, channel: FrameChannel, spec: PreprocessSpec, inbox: FairInbox, source_id: str,
                 stop: threading.Event):
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
                frame = item  # type: ignore[assignment]
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


class BatchThread(threading.Thread):
    """Runs the classifier on batches taken fairly across sources, keeping each source's order."""

    def __init__(self, classifier: BatchClassifier, inbox: FairInbox, output: queue.Queue,
                 stop: threading.Event, max_batch_wait_ms: float):
        super().__init__(name="inference", daemon=True)
        self.classifier, self.inbox, self.output, self.stop_event = classifier, inbox, output, stop
        self.max_wait = max_batch_wait_ms / 1000
        self.batches = 0
        self.inference_seconds = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                batch = self.inbox.take(self.classifier.batch_size, self.max_wait, self.stop_event)
                if batch is None:  # every source has ended
                    break
                if batch and not self._run_batch(batch):
                    break
        except BaseException as error:
            logger.exception("inference failed")
            self.error = error
        finally:
            force_put(self.output, END, self.stop_event)

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
