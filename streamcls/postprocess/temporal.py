"""Temporal behaviour of one source's labels: smoothing of probabilities, then hysteresis.

Per-frame labels flicker: a single odd frame, or two classes trading the lead
for a few frames at a boundary. Two stages, each with state, so one instance
per source:

* a ``Smoother`` averages probability vectors over time (a moving window, or an
  exponential moving average);
* ``Hysteresis`` holds the shown label until another class leads it by a margin
  for a number of frames in a row.

Example::

    smoother = make_smoother(config.postprocess)
    hysteresis = Hysteresis(config.postprocess.hysteresis, config.postprocess.threshold)
    for probabilities in per_frame:
        shown = hysteresis.update(smoother.update(probabilities))
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

import numpy as np

from streamcls.config import HysteresisConfig, PostprocessConfig


class Smoother(Protocol):
    """Turns the newest probability vector into a smoothed one."""

    def update(self, probabilities: np.ndarray) -> np.ndarray: ...


class Unsmoothed:
    """The identity: the probabilities of the frame itself."""

    def update(self, probabilities: np.ndarray) -> np.ndarray:
        return probabilities.astype(np.float64)


class WindowSmoother:
    """The mean of the last ``size`` vectors (fewer at the start of a stream)."""

    def __init__(self, size: int):
        self._window: deque[np.ndarray] = deque(maxlen=size)
        self._sum: np.ndarray | None = None

    def update(self, probabilities: np.ndarray) -> np.ndarray:
        # A running sum: O(classes) per frame whatever the window.
        values = probabilities.astype(np.float64)
        if self._sum is None:
            self._sum = np.zeros_like(values)
        if len(self._window) == self._window.maxlen:
            self._sum -= self._window[0]
        self._window.append(values)
        self._sum += values
        return self._sum / len(self._window)


class EmaSmoother:
    """``state = alpha * newest + (1 - alpha) * state``; the first frame starts the state.

    Starting from the first frame (not from zeros) means the first outputs are
    not biased towards "nothing", and the result stays a probability vector.
    """

    def __init__(self, alpha: float):
        self.alpha = alpha
        self._state: np.ndarray | None = None

    def update(self, probabilities: np.ndarray) -> np.ndarray:
        values = probabilities.astype(np.float64)
        if self._state is None:
            self._state = values
        else:
            self._state = self.alpha * values + (1.0 - self.alpha) * self._state
        return self._state


def make_smoother(config: PostprocessConfig) -> Smoother:
    if config.smoothing == "window":
        return WindowSmoother(config.window)
    if config.smoothing == "ema":
        return EmaSmoother(config.ema_alpha)
    return Unsmoothed()


class Hysteresis:
    """Holds the shown class until it has clearly been beaten for a while.

    ``update`` returns the index of the shown class, or ``None`` for "unknown"
    (the top score is below ``threshold``). The first frame is shown as it is.
    After that, the shown class is *beaten* on a frame when the top class leads
    it by at least ``margin`` (for a shown "unknown": the top class reaches the
    threshold; for "unknown" as the top: the top score falls below it). After
    ``frames`` beaten frames in a row, the shown label becomes the class that
    was on top in most of them (ties: the one with the most probability summed
    over them).

    The challenger need not top every one of those frames: at a boundary with
    a stray frame of a third class, the shown class is beaten all the same, so
    the label changes on time, and the vote picks the class that really took
    over rather than the stray one, however confident that one frame was.
    """

    def __init__(self, config: HysteresisConfig, threshold: float = 0.0):
        self.margin = config.margin
        self.frames = config.frames
        self.threshold = threshold
        self._started = False
        self._shown: int | None = None
        self._beaten = 0
        # Over the beaten frames: how often each candidate was on top, and its summed score.
        self._votes: dict[int | None, list[float]] = {}

    def update(self, probabilities: np.ndarray) -> int | None:
        top = int(np.argmax(probabilities))
        candidate: int | None = top if probabilities[top] >= self.threshold else None
        if not self._started:
            self._started = True
            self._shown = candidate
            return candidate
        if candidate != self._shown and self._leads(candidate, probabilities):
            self._beaten += 1
            tally = self._votes.setdefault(candidate, [0, 0.0])
            tally[0] += 1
            tally[1] += float(probabilities[top])
        else:
            self._beaten = 0
            self._votes.clear()
        if self._beaten >= self.frames:
            self._shown = max(self._votes, key=lambda key: tuple(self._votes[key]))
            self._beaten = 0
            self._votes.clear()
        return self._shown

    def _leads(self, candidate: int | None, probabilities: np.ndarray) -> bool:
        if candidate is None or self._shown is None:
            return True  # crossing the threshold, either way, is the lead
        return float(probabilities[candidate] - probabilities[self._shown]) >= self.margin
