"""Wire the stages: capture threads -> preprocess threads -> inference threads -> consumer -> you.

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
its own preprocessing thread; the inference threads (one for one source, two
by default for several) batch frames across all of them fairly
(``batching.py``), so one model serves every camera. Each
result goes back to its own source's postprocessor and sinks, in that
source's frame order. A source that fails, drops, stalls or reconnects holds
up only itself; the run ends when every source has ended.

Postprocessing, overlay and sinks (``consume.py``) run in the thread that
iterates (or that calls :meth:`Pipeline.run`), never in an inference thread: a
slow consumer holds back file sources (every frame must be processed) and
makes live ones drop stale frames, but never stalls capture of a live source.
Sinks of your own join the configured ones: ``Pipeline(config, sinks=[...])``
(see ``outputs/sink.py``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from streamcls.config import Config
from streamcls.errors import SourceError, StreamclsError
from streamcls.frames import END, Event, Prediction
from streamcls.outputs.open import Outputs, open_outputs
from streamcls.outputs.sink import Sink, takes_events
from streamcls.pipeline.batching import FairInbox
from streamcls.pipeline.changes import JOIN_TIMEOUT_S, SourceChanges
from streamcls.pipeline.consume import Consumer, SourceStages
from streamcls.pipeline.entries import Entry, source_entries, wait_for_opens
from streamcls.pipeline.summary import RunSummary, summarize
from streamcls.pipeline.threads import BatchClassifier, BatchThread, PreprocessThread, Turns
from streamcls.postprocess.events import EventProducer
from streamcls.sources import FrameSource
from streamcls.sources.capture import CaptureThread
from streamcls.sources.channel import CapturePolicy, choose_policy

logger = logging.getLogger(__name__)


class Pipeline(SourceChanges):
    """Every configured source through one classifier to the configured sinks.

    Args:
        config: the whole run configuration (``source:``, or several under ``sources:``).
        classifier: an already built classifier (tests, benchmarks, several runs
            sharing one model); by default it is loaded from ``config.model``
            with the backend ``config.inference.backend`` names.
        source: an already opened source (tests) instead of ``config.source``.
        render_overlay: draw the overlay even without a video or window sink
            (benchmarks, callers that want ``last_image``).
        sources: already opened sources (tests) instead of ``config.sources``.
        on_event: called with each event (a change of a source's shown label that
            passed the rules in ``config.events``), in the thread that iterates.
        sinks: sinks of your own (see ``outputs/sink.py``), beside the configured
            ones; each receives every source's predictions, in each source's order.
        serve: run as a service (``streamcls serve``): sources may be added and
            removed while it runs (:meth:`add_source`, :meth:`remove_source`), none
            left is no end, and the run ends only at :meth:`stop`.
    """

    def __init__(
        self,
        config: Config,
        classifier: BatchClassifier | None = None,
        source: FrameSource | None = None,
        render_overlay: bool = False,
        sources: list[FrameSource] | None = None,
        sinks: list[Sink] | None = None,
        on_event: Callable[[Event], object] | None = None,
        serve: bool = False,
    ):
        self.config = config
        self.serving = serve
        # Guards the set of sources against the consuming thread while a service adds or removes one.
        self._sources_lock = threading.RLock()
        self.render_overlay = render_overlay
        self._classifier = classifier
        self._given = [source] if source is not None else list(sources or [])
        self._given_sinks = list(sinks or [])
        self._on_event = on_event
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._stages: dict[str, SourceStages] = {}
        self._outputs: Outputs | None = None
        self._consumer: Consumer | None = None
        self._started_at = 0.0
        self._finished_at: float | None = None
        self._error: StreamclsError | None = None
        self._batchers: list[BatchThread] = []
        self.batch_observers: list[Callable[[int, float], object]] = []  # shared by every inference thread
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
        entries = source_entries(self.config, self._given) if not self.serving or config.sources else []
        self.several = len(entries) > 1 or self.serving
        # Cheap checks first: a bad output path must not wait for a source or the model.
        self._outputs = open_outputs(
            config, [(spec.source_id, source_config, None) for spec, source_config, _ in entries], self._given_sinks
        )
        self.notes.extend(self._outputs.notes)
        self._consumer = Consumer(
            self._outputs,
            self.render_overlay,
            titled=self.several,
            events=self._event_producer(entries),
            on_event=self._on_event,
        )
        batch_size = self._classifier.batch_size if self._classifier is not None else config.inference.batch_size
        for spec, source_config, opener in entries:
            self._stages[spec.source_id] = self._source_stages(
                spec, source_config, opener, self._outputs.per_source[spec.source_id], batch_size
            )
        self.policy = next(iter(self._stages.values())).policy if self._stages else CapturePolicy.LATEST
        # Captures open their sources at once, each in its own thread, and start reading
        # before the model loads: a live stream is read (its stale frames dropped) all
        # along, so the first frame classified is a fresh one.
        for stages in self._stages.values():
            if self._classifier is not None:
                stages.capture.ready.set()  # nothing to wait for: every frame read counts
            self._threads.append(stages.capture)
            stages.capture.start()
        wait_for_opens([stages.capture for stages in self._stages.values()], self._stop, self.several, self.serving)
        if self._classifier is None:
            self._classifier = _load_classifier(config, [stages.capture for stages in self._stages.values()])
        classifier = self._classifier
        self.labels: tuple[str, ...] = classifier.spec.classes
        live = [stages.source_id for stages in self._stages.values() if stages.policy is CapturePolicy.LATEST]
        inbox = FairInbox(
            self._stages,
            capacity=2 * classifier.batch_size,
            fairness=config.inference.fairness,
            live=live,
            live_capacity=classifier.batch_size,
            hold_open=self.serving,
        )
        self._inbox = inbox
        # A service's sources come and go: its results queue is sized for a few cameras.
        room = len(self._stages) if not self.serving else max(4, len(self._stages))
        self._results: queue.Queue = queue.Queue(maxsize=2 * classifier.batch_size * room)
        for stages in self._stages.values():
            self._prepare(stages)
        workers = config.inference.workers or (2 if self.several else 1)
        turns = Turns(workers)
        self._batchers = [
            BatchThread(
                classifier,
                inbox,
                self._results,
                self._stop,
                config.inference.max_batch_wait_ms,
                turns,
                number if workers > 1 else 0,
            )
            for number in range(1, workers + 1)
        ]
        for batcher in self._batchers:
            batcher.observers = self.batch_observers
        self._threads.extend(self._batchers)
        self._started_at = time.monotonic()
        for thread in self._threads:
            if not thread.is_alive() and thread.ident is None:
                thread.start()
        for stages in self._stages.values():
            stages.capture.ready.set()
            if stages.capture.stats.discarded_before_start:
                logger.info(
                    "%s: %d frames read and dropped while the model loaded",
                    stages.source_id,
                    stages.capture.stats.discarded_before_start,
                )

    def _event_producer(self, entries: list[Entry]) -> EventProducer | None:
        """The events' rules at work, when a sink or the caller takes events; None otherwise (no cost)."""
        assert self._outputs is not None
        if self._on_event is None and not any(takes_events(sink) for sink in self._outputs.all_sinks):
            return None
        own = {spec.source_id: source.events for spec, source, _ in entries if source.events is not None}
        live = frozenset(
            spec.source_id for spec, source, _ in entries if choose_policy(source, spec.live) is CapturePolicy.LATEST
        )
        return EventProducer(self.config.events, own, live)

    def stop(self) -> None:
        """Ask every stage to stop; frames already in flight are not written."""
        self._stop.set()
        with self._sources_lock:
            for stages in self._stages.values():
                stages.stop.set()

    def close(self) -> None:
        """Stop the threads, join them, close every sink and source."""
        self.stop()
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
        for stages in self._stages.values():
            if stages.capture.source is not None:
                stages.capture.source.close()

    # -- the run ------------------------------------------------------------
    def __iter__(self) -> Iterator[Prediction]:
        """Predictions in each source's frame order. Raises a source's error, if any, at the end."""
        assert self._consumer is not None, "use the pipeline inside 'with Pipeline(config) as pipeline:'"
        while True:
            try:
                item = self._results.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    break
                continue
            if item is END:
                break
            with self._sources_lock:
                stages = self._stages.get(item.frame.source_id)
                if stages is None:  # removed from a service while this frame was in flight
                    continue
                prediction = self._consumer.consume(stages, item)
                quit_requested = self._consumer.quit_requested()
            yield prediction
            if quit_requested:
                logger.info("window closed (q, Esc or its close button): stopping")
                break
        self._finished_at = time.monotonic()
        self.stop()
        self._raise_thread_errors()

    def run(self, callback: Callable[[Prediction], object] | None = None) -> RunSummary:
        """Process everything, calling ``callback`` per prediction; return the summary.

        An exception from ``callback`` stops the run cleanly and is re-raised.
        """
        for prediction in self:
            if callback is not None:
                callback(prediction)
        return self.summary()

    def _raise_thread_errors(self) -> None:
        for thread in self._threads:
            thread.join(JOIN_TIMEOUT_S)
        stage_threads: list[PreprocessThread | BatchThread | None] = [
            *(stages.preprocess for stages in self._stages.values()),
            *self._batchers,
        ]
        for stage in stage_threads:
            if stage is not None and stage.error is not None:
                raise StreamclsError(f"{stage.name} stage failed: {stage.error}") from stage.error
        failed = [stages.capture for stages in self._stages.values() if stages.capture.error is not None]
        if not failed or self.serving:  # a service shows each source's error while it runs
            return
        if not self.several:
            self._error = failed[0].error
            raise failed[0].error  # type: ignore[misc]
        self._error = SourceError(
            f"{len(failed)} of {len(self._stages)} sources failed, the others ran to their end: "
            + "; ".join(str(capture.error) for capture in failed)
        )
        raise self._error

    # -- reporting ------------------------------------------------------------
    @property
    def last_image(self) -> Any:
        """The latest annotated frame (with ``render_overlay`` or a sink that draws), else None."""
        return self._consumer.last_image if self._consumer is not None else None

    @property
    def frame_count_hint(self) -> int | None:
        """Frames the run will process, when every source is a file that says (for a progress bar)."""
        hints = [
            stages.capture.source.frame_count_hint if stages.capture.source is not None else None
            for stages in self._stages.values()
        ]
        counts = [hint for hint in hints if hint is not None]
        return sum(counts) if hints and len(counts) == len(hints) else None

    @property
    def offline(self) -> bool:
        return all(stages.policy is CapturePolicy.BLOCK for stages in self._stages.values())

    @property
    def fps(self) -> float | None:
        return self._consumer.rate.rate() if self._consumer is not None else None

    @property
    def processed(self) -> int:
        return self._consumer.processed if self._consumer is not None else 0

    def queue_capacities(self) -> dict[str, int]:
        """The bounds of ``queue_depths``, over every source."""
        return {
            "capture": sum(stages.channel.capacity for stages in self._stages.values()),
            "prepared": sum(
                self._inbox.live_capacity if source_id in self._inbox.live else self._inbox.capacity
                for source_id in self._stages
            ),
            "results": self._results.maxsize,
        }

    def queue_depths(self) -> dict[str, int]:
        """Items waiting between the stages now, over every source (each queue is bounded)."""
        return {
            "capture": sum(stages.channel.depth() for stages in self._stages.values()),
            "prepared": sum(self._inbox.depth(source_id) for source_id in self._stages),
            "results": self._results.qsize(),
        }

    def summary(self) -> RunSummary:
        """What the run did so far (or in all, once it ended), per source and in total."""
        assert self._consumer is not None
        end = self._finished_at or time.monotonic()
        inbox = getattr(self, "_inbox", None)
        with self._sources_lock:
            stages = list(self._stages.values())
        return summarize(
            stages,
            self._consumer,
            self._batchers,
            device=getattr(self._classifier, "device", "n/a"),
            elapsed_s=end - self._started_at,
            error=str(self._error) if self._error else None,
            notes=tuple(self.notes),
            inbox_dropped=dict(inbox.dropped) if inbox is not None else {},
        )


def _load_classifier(config: Config, captures: list[CaptureThread]) -> Any:
    from streamcls.model.backends import build_classifier_for
    from streamcls.model.load import load_model
    from streamcls.sources.sample import sample_frames

    # Calibration and agreement frames: inference.calibration, else the run's own file or
    # folder when there is exactly one source and it is recorded. Read only if the backend asks.
    recorded = [capture.spec.uri for capture in captures if not capture.spec.live]
    uri = config.inference.calibration or (recorded[0] if len(recorded) == 1 and len(captures) == 1 else None)
    frames = (lambda count: sample_frames(uri, count)) if uri else None
    classifier, _agreement = build_classifier_for(load_model(config.model), config.inference, frames)
    return classifier


__all__ = ["Pipeline", "RunSummary", "SourceError"]
