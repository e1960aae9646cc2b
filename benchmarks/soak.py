"""Long-run stability ("soak"): a live source faster than the model, for minutes.

The real ``Pipeline`` with a real Keras classifier (MobileNet alpha 0.25, random
weights) reads a synthetic live source that delivers 640x360 frames at a fixed
rate faster than the model can take them, so the keep-newest policy drops frames
the whole time. Every ``--sample-interval`` seconds it records the process's
resident memory, its Python and OS thread counts, its open file descriptors, the
deepest each queue between the stages has been, and the p95 latency of the
predictions since the previous sample. After a warm-up (TensorFlow's pools,
OpenCV's thread pool and the allocator's arenas fill up once) nothing of that
may trend up: the report gives the memory growth (in MB, per 1000 frames and as
a least-squares slope over the second half), the growth in Python objects per
frame (``sys.getallocatedblocks``: exact where resident memory is blurred by the
allocator's slack), the thread and descriptor ranges, what is left open after
the run, the deepest queues against their capacity, and the p95 latency of the
first against the last window.

    python benchmarks/soak.py --minutes 10
    python benchmarks/soak.py --minutes 3 --reconnect-every 500 --json soak.json
    python benchmarks/soak.py --frames 4000 --reopens 50

``--reconnect-every N`` makes the source drop every N frames (the capture
thread reopens it after ``source.reconnect.initial_delay_s``). ``--reopens N``
then closes and reopens a real ``VideoSource`` on a small MJPG file N times:
OpenCV and FFmpeg leaks (decoder threads, descriptors, buffers) show there.

Figures, not verdicts: ``tests/test_soak.py`` runs the short form with bounds
that a shared, noisy machine cannot break; this script prints what a long run did.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from streamcls.benchmark.measure import resident_mb
from streamcls.config import (
    Config,
    InferenceConfig,
    InputSize,
    ModelConfig,
    OutputConfig,
    ReconnectConfig,
    SourceConfig,
)
from streamcls.errors import EndOfStream, StreamLost
from streamcls.frames import Decoded
from streamcls.sources import FrameSource, SourceSpec

FRAME_SIZE = (640, 360)  # width, height: a typical IP camera's sub-stream


# -- what the process holds -------------------------------------------------------------
def open_descriptors() -> dict[int, str]:
    """This process's open file descriptors and what each points at (Linux)."""
    folder = "/proc/self/fd"
    descriptors = {}
    for name in os.listdir(folder):
        try:
            descriptors[int(name)] = os.readlink(f"{folder}/{name}")
        except OSError:  # the listing's own descriptor, closed by now
            continue
    return descriptors


def os_thread_ids() -> set[int]:
    """Every thread of the process, native ones too (TensorFlow, OpenCV, FFmpeg)."""
    return {int(name) for name in os.listdir("/proc/self/task")}


def os_thread_name(tid: int) -> str:
    try:
        with open(f"/proc/self/task/{tid}/comm") as comm:
            return f"{tid} ({comm.read().strip()})"
    except OSError:  # ended meanwhile
        return f"{tid} (ended)"


@dataclass(frozen=True)
class Holdings:
    """Threads, descriptors and memory at one moment, to compare before and after."""

    python_threads: frozenset[threading.Thread]
    os_threads: frozenset[int]
    descriptors: frozenset[tuple[int, str]]
    resident_mb: float

    @classmethod
    def now(cls) -> Holdings:
        return cls(frozenset(threading.enumerate()), frozenset(os_thread_ids()),
                   frozenset(open_descriptors().items()), resident_mb() or 0.0)

    @classmethod
    def settled(cls, before: Holdings, timeout_s: float = 5.0) -> Holdings:
        """Now, once every OS thread started since ``before`` has gone (at most ``timeout_s``).

        ``Thread.join`` returns when the Python side of a thread is done; the OS
        thread ends a moment later. A leaked thread is still there after the wait.
        """
        deadline = time.monotonic() + timeout_s
        while os_thread_ids() - before.os_threads and time.monotonic() < deadline:
            time.sleep(0.02)
        return cls.now()

    def leaked_since(self, before: Holdings) -> dict[str, list[str]]:
        """What is here now that was not ``before``: threads still alive, descriptors still open.

        Set differences, not counts: a thread or file of someone else's that ends
        meanwhile does not hide a leak, nor look like one.
        """
        return {
            "python_threads": sorted(thread.name for thread in self.python_threads - before.python_threads),
            "os_threads": [os_thread_name(tid) for tid in sorted(self.os_threads - before.os_threads)],
            "descriptors": sorted(f"{fd} -> {target}" for fd, target in self.descriptors - before.descriptors),
        }


