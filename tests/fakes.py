"""Fakes for pipeline tests: a source and a classifier that record what happened.

Every fake frame carries its index in its pixels (value = index % 256 in the
top-left pixel, index // 256 in the next), and the fake classifier reads it
back into the winning class, so a record can be checked against the frame it
came from: nothing shuffled, nothing routed to the wrong frame.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from streamcls.config import InputSize, PreprocessConfig
from streamcls.errors import EndOfStream, SourceOpenError, StreamLost
from streamcls.frames import Decoded
from streamcls.model.build import ModelSpec
from streamcls.preprocess import PreprocessSpec
from streamcls.sources import SourceSpec

NUM_CLASSES = 256


TAG_STEP = 40  # a source's tag t is painted as red = 40 * t (t < 6), far apart after resizing


def frame_with_index(index: int, height: int = 24, width: int = 32, tag: int = 0) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :, 0] = index % 256
    image[:, :, 1] = (index // 256) % 256
    image[:, :, 2] = TAG_STEP * tag
    return image


def expected_class(index: int, tag: int = 0) -> str:
    """What ``FakeClassifier`` answers for frame ``index`` of the source tagged ``tag``."""
    return f"c{(index + 17 * tag) % NUM_CLASSES}"


class FakeSource:
    """``count`` frames; ``live`` sources pace themselves at ``fps``; can drop once."""

    def __init__(self, count: int, live: bool = False, fps: float | None = None,
                 lose_at: set[int] | None = None, reopen_failures: int = 0, source_id: str = "fake",
                 tag: int = 0, down_for: float = 0.0):
        self.spec = SourceSpec("stream" if live else "file", f"fake://{source_id}", source_id)
        self.tag = tag
        self.down_for = down_for  # a reopen fails until this many seconds after the drop
        self.count = count
        self.fps = fps
        self.frame_count_hint = None if live else count
        self.lose_at = set(lose_at or ())
        self.reopen_failures = reopen_failures
        self.reopens = 0
        self.closed = False
        self._next = 0
        self._started = time.monotonic()

    def read(self):
        if self._next in self.lose_at:
            self.lose_at.discard(self._next)
            self._lost_at = time.monotonic()
            raise StreamLost("fake drop")
        if self._next >= self.count:
            raise EndOfStream()
        if self.fps:  # a live camera delivers at its own rate
            due = self._started + self._next / self.fps
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        image = frame_with_index(self._next, tag=self.tag)
        position = self._next * 40.0 if not self.spec.live else None
        self._next += 1
        return Decoded(image, position)

    def reopen(self):
        self.reopens += 1
        if self.reopens <= self.reopen_failures:
            raise SourceOpenError("fake: still down")
        if self.down_for and time.monotonic() - self._lost_at < self.down_for:
            raise SourceOpenError("fake: still down")
        if self.fps:  # a live camera goes on at its own rate from now
            self._started = time.monotonic() - self._next / self.fps

    def close(self):
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FakeClassifier:
    """Reads the frame index back from the preprocessed pixels; records every batch."""

    def __init__(self, batch_size: int = 4, delay_s: float = 0.0):
        self.batch_size = batch_size
        self.delay_s = delay_s
        self.spec = ModelSpec(alpha=0.25, input_size=InputSize(8, 8),
                              classes=tuple(f"c{i}" for i in range(NUM_CLASSES)))
        self.preprocess_spec = PreprocessSpec(self.spec.input_size, PreprocessConfig(interpolation="nearest"))
        self.batch_sizes: list[int] = []
        self.device = "fake"
        self._lock = threading.Lock()

    def classify(self, images: np.ndarray) -> np.ndarray:
        with self._lock:
            self.batch_sizes.append(len(images))
        if self.delay_s:
            time.sleep(self.delay_s)
        # preprocess gives RGB in [-1, 1]: the blue channel (BGR index 0) is RGB index 2, red is 0.
        values = np.rint((images[:, 0, 0, 2] + 1) * 127.5).astype(int)
        tags = np.rint((images[:, 0, 0, 0] + 1) * 127.5 / TAG_STEP).astype(int)
        probabilities = np.full((len(images), NUM_CLASSES), 0.1 / (NUM_CLASSES - 1), np.float32)
        probabilities[np.arange(len(images)), (values + 17 * tags) % NUM_CLASSES] = 0.9
        return probabilities
