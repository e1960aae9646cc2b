"""Wire the stages: capture thread -> preprocess thread -> inference thread -> you.

Example::

    from streamcls.config import load_config
    from streamcls.pipeline import Pipeline

    config = load_config("configs/run.yaml", {"source.uri": "clip.mp4"})
    with Pipeline(config) as pipeline:
        for prediction in pipeline:
            print(prediction.frame_index, prediction.label, prediction.score)
    print(pipeline.summary())

Postprocessing, overlay and sinks run in the thread that iterates (or that
calls :meth:`Pipeline.run`), never in the inference thread: a slow consumer
holds back a file run (every frame must be processed) and makes a live run
drop stale frames, but never stalls capture of a live source.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamcls.config import Config
from streamcls.errors import SourceError, StreamclsError
from streamcls.frames import Classified, Prediction
from streamcls.inference import BatchClassifier, BatchThread, PreprocessThread
from streamcls.metrics import SlidingRate, StageClock
from streamcls.overlay import render
from streamcls.postprocess import Postprocessor
from streamcls.show import WindowSink, display_available
from streamcls.sinks import DiskGuard, PredictionsSink, SegmentsSink, VideoSink
from streamcls.sources import FrameSource, open_source
from streamcls.sources.capture import END, CaptureThread, FrameChannel, Gap, choose_policy

logger = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class RunSummary:
    """What a run did; printed by the CLI at the end."""

    source_id: str
    policy: str
    device: str
    frames_read: int
    frames_processed: int
    frames_dropped: int
    elapsed_s: float
    throughput_fps: float
    latency_mean_ms: float | None
    latency_p95_ms: float | None
    stage_ms: dict[str, float]
    batches: int
    reconnects: int
    gaps: tuple[Gap, ...] = ()
    video_codec: str | None = None
    skipped_files: tuple[str, ...] = ()
    segments: int | None = None  # label runs written, when a segments output was asked for
    error: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


class Pipeline:
    """One source through the classifier to the configured sinks.

    Args:
        config: the whole run configuration.
        classifier: an already built classifier (tests, benchmarks, several runs
            sharing one model); by default it is loaded from ``config.model``.
        source: an already opened source (tests); by default ``config.source``.
        render_overlay: draw the overlay even without a video or window sink
            (benchmarks, callers that want ``last_image``).
    """

    def __init__(self, config: Config, classifier: BatchClassifier | None = None,
                 source: FrameSource | None = None, render_overlay: bool = False):
        self.config = config
        self.render_overlay = render_overlay
        self.last_image = None
        self._classifier = classifier
        self._source = source
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sinks: list[Any] = []
        self._clock = StageClock()
        self._rate = SlidingRate(1.0)
        self._processed = 0
        self._started_at = 0.0
        self._finished_at: float | None = None
        self._error: StreamclsError | None = None
        self.notes: list[str] = []
        self.window: WindowSink | None = None
        self.video: VideoSink | None = None
        self.segments: SegmentsSink | None = None
        self.close_error: StreamclsError | None = None

    # -- start and stop -------------------------------------------------
    def __enter__(self) -> Pipeline:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close()
        if exc_type is None and self.close_error is not None:
            raise self.close_error

    def _start(self) -> None:
        config = self.config
        output = config.output
        # Cheap checks first: a bad output path must not wait for the model to load.
        if output.predictions:
            self._sinks.append(PredictionsSink(output.predictions))
        if output.segments:
            self.segments = SegmentsSink(output.segments, config.postprocess.segments_max_gap_s)
            self._sinks.append(self.segments)
        if self._source is None:
            self._source = open_source(config.source)
        source = self._source
        if output.video:
            self.video = VideoSink(output.video, source.fps, output.codec)
            self._sinks.append(self.video)
        if output.display:
            available, reason = display_available()
            if available:
                self.window = WindowSink(f"streamcls - {source.spec.source_id}")
                self._sinks.append(self.window)
            else:
                self.notes.append(f"no window: {reason}; carrying on headless")
                logger.warning("no window: %s; carrying on headless", reason)
        files = [Path(path) for path in (output.predictions, output.segments, output.video) if path]
        self._disk = DiskGuard(files, output.min_free_mb)
        self._disk.check(0)  # a folder already too full fails before the model loads
        # Capture starts before the model loads: a live stream is read (and its stale
        # frames dropped) all along, so the first frame classified is a fresh one, not
        # the oldest of the seconds a network buffer held while the model was loading.
        self.policy = choose_policy(config.source, source.spec.live)
        batch_size = self._classifier.batch_size if self._classifier is not None else config.inference.batch_size
        self._channel = FrameChannel(self.policy, capacity=2 * batch_size)
        self._capture = CaptureThread(source, config.source, self._channel, self._stop, output.max_frames)
        self._threads = [self._capture]
        if self._classifier is not None:
            self._capture.ready.set()  # nothing to wait for: every frame read counts
        self._capture.start()
        if self._classifier is None:
            self._classifier = _load_classifier(config, source)
        classifier = self._classifier
        self.labels: tuple[str, ...] = classifier.spec.classes  # type: ignore[attr-defined]
        self.postprocessor = Postprocessor(self.labels, config.postprocess)
        self._prepared: queue.Queue = queue.Queue(maxsize=2 * classifier.batch_size)
        self._results: queue.Queue = queue.Queue(maxsize=2 * classifier.batch_size)
        self._preprocess = PreprocessThread(self._channel, classifier.preprocess_spec, self._prepared, self._stop)
        self._batcher = BatchThread(classifier, self._prepared, self._results, self._stop,
                                    config.inference.max_batch_wait_ms)
        self._threads += [self._preprocess, self._batcher]
        self._started_at = time.monotonic()
        self._preprocess.start()
        self._batcher.start()
        self._capture.ready.set()
        if self._capture.stats.discarded_before_start:
            logger.info("%s: %d frames read and dropped while the model loaded", source.spec.source_id,
                        self._capture.stats.discarded_before_start)

    def stop(self) -> None:
        """Ask every stage to stop; frames already in flight are not written."""
        self._stop.set()

    def close(self) -> None:
        """Stop the threads, join them, close the source and every sink."""
        self._stop.set()
        for thread in self._threads:
            thread.join(JOIN_TIMEOUT_S)
            if thread.is_alive():
                logger.warning("thread %s did not stop within %.0f s", thread.name, JOIN_TIMEOUT_S)
        if self._finished_at is None:
            self._finished_at = time.monotonic()
        # Every sink is closed even when one fails (a full disk), so the others stay valid.
        for sink in self._sinks:
            try:
                sink.close()
            except StreamclsError as error:
                logger.error("%s", error)
                self.close_error = self.close_error or error
        self._sinks = []
        if self._source is not None:
            self._source.close()

    # -- the run ------------------------------------------------------------
    def __iter__(self) -> Iterator[Prediction]:
        """Predictions in frame order. Raises the source's error, if any, at the end."""
        while True:
            try:
                item = self._results.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    break
                continue
            if item is END:
                break
            prediction = self._emit(item)
            yield prediction
            if self.window is not None and self.window.quit:
                logger.info("window closed (q, Esc or its close button): stopping")
                break
        self._finished_at = time.monotonic()
        self._stop.set()
        self._raise_thread_errors()

    def run(self, callback: Callable[[Prediction], object] | None = None) -> RunSummary:
        """Process everything, calling ``callback`` per prediction; return the summary.

        An exception from ``callback`` stops the run cleanly and is re-raised.
        """
        for prediction in self:
            if callback is not None:
                callback(prediction)
        return self.summary()

    def _emit(self, classified: Classified) -> Prediction:
        start = time.monotonic()
        prediction = self.postprocessor.predict(classified)
        self._rate.tick()
        after_post = time.monotonic()
        image = classified.frame.image
        if self.render_overlay or self.video is not None or self.window is not None:
            image = render(image, prediction, self._rate.rate())
            self.last_image = image
        after_overlay = time.monotonic()
        self._disk.check(self._processed)
        for sink in self._sinks:
            sink.write(image, prediction)
        done = time.monotonic()
        clock = self._clock
        clock.add("postprocess", (after_post - start) * 1000)
        clock.add("overlay", (after_overlay - after_post) * 1000)
        clock.add("write", (done - after_overlay) * 1000)
        for stage, milliseconds in prediction.timings.items():
            clock.add(stage.removesuffix("_ms"), milliseconds)
        clock.add_latency(prediction.latency_ms)
        self._processed += 1
        return prediction

    def _raise_thread_errors(self) -> None:
        for thread in self._threads:
            thread.join(JOIN_TIMEOUT_S)
        if self._capture.error is not None:
            self._error = self._capture.error
            raise self._capture.error
        for thread in (self._preprocess, self._batcher):
            if thread.error is not None:
                raise StreamclsError(f"{thread.name} stage failed: {thread.error}") from thread.error

    # -- reporting ------------------------------------------------------------
    @property
    def frame_count_hint(self) -> int | None:
        return self._source.frame_count_hint if self._source is not None else None

    @property
    def fps(self) -> float | None:
        return self._rate.rate()

    @property
    def processed(self) -> int:
        return self._processed

    def queue_depths(self) -> dict[str, int]:
        """Items waiting between the stages now (each bounded: see ``_start``)."""
        return {"capture": self._channel.depth(), "prepared": self._prepared.qsize(),
                "results": self._results.qsize()}

    def summary(self) -> RunSummary:
        end = self._finished_at or time.monotonic()
        elapsed = max(1e-9, end - self._started_at)
        capture = self._capture
        stage_ms = self._clock.mean_ms()
        if capture.stats.frames_read:
            stage_ms["decode"] = capture.stats.decode_seconds * 1000 / capture.stats.frames_read
        if self._batcher.batches:
            stage_ms["inference_per_batch"] = self._batcher.inference_seconds * 1000 / self._batcher.batches
        latencies = self._clock.latencies_ms
        skipped = tuple(getattr(self._source, "skipped", ()))
        return RunSummary(
            source_id=self._source.spec.source_id,  # type: ignore[union-attr]
            policy=self.policy.value,
            device=getattr(self._classifier, "device", "n/a"),
            frames_read=capture.stats.frames_read,
            frames_processed=self._processed,
            frames_dropped=self._channel.dropped,
            elapsed_s=elapsed,
            throughput_fps=self._processed / elapsed,
            latency_mean_ms=sum(latencies) / len(latencies) if latencies else None,
            latency_p95_ms=self._clock.latency(95),
            stage_ms=stage_ms,
            batches=self._batcher.batches,
            reconnects=capture.stats.reconnects,
            gaps=tuple(capture.gaps),
            video_codec=self.video.codec if self.video else None,
            skipped_files=skipped,
            segments=len(self.segments.runs) if self.segments is not None else None,
            error=str(self._error) if self._error else None,
            notes=tuple(self.notes),
        )


def _load_classifier(config: Config, source: Any) -> Any:
    from streamcls.model.backends import build_classifier_for
    from streamcls.model.load import load_model

    # int8 calibrates on the run's own frames when it is a file or folder and none were named.
    own_frames = None if source.spec.live else config.source.uri
    classifier, _agreement = build_classifier_for(load_model(config.model), config.inference, own_frames)
    return classifier


__all__ = ["Pipeline", "RunSummary", "SourceError"]
