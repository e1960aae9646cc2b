"""Wire the stages: capture threads -> preprocess threads -> one inference thread -> you.

Example::

    from streamcls.config import load_config
    from streamcls.pipeline.runner import Pipeline

    config = load_config("configs/run.yaml", {"source.uri": "clip.mp4"})
    with Pipeline(config) as pipeline:
        for prediction in pipeline:
            print(prediction.source_id, prediction.frame_index, prediction.label, prediction.score)
    print(pipeline.summary())

One source or several (``sources:`` in the config): every source has its own
capture thread (opening it, under its own policy and reconnect settings) and
its own preprocessing thread; one inference thread batches frames across all
of them fairly (``batching.py``), so one model serves every camera. Each
result goes back to its own source's postprocessor and sinks, in that
source's frame order. A source that fails, drops, stalls or reconnects holds
up only itself; the run ends when every source has ended.

Postprocessing, overlay and sinks run in the thread that iterates (or that
calls :meth:`Pipeline.run`), never in the inference thread: a slow consumer
holds back file sources (every frame must be processed) and makes live ones
drop stale frames, but never stalls capture of a live source.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from streamcls.pipeline.batching import FairInbox
from streamcls.config import Config, SourceConfig
from streamcls.errors import SourceError, StreamclsError
from streamcls.frames import END, Classified, Prediction, StreamState
from streamcls.pipeline.threads import BatchClassifier, BatchThread, PreprocessThread, Turns
from streamcls.pipeline.clocks import SlidingRate, StageClock
from streamcls.outputs.open import Outputs, SourceOutputs, open_outputs
from streamcls.outputs.overlay import render
from streamcls.postprocess.predict import Postprocessor
from streamcls.sources import FrameSource, SourceSpec, describe_source, open_source
from streamcls.sources.capture import CaptureThread
from streamcls.sources.channel import CapturePolicy, FrameChannel, choose_policy
from streamcls.pipeline.summary import RunSummary, SourceSummary

logger = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 5.0


@dataclass
class _SourceRun:
    """Everything one source owns in a run."""

    source_id: str
    config: SourceConfig
    policy: CapturePolicy
    channel: FrameChannel
    capture: CaptureThread
    outputs: SourceOutputs
    preprocess: PreprocessThread | None = None
    postprocessor: Postprocessor | None = None
    rate: SlidingRate = field(default_factory=lambda: SlidingRate(1.0))
    clock: StageClock = field(default_factory=StageClock)
    processed: int = 0
    first_at: float | None = None
    last_at: float | None = None


class Pipeline:
    """Every configured source through one classifier to the configured sinks.

    Args:
        config: the whole run configuration (``source:``, or several under ``sources:``).
        classifier: an already built classifier (tests, benchmarks, several runs
            sharing one model); by default it is loaded from ``config.model``.
        source: an already opened source (tests) instead of ``config.source``.
        sources: already opened sources (tests) instead of ``config.sources``.
        render_overlay: draw the overlay even without a video or window sink
            (benchmarks, callers that want ``last_image``).
    """

    def __init__(self, config: Config, classifier: BatchClassifier | None = None,
                 source: FrameSource | None = None, render_overlay: bool = False,
                 sources: list[FrameSource] | None = None):
        self.config = config
        self.render_overlay = render_overlay
        self.last_image = None
        self._classifier = classifier
        self._given = [source] if source is not None else list(sources or [])
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._runs: dict[str, _SourceRun] = {}
        self._outputs: Outputs | None = None
        self._clock = StageClock()
        self._rate = SlidingRate(1.0)
        self._processed = 0
        self._started_at = 0.0
        self._finished_at: float | None = None
        self._error: StreamclsError | None = None
        self._batchers: list[BatchThread] = []
        self.notes: list[str] = []
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
        entries = self._entries()
        self.several = len(entries) > 1
        # Cheap checks first: a bad output path must not wait for a source or the model.
        self._outputs = open_outputs(config, [(spec.source_id, source_config, None)
                                              for spec, source_config, _ in entries])
        self.notes.extend(self._outputs.notes)
        batch_size = self._classifier.batch_size if self._classifier is not None else config.inference.batch_size
        for spec, source_config, opener in entries:
            policy = choose_policy(source_config, spec.live)
            channel = FrameChannel(policy, capacity=2 * batch_size)
            capture = CaptureThread(opener, spec, source_config, channel, self._stop, config.output.max_frames,
                                    retry_open=self.several)
            self._runs[spec.source_id] = _SourceRun(spec.source_id, source_config, policy, channel, capture,
                                                    self._outputs.per_source[spec.source_id])
        self.policy = next(iter(self._runs.values())).policy
        # Captures open their sources at once, each in its own thread, and start reading
        # before the model loads: a live stream is read (its stale frames dropped) all
        # along, so the first frame classified is a fresh one.
        for run in self._runs.values():
            if self._classifier is not None:
                run.capture.ready.set()  # nothing to wait for: every frame read counts
            self._threads.append(run.capture)
            run.capture.start()
        self._wait_for_opens()
        if self._classifier is None:
            self._classifier = _load_classifier(config, [run.capture for run in self._runs.values()])
        classifier = self._classifier
        self.labels: tuple[str, ...] = classifier.spec.classes  # type: ignore[attr-defined]
        live = [run.source_id for run in self._runs.values() if run.policy is CapturePolicy.LATEST]
        inbox = FairInbox(self._runs, capacity=2 * classifier.batch_size, fairness=config.inference.fairness,
                          live=live, live_capacity=classifier.batch_size)
        self._inbox = inbox
        self._results: queue.Queue = queue.Queue(maxsize=2 * classifier.batch_size * len(self._runs))
        for run in self._runs.values():
            run.postprocessor = Postprocessor(self.labels, config.postprocess)
            run.preprocess = PreprocessThread(run.channel, classifier.preprocess_spec, inbox, run.source_id,
                                              self._stop)
            self._threads.append(run.preprocess)
        workers = config.inference.workers or (2 if self.several else 1)
        turns = Turns(workers)
        self._batchers = [BatchThread(classifier, inbox, self._results, self._stop, config.inference.max_batch_wait_ms,
                                      turns, number if workers > 1 else 0)
                          for number in range(1, workers + 1)]
        self._threads.extend(self._batchers)
        self._started_at = time.monotonic()
        for thread in self._threads:
            if not thread.is_alive() and thread.ident is None:
                thread.start()
        for run in self._runs.values():
            run.capture.ready.set()
            if run.capture.stats.discarded_before_start:
                logger.info("%s: %d frames read and dropped while the model loaded", run.source_id,
                            run.capture.stats.discarded_before_start)

    def _entries(self) -> list[tuple[SourceSpec, SourceConfig, Callable[[], FrameSource]]]:
        """(spec, config, opener) per source, with ids made unique (the same file twice: ``clip#2``)."""
        configs = list(self.config.sources) or [self.config.source]
        if self._given:
            if len(configs) != len(self._given):
                configs = [replace(configs[0], id=given.spec.source_id) for given in self._given]
            entries = [(given.spec, source_config, (lambda given=given: given))
                       for given, source_config in zip(self._given, configs)]
        else:
            entries = [(describe_source(source_config.uri, source_config.id), source_config,
                        (lambda source_config=source_config: open_source(source_config)))
                       for source_config in configs]
        seen: dict[str, int] = {}
        unique = []
        for spec, source_config, opener in entries:
            seen[spec.source_id] = seen.get(spec.source_id, 0) + 1
            if seen[spec.source_id] > 1:
                spec = replace(spec, source_id=f"{spec.source_id}#{seen[spec.source_id]}")
                source_config = replace(source_config, id=spec.source_id)
                opener = _renamed(opener, spec)
            unique.append((spec, source_config, opener))
        return unique

    def _wait_for_opens(self) -> None:
        """One source: its open must succeed before the model loads (fail fast). Several: the
        run goes on with those that open; a live one that cannot yet is retried meanwhile."""
        captures = [run.capture for run in self._runs.values()]
        while not all(capture.opened.is_set() or capture.state is StreamState.RECONNECTING for capture in captures):
            if self._stop.wait(0.02):
                return
        failed = [capture for capture in captures if capture.state is StreamState.FAILED and capture.error is not None]
        if not self.several and failed:
            raise failed[0].error  # type: ignore[misc]
        if failed and len(failed) == len(captures):
            raise SourceError("no source could be opened: " + "; ".join(str(c.error) for c in failed))
        for capture in failed:
            logger.error("%s: %s; the other sources go on", capture.spec.source_id, capture.error)

    def stop(self) -> None:
        """Ask every stage to stop; frames already in flight are not written."""
        self._stop.set()

    def close(self) -> None:
        """Stop the threads, join them, close every sink and source."""
        self._stop.set()
        for thread in self._threads:
            if thread.ident is None:
                continue
            thread.join(JOIN_TIMEOUT_S)
            if thread.is_alive():
                logger.warning("thread %s did not stop within %.0f s", thread.name, JOIN_TIMEOUT_S)
        if self._finished_at is None:
            self._finished_at = time.monotonic()
        if self._outputs is not None:
            # Every sink is closed even when one fails (a full disk), so the others stay valid.
            for failure in self._outputs.close():
                logger.error("%s", failure)
                if isinstance(failure, StreamclsError):
                    self.close_error = self.close_error or failure
        for run in self._runs.values():
            if run.capture.source is not None:
                run.capture.source.close()

    # -- the run ------------------------------------------------------------
    def __iter__(self) -> Iterator[Prediction]:
        """Predictions in each source's frame order. Raises a source's error, if any, at the end."""
        while True:
            try:
                item = self._results.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    break
                continue
            if item is END:
                break
            prediction = self._emit(self._runs[item.frame.source_id], item)
            yield prediction
            if any(sink.quit for sink in self._windows()):
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

    def _windows(self) -> list[Any]:
        assert self._outputs is not None
        windows = [run.outputs.window for run in self._runs.values() if run.outputs.window is not None]
        if self._outputs.grid is not None and self._outputs.grid.window is not None:
            windows.append(self._outputs.grid.window)
        return windows

    def _emit(self, run: _SourceRun, classified: Classified) -> Prediction:
        assert run.postprocessor is not None and self._outputs is not None
        start = time.monotonic()
        prediction = run.postprocessor.predict(classified)
        run.rate.tick(start)
        self._rate.tick(start)
        after_post = time.monotonic()
        image = classified.frame.image
        grid = self._outputs.grid
        if self.render_overlay or run.outputs.draws or grid is not None:
            image = render(image, prediction, run.rate.rate(), title=run.source_id if self.several else None)
            self.last_image = image
        after_overlay = time.monotonic()
        self._outputs.guard.check(self._processed)
        if run.outputs.video is not None and run.outputs.video.frames == 0:
            run.outputs.video.set_rate(run.capture.source.fps if run.capture.source else None)
        for sink in run.outputs.sinks:
            sink.write(image, prediction)
        if grid is not None:
            fps = run.rate.rate()
            grid.update(run.source_id, image, f"{fps:.1f} fps" if fps else "", prediction)
        done = time.monotonic()
        for clock in (self._clock, run.clock):
            clock.add("postprocess", (after_post - start) * 1000)
            clock.add("overlay", (after_overlay - after_post) * 1000)
            clock.add("write", (done - after_overlay) * 1000)
            for stage, milliseconds in prediction.timings.items():
                clock.add(stage.removesuffix("_ms"), milliseconds)
            clock.add_latency(prediction.latency_ms)
        run.processed += 1
        run.first_at = run.first_at or start
        run.last_at = done
        self._processed += 1
        return prediction

    def _raise_thread_errors(self) -> None:
        for thread in self._threads:
            thread.join(JOIN_TIMEOUT_S)
        for thread in [run.preprocess for run in self._runs.values()] + self._batchers:
            if thread is not None and thread.error is not None:
                raise StreamclsError(f"{thread.name} stage failed: {thread.error}") from thread.error
        failed = [run.capture for run in self._runs.values() if run.capture.error is not None]
        if not failed:
            return
        if not self.several:
            self._error = failed[0].error
            raise failed[0].error  # type: ignore[misc]
        self._error = SourceError(
            f"{len(failed)} of {len(self._runs)} sources failed, the others ran to their end: "
            + "; ".join(str(capture.error) for capture in failed))
        raise self._error

    # -- reporting ------------------------------------------------------------
    @property
    def frame_count_hint(self) -> int | None:
        """Frames the run will process, when every source is a file that says (for a progress bar)."""
        hints = [run.capture.source.frame_count_hint if run.capture.source is not None else None
                 for run in self._runs.values()]
        return sum(hints) if hints and all(hint is not None for hint in hints) else None  # type: ignore[misc]

    @property
    def offline(self) -> bool:
        return all(run.policy is CapturePolicy.BLOCK for run in self._runs.values())

    @property
    def fps(self) -> float | None:
        return self._rate.rate()

    @property
    def processed(self) -> int:
        return self._processed

    def queue_capacities(self) -> dict[str, int]:
        """The bounds of ``queue_depths``, over every source."""
        return {"capture": sum(run.channel.capacity for run in self._runs.values()),
                "prepared": sum(self._inbox.live_capacity if source_id in self._inbox.live else self._inbox.capacity
                                for source_id in self._runs),
                "results": self._results.maxsize}

    def queue_depths(self) -> dict[str, int]:
        """Items waiting between the stages now, over every source (each queue is bounded)."""
        return {"capture": sum(run.channel.depth() for run in self._runs.values()),
                "prepared": sum(self._inbox.depth(source_id) for source_id in self._runs),
                "results": self._results.qsize()}

    def summary(self) -> RunSummary:
        end = self._finished_at or time.monotonic()
        elapsed = max(1e-9, end - self._started_at)
        sources = tuple(self._source_summary(run, elapsed) for run in self._runs.values())
        stage_ms = self._clock.mean_ms()
        frames_read = sum(source.frames_read for source in sources)
        decode_seconds = sum(run.capture.stats.decode_seconds for run in self._runs.values())
        if frames_read:
            stage_ms["decode"] = decode_seconds * 1000 / frames_read
        batches = sum(batcher.batches for batcher in self._batchers)
        if batches:
            stage_ms["inference_per_batch"] = sum(b.inference_seconds for b in self._batchers) * 1000 / batches
        latencies = self._clock.latencies_ms
        videos = [run.outputs.video for run in self._runs.values() if run.outputs.video is not None]
        grid = self._outputs.grid if self._outputs is not None else None
        if grid is not None and grid.video is not None:
            videos.append(grid.video)
        segments = self._outputs.segments if self._outputs is not None else []
        return RunSummary(
            source_id=sources[0].source_id if len(sources) == 1 else f"{len(sources)} sources",
            policy=sources[0].policy if len({s.policy for s in sources}) == 1 else "mixed",
            device=getattr(self._classifier, "device", "n/a"),
            frames_read=frames_read,
            frames_processed=self._processed,
            frames_dropped=sum(source.frames_dropped for source in sources),
            elapsed_s=elapsed,
            throughput_fps=self._processed / elapsed,
            latency_mean_ms=sum(latencies) / len(latencies) if latencies else None,
            latency_p95_ms=self._clock.latency(95),
            stage_ms=stage_ms,
            batches=batches,
            reconnects=sum(source.reconnects for source in sources),
            gaps=tuple(gap for source in sources for gap in source.gaps),
            video_codec=next((video.codec for video in videos if video.codec), None),
            skipped_files=tuple(name for source in sources for name in source.skipped_files),
            segments=sum(len(sink.runs) for sink in segments) if segments else None,
            error=str(self._error) if self._error else None,
            notes=tuple(self.notes),
            sources=sources,
            mean_batch_size=self._processed / batches if batches else None,
        )

    def _source_summary(self, run: _SourceRun, elapsed: float) -> SourceSummary:
        stats = run.capture.stats
        latencies = run.clock.latencies_ms
        return SourceSummary(
            source_id=run.source_id,
            policy=run.policy.value,
            state=run.capture.state.value,
            frames_read=stats.frames_read,
            frames_processed=run.processed,
            frames_dropped=run.channel.dropped + self._inbox.dropped[run.source_id],
            throughput_fps=run.processed / elapsed,
            latency_mean_ms=sum(latencies) / len(latencies) if latencies else None,
            latency_p95_ms=run.clock.latency(95),
            reconnects=stats.reconnects,
            gaps=tuple(run.capture.gaps),
            discarded_before_start=stats.discarded_before_start,
            skipped_files=tuple(getattr(run.capture.source, "skipped", ())),
            error=str(run.capture.error) if run.capture.error else None,
        )


def _renamed(opener: Callable[[], FrameSource], spec: SourceSpec) -> Callable[[], FrameSource]:
    """An opener whose source carries the unique id given to it."""

    def open_renamed() -> FrameSource:
        source = opener()
        source.spec = spec
        return source

    return open_renamed


def _load_classifier(config: Config, captures: list[CaptureThread]) -> Any:
    from streamcls.model.backends import build_classifier_for
    from streamcls.model.load import load_model

    # int8 calibrates on the run's own frames when there is one file or folder and none were named.
    recorded = [capture.spec.uri for capture in captures if not capture.spec.live]
    own_frames = recorded[0] if len(recorded) == 1 and len(captures) == 1 else None
    classifier, _agreement = build_classifier_for(load_model(config.model), config.inference, own_frames)
    return classifier


__all__ = ["Pipeline", "RunSummary", "SourceError", "SourceSummary"]