# -- the source -----------------------------------------------------------------------
class SyntheticLiveSource:
    """A live stream of moving 640x360 BGR frames at ``fps``, with optional drops.

    Implements ``FrameSource``. Frames are a precomputed picture rolled sideways (a
    fresh array each, as a decoder returns), so making one costs well under a
    millisecond. ``frames`` or ``seconds`` ends the stream (``EndOfStream``);
    ``lose_every`` raises ``StreamLost`` once before every ``lose_every``-th frame,
    from frame ``lose_from`` on (default: ``lose_every``).

    Example::

        with SyntheticLiveSource(fps=300, frames=1000, lose_every=100) as source:
            decoded = source.read()
    """

    def __init__(self, fps: float = 300.0, frames: int | None = None, seconds: float | None = None,
                 lose_every: int | None = None, lose_from: int | None = None,
                 size: tuple[int, int] = FRAME_SIZE, source_id: str = "synthetic"):
        width, height = size
        self.spec = SourceSpec("stream", f"synthetic://{width}x{height}@{fps:g}", source_id)
        self.fps: float | None = fps
        self.frame_count_hint: int | None = None
        self.frames = frames
        self.seconds = seconds
        self.lose_every = lose_every
        self.lose_from = lose_every if lose_from is None else lose_from
        self.delivered = 0
        self.losses = 0
        self.reopens = 0
        self.closed = False
        down, across = np.meshgrid(np.linspace(0, 191, height), np.linspace(0, 191, width), indexing="ij")
        noise = np.random.default_rng(0).integers(0, 64, (height, width, 3))
        self._picture = (np.stack([down, across, (down + across) / 2], axis=-1) + noise).astype(np.uint8)
        self._started = time.monotonic()
        self._clock_start = self._started
        self._paced = 0
        self._last_lost = -1

    def read(self) -> Decoded:
        if self.closed:
            raise EndOfStream()
        now = time.monotonic()
        if (self.frames is not None and self.delivered >= self.frames) or (
                self.seconds is not None and now - self._started >= self.seconds):
            raise EndOfStream()
        index = self.delivered
        if (self.lose_every and index >= self.lose_from and (index - self.lose_from) % self.lose_every == 0
                and index != self._last_lost):
            self._last_lost = index
            self.losses += 1
            raise StreamLost(f"{self.spec.source_id}: synthetic drop before frame {index}")
        period = 1.0 / self.fps  # type: ignore[operator]
        due = self._clock_start + self._paced * period
        if due > now:
            time.sleep(due - now)
        elif now - due > 0.25:  # starved of CPU: a camera skips ahead, it does not burst
            self._clock_start, self._paced = now, 0
        self._paced += 1
        self.delivered += 1
        return Decoded(np.roll(self._picture, (index * 4) % self._picture.shape[1], axis=1))

    def reopen(self) -> None:
        self.reopens += 1
        self._clock_start, self._paced = time.monotonic(), 0

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> SyntheticLiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_clip(path: str | Path, frames: int = 30, size: tuple[int, int] = (320, 180),
               fps: float = 25.0) -> Path:
    """A small MJPG ``.avi`` of moving pictures: a real file for ``VideoSource``."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write MJPG to {path}")
    source = SyntheticLiveSource(fps=1e6, size=size)
    for _ in range(frames):
        writer.write(source.read().image)
    writer.release()
    return Path(path)


# -- configuration and model --------------------------------------------------------------
def soak_config(input_size: InputSize | None = None, alpha: float = 0.25, batch_size: int = 8,
                predictions: str | None = None) -> Config:
    """A live run: keep-newest policy, quick reconnects, no window, optionally a predictions file.

    ``input_size`` defaults to 160x160: with alpha 0.25 on two cores the model then
    takes ~150-200 frames/s in the pipeline, well below a 300 frames/s source.
    """
    return Config(
        model=ModelConfig(alpha=alpha, input_size=input_size or InputSize(160, 160), weights="none"),
        inference=InferenceConfig(batch_size=batch_size, max_batch_wait_ms=20.0, device="cpu"),
        source=SourceConfig(uri="synthetic://", reconnect=ReconnectConfig(
            attempts=3, initial_delay_s=0.01, max_delay_s=0.05)),
        output=OutputConfig(display=False, progress=False, predictions=predictions),
    )


def build_classifier(config: Config) -> Any:
    """The real compiled Keras classifier of ``config.model``, every bucket traced and run once."""
    from streamcls.model.backends.keras import Classifier
    from streamcls.model.load import load_model

    classifier = Classifier.from_loaded(load_model(config.model), batch_size=config.inference.batch_size,
                                        device=config.inference.device)
    classifier.warm_up()
    return classifier


# -- the soak ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    """One look at the process during the run; depths are the deepest since the previous one."""

    at_s: float
    frames_read: int
    frames_processed: int
    resident_mb: float
    python_blocks: int  # sys.getallocatedblocks(): Python objects alive
    python_threads: int
    os_threads: int
    descriptors: int
    queue_depths: dict[str, int]
    latency_p95_ms: float | None  # of the predictions since the previous sample


@dataclass(frozen=True)
class SoakReport:
    """What a soak did. "Steady" is after ``warmup_s`` and before the source ended."""

    source: str
    policy: str
    input_size: str
    batch_size: int
    duration_s: float
    warmup_s: float
    frames_read: int
    frames_processed: int
    frames_dropped: int
    throughput_fps: float
    read_fps: float
    reconnects: int
    gaps: int
    gaps_closed: int
    resident_before_mb: float
    resident_warm_mb: float  # the first steady sample
    resident_end_mb: float  # the last steady sample
    resident_after_mb: float  # the pipeline closed
    growth_mb: float  # peak of the last steady quarter minus peak of the first (see _report)
    growth_per_1000_frames_mb: float  # per 1000 frames read between those two quarters
    slope_second_half_mb_per_min: float  # least squares over the steady samples' second half
    slope_stderr_mb_per_min: float  # its standard error: the samples swing, see _report
    python_blocks_net: int  # growth from the first steady sample to after close, less the latency reservoir
    python_blocks_frames: int  # frames processed over that stretch
    python_threads_range: tuple[int, int]
    python_threads_warm: int
    os_threads_range: tuple[int, int]
    os_threads_warm: int
    descriptors_range: tuple[int, int]
    descriptors_warm: int
    max_queue_depths: dict[str, int]
    queue_capacities: dict[str, int]
    latency_p95_first_ms: float | None
    latency_p95_last_ms: float | None
    latency_p95_slope_ms_per_min: float
    latency_p95_run_ms: float | None
    leaked: dict[str, list[str]]
    samples: tuple[Sample, ...] = field(repr=False, default=())

    @property
    def latency_ratio(self) -> float | None:
        if not self.latency_p95_first_ms or self.latency_p95_last_ms is None:
            return None
        return self.latency_p95_last_ms / self.latency_p95_first_ms

    @property
    def python_blocks_per_frame(self) -> float:
        return self.python_blocks_net / max(1, self.python_blocks_frames)

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "latency_ratio": self.latency_ratio,
                "python_blocks_per_frame": self.python_blocks_per_frame}


class Recorder:
    """What ``soak`` sees while the pipeline runs, kept in preallocated numpy buffers.

    No Python object is kept per prediction or per sample, so the recorder's own
    bookkeeping does not show in the Python-object count it measures.
    """

    COLUMNS = ("at_s", "frames_read", "frames_processed", "resident_mb", "python_blocks",
               "python_threads", "os_threads", "descriptors", "latency_p95_ms")
    CAPACITY = 1 << 16  # latencies kept per window; beyond it a window keeps its first ones

    def __init__(self, queue_names: list[str], warmup_s: float, window_s: float):
        self.queue_names = queue_names
        self.warmup_s = warmup_s
        self.window_s = window_s
        self.rows = np.full((256, len(self.COLUMNS) + len(queue_names)), np.nan)
        self.count = 0
        self.reference: int | None = None  # the first steady row, its object count after gc.collect()
        self.first_window_from = float("inf")
        self.first = np.empty(self.CAPACITY)
        self.first_count = 0
        self.recent_at = np.full(self.CAPACITY, -np.inf)  # a ring: the latest latencies, by time
        self.recent = np.empty(self.CAPACITY)
        self.recent_next = 0
        self.interval = np.empty(self.CAPACITY)
        self.interval_count = 0
        self.depths = np.zeros(len(queue_names))

    def prediction(self, elapsed: float, latency_ms: float, depths: dict[str, int]) -> None:
        self.depths = np.maximum(self.depths, [depths[name] for name in self.queue_names])
        if self.interval_count < self.CAPACITY:
            self.interval[self.interval_count] = latency_ms
            self.interval_count += 1
        if self.first_window_from <= elapsed < self.first_window_from + self.window_s \
                and self.first_count < self.CAPACITY:
            self.first[self.first_count] = latency_ms
            self.first_count += 1
        slot = self.recent_next % self.CAPACITY
        self.recent_at[slot], self.recent[slot] = elapsed, latency_ms
        self.recent_next += 1

    def sample(self, pipeline: Any, elapsed: float) -> None:
        if self.reference is None and elapsed >= self.warmup_s:
            # Cyclic garbage waits for the collector: count objects alive, not objects pending.
            # The pause (~0.3 s with TensorFlow loaded) is why the first latency window starts later.
            gc.collect()
            self.reference = self.count
            self.first_window_from = elapsed + 1.0
        summary = pipeline.summary()  # a few milliseconds: a percentile over the kept latencies
        interval = self.interval[:self.interval_count]
        if self.count == len(self.rows):
            self.rows = np.concatenate([self.rows, np.full_like(self.rows, np.nan)])
        self.rows[self.count] = [
            elapsed, summary.frames_read, summary.frames_processed, resident_mb() or 0.0,
            sys.getallocatedblocks(), threading.active_count(), len(os_thread_ids()),
            len(open_descriptors()), np.percentile(interval, 95) if len(interval) else np.nan,
            *self.depths,
        ]
        self.count += 1
        self.interval_count = 0
        self.depths = np.zeros(len(self.queue_names))

    def samples(self) -> list[Sample]:
        result = []
        for row in self.rows[:self.count]:
            values = dict(zip(self.COLUMNS, row.tolist()))
            p95 = values.pop("latency_p95_ms")
            counts = {name: int(values.pop(name)) for name in self.COLUMNS if name not in
                      ("at_s", "resident_mb", "latency_p95_ms")}
            depths = {name: int(depth) for name, depth in zip(self.queue_names, row[len(self.COLUMNS):])}
            result.append(Sample(at_s=values["at_s"], resident_mb=values["resident_mb"], queue_depths=depths,
                                 latency_p95_ms=None if np.isnan(p95) else p95, **counts))
        return result

    def first_window_p95(self) -> float | None:
        return float(np.percentile(self.first[:self.first_count], 95)) if self.first_count else None

    def last_window_p95(self) -> float | None:
        if not self.recent_next:
            return None
        latest = self.recent_at[(self.recent_next - 1) % self.CAPACITY]
        window = self.recent[self.recent_at >= latest - self.window_s]
        return float(np.percentile(window, 95))


def soak(classifier: Any, make_source: Callable[[], FrameSource], config: Config,
         warmup_s: float, sample_interval_s: float = 0.5, window_s: float = 5.0,
         timeout_s: float = 3600.0) -> SoakReport:
    """Run the pipeline over ``make_source()`` to the source's end, sampling as it goes.

    Args:
        classifier: built once by the caller (``build_classifier``), reused across soaks.
        make_source: opens the source; called after the "before" holdings are taken,
            so the source's own descriptors and threads count as the run's.
        config: the run (``soak_config``).
        warmup_s: seconds left out of the growth and range figures.
        sample_interval_s: how often memory, threads and descriptors are read.
        window_s: the length of the first and the last latency window.
        timeout_s: the run is stopped after this long, whatever the source does.

    Returns:
        The report. A stage's failure is raised, as ``Pipeline`` raises it.

    Raises:
        RuntimeError: the run hit ``timeout_s``, or ended within its warm-up.
    """
    from streamcls.pipeline.clocks import StageClock
    from streamcls.pipeline import Pipeline

    before = Holdings.now()
    source = make_source()
    with Pipeline(config, classifier=classifier, source=source) as pipeline:
        recorder = Recorder(list(pipeline.queue_depths()), warmup_s, window_s)
        timed_out = threading.Event()

        def time_out() -> None:
            timed_out.set()
            pipeline.stop()

        watchdog = threading.Timer(timeout_s, time_out)
        watchdog.start()
        try:
            started = time.monotonic()
            next_sample = started + sample_interval_s
            for prediction in pipeline:
                now = time.monotonic()
                recorder.prediction(now - started, prediction.latency_ms, pipeline.queue_depths())
                if now >= next_sample:
                    recorder.sample(pipeline, now - started)
                    next_sample = now + sample_interval_s
        finally:
            watchdog.cancel()
            watchdog.join()
        capacities = pipeline.queue_capacities()
    if timed_out.is_set():
        raise RuntimeError(f"the soak was stopped after {timeout_s:g} s, before its source ended")
    summary = pipeline.summary()
    gc.collect()
    blocks_after = sys.getallocatedblocks()  # the pipeline, and its latency reservoir, still alive
    after = Holdings.settled(before)
    samples = recorder.samples()
    if recorder.reference is None:
        raise RuntimeError(f"the run ended within its {warmup_s:g} s warm-up: give the source more frames")
    reference = samples[recorder.reference]
    # StageClock keeps one float object per processed frame until it holds MAX_LATENCIES:
    # growth the run is allowed (bounded); anything beyond it is not.
    limit = StageClock.MAX_LATENCIES
    reservoir = min(summary.frames_processed, limit) - min(reference.frames_processed, limit)
    blocks_net = blocks_after - reference.python_blocks - reservoir
    return _report(summary, config, samples, (before, after), warmup_s,
                   (recorder.first_window_p95(), recorder.last_window_p95()),
                   (blocks_net, summary.frames_processed - reference.frames_processed), capacities)


def _slope_per_minute(times_s: list[float], values: list[float]) -> tuple[float, float]:
    """Least-squares slope of ``values`` against time, per minute, and its standard error."""
    if len(times_s) < 4:
        return 0.0, float("inf")
    coefficients, covariance = np.polyfit(np.asarray(times_s) / 60.0, np.asarray(values), 1, cov=True)
    return float(coefficients[0]), float(np.sqrt(covariance[0, 0]))


def _report(summary: Any, config: Config, samples: list[Sample], holdings: tuple[Holdings, Holdings],
            warmup_s: float, latency_windows: tuple[float | None, float | None],
            python_blocks: tuple[int, int], capacities: dict[str, int]) -> SoakReport:
    before, after = holdings
    # Steady: after the warm-up and while the source still delivered (samples taken
    # while the queues drain at the end see the capture thread already gone).
    steady = [sample for sample in samples
              if sample.at_s >= warmup_s and sample.frames_read < summary.frames_read]
    if len(steady) < 4:
        raise RuntimeError(f"only {len(steady)} samples between the {warmup_s:g} s warm-up and the "
                           f"source's end: give the source more frames or sample more often")
    warm, end = steady[0], steady[-1]
    second_half = [sample for sample in steady if sample.at_s >= (warm.at_s + end.at_s) / 2]
    timed_p95 = [(sample.at_s, sample.latency_p95_ms) for sample in steady if sample.latency_p95_ms is not None]
    slope, slope_stderr = _slope_per_minute([s.at_s for s in second_half], [s.resident_mb for s in second_half])
    # The allocator hands memory back now and then (a frame is 0.7 MB), so single samples
    # jitter downwards by several MB; the high-water mark of a stretch is steady, and it
    # is what a leak raises. Growth: the last quarter's peak minus the first quarter's.
    quarter = max(1, len(steady) // 4)
    early, late = steady[:quarter], steady[-quarter:]
    growth = max(s.resident_mb for s in late) - max(s.resident_mb for s in early)
    frames_between = late[len(late) // 2].frames_read - early[len(early) // 2].frames_read
    max_depths = {name: max(s.queue_depths[name] for s in samples) for name in samples[0].queue_depths}

    def span(values: list[int]) -> tuple[int, int]:
        return (min(values), max(values))

    return SoakReport(
        source=summary.source_id, policy=summary.policy, input_size=str(config.model.input_size),
        batch_size=config.inference.batch_size, duration_s=summary.elapsed_s, warmup_s=warmup_s,
        frames_read=summary.frames_read, frames_processed=summary.frames_processed,
        frames_dropped=summary.frames_dropped, throughput_fps=summary.throughput_fps,
        read_fps=summary.frames_read / summary.elapsed_s, reconnects=summary.reconnects,
        gaps=len(summary.gaps), gaps_closed=sum(gap.ended_at is not None for gap in summary.gaps),
        resident_before_mb=before.resident_mb, resident_warm_mb=warm.resident_mb,
        resident_end_mb=end.resident_mb, resident_after_mb=after.resident_mb,
        growth_mb=growth, growth_per_1000_frames_mb=growth * 1000 / max(1, frames_between),
        slope_second_half_mb_per_min=slope, slope_stderr_mb_per_min=slope_stderr,
        python_blocks_net=python_blocks[0], python_blocks_frames=python_blocks[1],
        python_threads_range=span([s.python_threads for s in steady]), python_threads_warm=warm.python_threads,
        os_threads_range=span([s.os_threads for s in steady]), os_threads_warm=warm.os_threads,
        descriptors_range=span([s.descriptors for s in steady]), descriptors_warm=warm.descriptors,
        max_queue_depths=max_depths, queue_capacities=capacities,
        latency_p95_first_ms=latency_windows[0], latency_p95_last_ms=latency_windows[1],
        latency_p95_slope_ms_per_min=_slope_per_minute([t for t, _ in timed_p95], [p for _, p in timed_p95])[0],
        latency_p95_run_ms=summary.latency_p95_ms,
        leaked=after.leaked_since(before), samples=tuple(samples),
    )


# -- reopening a real video source ----------------------------------------------------------
@dataclass(frozen=True)
class ReopenReport:
    """``VideoSource.reopen`` ``cycles`` times on a real file: what stayed behind."""

    cycles: int
    frames_read: int
    resident_before_mb: float
    resident_after_mb: float
    growth_per_cycle_kb: float
    descriptors_range: tuple[int, int]  # while open, over every cycle
    os_threads_range: tuple[int, int]
    leaked: dict[str, list[str]]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def reopen_cycles(path: str | Path, cycles: int = 50, frames_per_cycle: int = 12) -> ReopenReport:
    """Open a ``VideoSource`` on ``path``, then read some frames and ``reopen()``, ``cycles`` times.

    One open-read-reopen-close round first, uncounted: OpenCV's and FFmpeg's
    one-time set-up (codec tables, thread pools) is not a leak.
    """
    from streamcls.sources.video import VideoSource

    spec = SourceSpec("file", str(path), "clip")
    with VideoSource(spec) as source:
        source.read()
        source.reopen()
        source.read()
    before = Holdings.now()
    descriptors, threads, frames = [], [], 0
    with VideoSource(spec) as source:
        for _ in range(cycles):
            for _ in range(frames_per_cycle):
                try:
                    source.read()
                    frames += 1
                except EndOfStream:
                    break
            descriptors.append(len(open_descriptors()))
            threads.append(len(os_thread_ids()))
            source.reopen()
    after = Holdings.settled(before)
    return ReopenReport(
        cycles=cycles, frames_read=frames, resident_before_mb=before.resident_mb,
        resident_after_mb=after.resident_mb,
        growth_per_cycle_kb=(after.resident_mb - before.resident_mb) * 1024 / cycles,
        descriptors_range=(min(descriptors), max(descriptors)),
        os_threads_range=(min(threads), max(threads)), leaked=after.leaked_since(before),
    )


# -- the script -------------------------------------------------------------------------
def print_report(report: SoakReport) -> None:
    print(f"soak: {report.source}, policy {report.policy}, MobileNet alpha 0.25 at {report.input_size}, "
          f"batch {report.batch_size}, {len(os.sched_getaffinity(0))} cores")
    print(f"  ran {report.duration_s:.1f} s (first {report.warmup_s:g} s warm-up): frames read "
          f"{report.frames_read} ({report.read_fps:.1f}/s), processed {report.frames_processed} "
          f"({report.throughput_fps:.1f}/s), dropped {report.frames_dropped}")
    if report.reconnects or report.gaps:
        print(f"  reconnects {report.reconnects}, gaps {report.gaps} ({report.gaps_closed} closed)")
    resident = (f"{report.resident_before_mb:.1f} before, {report.resident_warm_mb:.1f} warm, "
                f"{report.resident_end_mb:.1f} end, {report.resident_after_mb:.1f} after close")
    growth = (f"{report.growth_mb:+.2f} MB first to last quarter after warm-up, "
              f"{report.growth_per_1000_frames_mb:+.3f} MB per 1000 frames read")
    objects = (f"{report.python_blocks_net:+d} blocks net over {report.python_blocks_frames} frames "
               f"processed ({report.python_blocks_per_frame:+.3f} per frame; the latency reservoir's "
               f"one per frame left out)")
    slope = (f"{report.slope_second_half_mb_per_min:+.3f} MB/min, standard error "
             f"{report.slope_stderr_mb_per_min:.3f} (least squares over every sample)")
    depths = ", ".join(f"{name} {depth}/{report.queue_capacities.get(name, '?')}"
                       for name, depth in report.max_queue_depths.items())
    latency = (f"first window {_ms(report.latency_p95_first_ms)}, last window "
               f"{_ms(report.latency_p95_last_ms)}, ratio {_ratio(report.latency_ratio)}; slope "
               f"{report.latency_p95_slope_ms_per_min:+.2f} ms/min; whole run {_ms(report.latency_p95_run_ms)}")
    rows = [
        ("resident MB", resident),
        ("growth (peaks)", growth),
        ("slope, second half", slope),
        ("Python objects", objects),
        ("Python threads", _range(report.python_threads_range, report.python_threads_warm)),
        ("OS threads", _range(report.os_threads_range, report.os_threads_warm)),
        ("file descriptors", _range(report.descriptors_range, report.descriptors_warm)),
        ("deepest queues", depths),
        ("latency p95", latency),
        ("left behind", _leaks(report.leaked)),
    ]
    for name, text in rows:
        print(f"  {name:<22}{text}")


def print_reopens(report: ReopenReport) -> None:
    print(f"VideoSource.reopen x {report.cycles} on an MJPG file ({report.frames_read} frames read):")
    print(f"  {'resident MB':<22}{report.resident_before_mb:.1f} before, {report.resident_after_mb:.1f} after, "
          f"{report.growth_per_cycle_kb:+.1f} KB per reopen")
    print(f"  {'file descriptors':<22}{report.descriptors_range[0]}-{report.descriptors_range[1]} while open")
    print(f"  {'OS threads':<22}{report.os_threads_range[0]}-{report.os_threads_range[1]} while open")
    print(f"  {'left behind':<22}{_leaks(report.leaked)}")


def _range(values: tuple[int, int], warm: int) -> str:
    return f"{values[0]}-{values[1]} after warm-up (at its end: {warm})"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _leaks(leaked: dict[str, list[str]]) -> str:
    found = {kind: items for kind, items in leaked.items() if items}
    return "nothing" if not found else "; ".join(f"{kind}: {', '.join(items)}" for kind, items in found.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, help="run this long (the long form: 10)")
    length.add_argument("--frames", type=int, default=4000, help="or read this many frames (default 4000)")
    parser.add_argument("--source-fps", type=float, default=300.0)
    parser.add_argument("--input-size", default="160", help="model input, e.g. 160 or 128x160")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--reconnect-every", type=int, help="the source drops every N frames")
    parser.add_argument("--sample-interval", type=float, default=0.5, help="seconds between samples")
    parser.add_argument("--warmup", type=float, help="seconds left out of the figures (default: 20%%, 2-60 s)")
    parser.add_argument("--no-predictions", action="store_true", help="no predictions file (no sinks at all)")
    parser.add_argument("--reopens", type=int, default=50, help="VideoSource reopen cycles afterwards (0: none)")
    parser.add_argument("--json", metavar="PATH", help="also write every figure and sample here")
    arguments = parser.parse_args()
    from streamcls.config import parse_input_size

    seconds = arguments.minutes * 60 if arguments.minutes else arguments.frames / arguments.source_fps
    warmup_s = arguments.warmup if arguments.warmup is not None else min(60.0, max(2.0, seconds / 5))
    with tempfile.TemporaryDirectory(prefix="streamcls-soak-") as folder:
        # A predictions file by default: real runs write one, it keeps one descriptor
        # open for the whole run (so a sink that reopened would show), and a growing
        # file sits in the page cache, not in this process's resident memory.
        predictions = None if arguments.no_predictions else os.path.join(folder, "predictions.jsonl")
        config = soak_config(parse_input_size(arguments.input_size), batch_size=arguments.batch_size,
                             predictions=predictions)
        classifier = build_classifier(config)

        def make_source() -> SyntheticLiveSource:
            if arguments.minutes:
                return SyntheticLiveSource(arguments.source_fps, seconds=seconds,
                                           lose_every=arguments.reconnect_every)
            return SyntheticLiveSource(arguments.source_fps, frames=arguments.frames,
                                       lose_every=arguments.reconnect_every)

        window_s = min(30.0, max(2.0, (seconds - warmup_s) / 5))
        report = soak(classifier, make_source, config, warmup_s, arguments.sample_interval, window_s,
                      timeout_s=seconds * 2 + 60)
        print_report(report)
        reopens = None
        if arguments.reopens:
            reopens = reopen_cycles(write_clip(os.path.join(folder, "clip.avi")), arguments.reopens)
            print_reopens(reopens)
    if arguments.json:
        figures = {"soak": report.as_dict(), "reopens": reopens.as_dict() if reopens else None}
        Path(arguments.json).write_text(json.dumps(figures, indent=1, default=str))
        print(f"figures written to {arguments.json}")


if __name__ == "__main__":
    main()
