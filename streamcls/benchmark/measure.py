"""The timed measurements of a sweep: model alone, whole pipeline, naive loop, decode alone.

Every figure uses ``time.perf_counter``; model-only figures are medians of
several timed repeats after a warm-up, so one slow repeat on a shared machine
does not decide the result. Peak memory is the process's resident set, sampled
while the measurement runs.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from streamcls.config import Config
from streamcls.preprocess import preprocess

PAGE_BYTES = 4096


@dataclass(frozen=True)
class Timing:
    throughput_fps: float
    spread: float | None
    latencies_ms: tuple[float, ...]  # per frame
    peak_memory_mb: float | None = None


def resident_mb() -> float | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_BYTES / 2**20
    except OSError:  # not Linux
        return None


@contextmanager
def peak_memory(interval_s: float = 0.02) -> Iterator[list[float]]:
    """Yields a one-item list that holds, after the block, the peak resident MB seen in it."""
    peak = [resident_mb() or 0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval_s):
            peak[0] = max(peak[0], resident_mb() or 0.0)

    sampler = threading.Thread(target=sample, name="memory-sampler", daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()
        peak[0] = max(peak[0], resident_mb() or 0.0)


def time_calls(
    call: Callable[[], object], frames_per_call: int, repeats: int, seconds: float, warm_up: int = 2
) -> tuple[list[float], list[float]]:
    """Frames/s of ``call`` in each of ``repeats`` timed stretches of ``seconds``, and every call's ms.

    The one timing loop of the benchmarks: ``warm_up`` untimed calls first (tracing, caches).
    """
    for _ in range(warm_up):
        call()
    rates, calls_ms = [], []
    for _ in range(repeats):
        frames, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            call_started = time.perf_counter()
            call()
            calls_ms.append((time.perf_counter() - call_started) * 1000)
            frames += frames_per_call
        rates.append(frames / (time.perf_counter() - started))
    return rates, calls_ms


def model_only(classifier: Any, repeats: int, seconds: float) -> Timing:
    """The classifier on a synthetic full batch: median frames/s over ``repeats``."""
    batch_size = classifier.batch_size
    batch = np.random.default_rng(0).uniform(-1, 1, (batch_size, *classifier.spec.input_size.shape))
    batch = batch.astype(np.float32)
    with peak_memory() as peak:
        rates, calls_ms = time_calls(lambda: classifier.classify(batch), batch_size, repeats, seconds)
    median = statistics.median(rates)
    # A frame waits for its whole batch: its latency is the call's duration.
    return Timing(median, (max(rates) - min(rates)) / median, tuple(calls_ms), peak[0])


def end_to_end(classifier: Any, config: Config) -> tuple[Timing, list[Any]]:
    """The real pipeline over the source (overlay drawn, no sinks); its predictions too."""
    from streamcls.pipeline import Pipeline

    predictions = []
    with peak_memory() as peak:
        started = time.perf_counter()
        with Pipeline(config, classifier=classifier, render_overlay=True) as pipeline:
            for prediction in pipeline:
                predictions.append(prediction)
        elapsed = time.perf_counter() - started
    latencies = tuple(prediction.latency_ms for prediction in predictions)
    return Timing(len(predictions) / elapsed, None, latencies, peak[0]), predictions


def naive_loop(model: Any, spec: Any, video: str | None, frames: int) -> Timing:
    """The classic tutorial: read a frame, resize, ``model.predict`` on that one frame, draw.

    Without a video, the frames are synthetic 720p pictures (no decoding).
    """
    capture = cv2.VideoCapture(video) if video else None
    synthetic = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    latencies, done = [], 0
    started = time.perf_counter()
    while done < frames:
        frame_started = time.perf_counter()
        if capture is not None:
            ok, image = capture.read()
            if not ok:
                break
        else:
            image = synthetic.copy()
        probabilities = model.predict(preprocess(image, spec)[None], verbose=0)
        cv2.putText(image, str(int(probabilities.argmax())), (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
        latencies.append((time.perf_counter() - frame_started) * 1000)
        done += 1
    elapsed = time.perf_counter() - started
    if capture is not None:
        capture.release()
    return Timing(done / elapsed if elapsed > 0 else 0.0, None, tuple(latencies))


def decode_only(video: str, max_frames: int | None = None) -> Timing:
    """Reading the source and nothing else: the bound no pipeline on this source can beat."""
    capture = cv2.VideoCapture(video)
    frames, started = 0, time.perf_counter()
    while (max_frames is None or frames < max_frames) and capture.read()[0]:
        frames += 1
    elapsed = time.perf_counter() - started
    capture.release()
    return Timing(frames / elapsed if elapsed > 0 else 0.0, None, ())


def percentiles(latencies_ms: tuple[float, ...]) -> tuple[float | None, float | None, float | None]:
    if not latencies_ms:
        return None, None, None
    p50, p95, p99 = np.percentile(np.asarray(latencies_ms), [50, 95, 99])
    return float(p50), float(p95), float(p99)
