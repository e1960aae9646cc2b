"""A service's sources: added and removed while a pipeline runs (``Pipeline(config, serve=True)``).

``Pipeline`` takes these methods from :class:`SourceChanges`. Adding a source
opens its outputs, gives it a lane in the batcher and starts its capture and
preprocessing threads; removing one stops them, drops its lane and closes the
outputs only it used, while the consuming thread skips its frames still in
flight. The lock each takes is the one the consuming thread holds per frame,
so a frame is never consumed half-way through a change.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from streamcls.config import SourceConfig
from streamcls.errors import ConfigError, StreamclsError
from streamcls.outputs.open import Outputs, SourceOutputs, close_each
from streamcls.pipeline.batching import FairInbox
from streamcls.pipeline.consume import Consumer, SourceStages
from streamcls.pipeline.summary import SourceSummary, source_summary
from streamcls.pipeline.threads import BatchThread, PreprocessThread
from streamcls.postprocess import Postprocessor
from streamcls.sources import SourceSpec, describe_source, open_source
from streamcls.sources.capture import CaptureThread
from streamcls.sources.channel import CapturePolicy, FrameChannel, choose_policy

logger = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 5.0


class SourceChanges:
    """The part of ``Pipeline`` that adds and removes sources (see the module's docstring)."""

    # Set up by Pipeline.
    serving: bool
    _sources_lock: threading.RLock
    _stages: dict[str, SourceStages]
    _threads: list[threading.Thread]
    _outputs: Outputs | None
    _consumer: Consumer | None
    _classifier: Any
    _inbox: FairInbox
    _batchers: list[BatchThread]
    _started_at: float
    batch_observers: list[Callable[[int, float], object]]
    config: Any
    several: bool
    labels: tuple[str, ...]

    def _source_stages(
        self, spec: SourceSpec, source_config: SourceConfig, opener: Any, outputs: SourceOutputs, batch_size: int
    ) -> SourceStages:
        """One source's capture and hand-offs, not started; it stops with the run or on its own (removed)."""
        policy = choose_policy(source_config, spec.live)
        channel = FrameChannel(policy, capacity=2 * batch_size)
        own_stop = threading.Event()
        capture = CaptureThread(
            opener, spec, source_config, channel, own_stop, self.config.output.max_frames, retry_open=self.several
        )
        return SourceStages(spec.source_id, source_config, policy, channel, capture, outputs, stop=own_stop)

    def _prepare(self, stages: SourceStages) -> None:
        """The stages that need the model: postprocessing and the preprocessing thread (not started)."""
        assert self._classifier is not None
        stages.postprocessor = Postprocessor(self.labels, self.config.postprocess)
        stages.preprocess = PreprocessThread(
            stages.channel, self._classifier.preprocess_spec, self._inbox, stages.source_id, stages.stop
        )
        self._threads.append(stages.preprocess)

    def add_source(self, source_config: SourceConfig) -> str:
        """Start one more source in a running service; returns its id. The others go on undisturbed.

        Raises:
            ConfigError: its id is taken already.
            SinkError, ConfigError: one of its outputs cannot be opened (nothing was started then).
        """
        if not self.serving or self._consumer is None or self._outputs is None or self._classifier is None:
            raise StreamclsError("add_source needs a started Pipeline(config, serve=True)")
        spec = describe_source(source_config.uri, source_config.id)
        source_config = replace(source_config, id=spec.source_id)
        with self._sources_lock:
            if spec.source_id in self._stages:
                raise ConfigError(
                    f"source id {spec.source_id!r} is taken already; give another id, or remove that source first"
                )
            outputs = self._outputs.add_source(spec.source_id, source_config)
            stages = self._source_stages(
                spec, source_config, functools.partial(open_source, source_config), outputs, self._classifier.batch_size
            )
            if self._consumer.events is not None:
                self._consumer.events.add_source(
                    spec.source_id, source_config.events, stages.policy is CapturePolicy.LATEST
                )
            self._inbox.add_lane(spec.source_id, live=stages.policy is CapturePolicy.LATEST)
            self._prepare(stages)
            self._stages[spec.source_id] = stages
            self._threads.append(stages.capture)
            stages.capture.ready.set()
            stages.capture.start()
            assert stages.preprocess is not None
            stages.preprocess.start()
        logger.info("%s: added", spec.source_id)
        return spec.source_id

    def remove_source(self, source_id: str) -> SourceSummary:
        """Stop one source of a running service and close its own outputs whole; returns what it did.

        The other sources keep their threads, lanes and rate; frames of this one
        still in flight are dropped.

        Raises:
            KeyError: no source has that id.
        """
        with self._sources_lock:
            stages = self._stages[source_id]
        stages.stop.set()
        for thread in (stages.capture, stages.preprocess):
            if thread is not None and thread.ident is not None:
                thread.join(JOIN_TIMEOUT_S)
        self._inbox.remove_lane(source_id)
        with self._sources_lock:  # the consumer takes this lock per frame: it never sees half a removal
            summary = self.source_summary(source_id)
            del self._stages[source_id]
            self._threads = [thread for thread in self._threads if thread not in (stages.capture, stages.preprocess)]
            assert self._outputs is not None
            own_sinks = self._outputs.detach_source(source_id)
            if self._consumer is not None and self._consumer.events is not None:
                self._consumer.events.forget(source_id)
        # Closed outside the lock: finishing a video file must not hold up the other sources.
        failures = close_each(own_sinks)
        if stages.capture.source is not None and not stages.capture.is_alive():
            stages.capture.source.close()
        for failure in failures:
            logger.error("%s", failure)
        logger.info("%s: removed", source_id)
        return summary

    def observe_batches(self, observer: Callable[[int, float], object]) -> None:
        """Call ``observer(batch size, seconds)`` after each batch the model runs (in an inference thread);
        call it before entering the pipeline to see every batch."""
        self.batch_observers.append(observer)

    def source_ids(self) -> list[str]:
        with self._sources_lock:
            return list(self._stages)

    def source_summary(self, source_id: str) -> SourceSummary:
        """What one source did so far (raises KeyError for an unknown id)."""
        with self._sources_lock:
            stages = self._stages[source_id]
            inbox = getattr(self, "_inbox", None)
            dropped = inbox.dropped.get(source_id, 0) if inbox is not None else 0
            return source_summary(stages, time.monotonic() - self._started_at, dropped)

    def source_config(self, source_id: str) -> SourceConfig:
        """The configuration a source runs with (its id made unique); KeyError for an unknown id."""
        with self._sources_lock:
            return self._stages[source_id].config
