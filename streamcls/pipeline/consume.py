"""The consuming stage: a classified frame -> postprocess -> events -> overlay -> sinks, timed.

It runs in the thread that iterates the pipeline, never in an inference
thread: a slow sink holds back file sources (every frame must be processed)
and makes live ones drop stale frames, but never stalls capture.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamcls.config import SourceConfig
from streamcls.errors import SinkError, StreamclsError
from streamcls.frames import Classified, Event, Prediction
from streamcls.outputs.open import Outputs, SourceOutputs
from streamcls.outputs.overlay import render
from streamcls.outputs.sink import takes_events
from streamcls.pipeline.clocks import SlidingRate, StageClock
from streamcls.pipeline.threads import PreprocessThread
from streamcls.postprocess import Postprocessor
from streamcls.postprocess.events import EventProducer
from streamcls.sources.capture import CaptureThread
from streamcls.sources.channel import CapturePolicy, FrameChannel


@dataclass
class SourceStages:
    """Everything one source owns in a pipeline: its capture, hand-offs, postprocessor, sinks and clocks."""

    source_id: str
    config: SourceConfig
    policy: CapturePolicy
    channel: FrameChannel
    capture: CaptureThread
    outputs: SourceOutputs
    stop: threading.Event = field(default_factory=threading.Event)  # this source's own stop (removed from a service)
    preprocess: PreprocessThread | None = None
    postprocessor: Postprocessor | None = None
    rate: SlidingRate = field(default_factory=lambda: SlidingRate(1.0))
    clock: StageClock = field(default_factory=StageClock)
    processed: int = 0
    first_at: float | None = None
    last_at: float | None = None


class Consumer:
    """Turns each classified frame into a prediction and hands it to its source's sinks.

    ``render_overlay`` draws the overlay even when no sink wants a picture
    (benchmarks, callers that read ``last_image``); ``titled`` puts the source
    id on it (several sources).
    """

    def __init__(
        self,
        outputs: Outputs,
        render_overlay: bool = False,
        titled: bool = False,
        events: EventProducer | None = None,
        on_event: Callable[[Event], object] | None = None,
    ):
        self.outputs = outputs
        self.events = events  # None: no sink or caller wants events, so none are made
        self.on_event = on_event
        self.render_overlay = render_overlay
        self.titled = titled
        self.clock = StageClock()
        self.rate = SlidingRate(1.0)
        self.processed = 0
        self.last_image: np.ndarray | None = None

    def consume(self, stages: SourceStages, classified: Classified) -> Prediction:
        """Postprocess, draw, write; returns the prediction.

        Raises:
            SinkError: an output failed (a sink's own error, or any other exception it raised).
        """
        assert stages.postprocessor is not None
        start = time.monotonic()
        prediction = stages.postprocessor.predict(classified)
        stages.rate.tick(start)
        self.rate.tick(start)
        after_post = time.monotonic()
        image = None
        grid = self.outputs.grid
        if self.render_overlay or stages.outputs.draws or grid is not None:
            image = render(
                classified.frame.image, prediction, stages.rate.rate(), title=stages.source_id if self.titled else None
            )
            self.last_image = image
        after_overlay = time.monotonic()
        self.outputs.guard.check(self.processed)
        if self.events is not None:
            for event in self.events.update(prediction, classified.frame.image):
                self._deliver(stages, event)
        video = stages.outputs.video
        if video is not None and video.frames == 0:
            video.set_rate(stages.capture.source.fps if stages.capture.source else None)
        for sink in stages.outputs.sinks:
            _write(sink, image, prediction)
        if grid is not None and image is not None and stages.source_id in grid.status:  # not one added later
            fps = stages.rate.rate()
            grid.update(stages.source_id, image, f"{fps:.1f} fps" if fps else "", prediction)
        done = time.monotonic()
        for clock in (self.clock, stages.clock):
            clock.add("postprocess", (after_post - start) * 1000)
            clock.add("overlay", (after_overlay - after_post) * 1000)
            clock.add("write", (done - after_overlay) * 1000)
            for stage, milliseconds in prediction.timings.items():
                clock.add(stage.removesuffix("_ms"), milliseconds)
            clock.add_latency(prediction.latency_ms)
        stages.processed += 1
        stages.first_at = stages.first_at or start
        stages.last_at = done
        self.processed += 1
        return prediction

    def _deliver(self, stages: SourceStages, event: Event) -> None:
        """Hand an event to its source's event sinks (each may first complete it), then the caller."""
        sinks = [sink for sink in stages.outputs.sinks if takes_events(sink)]
        for sink in sinks:
            prepare = getattr(sink, "prepare_event", None)
            if prepare is not None:
                event = _guarded(sink, event.start_frame, event.source_id, prepare, event)
        for sink in sinks:
            _guarded(sink, event.start_frame, event.source_id, sink.write_event, event)  # type: ignore[attr-defined]
        if self.on_event is not None:
            self.on_event(event)

    def quit_requested(self) -> bool:
        """Whether a window asked the run to stop (q, Esc or its close button)."""
        return any(window.quit for window in self.outputs.windows())


def _write(sink: object, image: np.ndarray | None, prediction: Prediction) -> None:
    wanted = image if getattr(sink, "needs_image", False) else None
    _guarded(sink, prediction.frame_index, prediction.source_id, sink.write, wanted, prediction)  # type: ignore[attr-defined]


def _guarded(sink: object, frame_index: int, source_id: str, call: Callable, *arguments: object) -> Any:
    """``call(*arguments)``, any failure of the sink's reported like any other output failure."""
    try:
        return call(*arguments)
    except StreamclsError:
        raise
    except Exception as error:  # a sink of the user's: a one-line SinkError, exit status 6
        raise SinkError(
            f"output {type(sink).__name__} failed at frame {frame_index} of "
            f"{source_id}: {type(error).__name__}: {error}"
        ) from error
