"""The ``Sink`` protocol: what every output implements, built-in or your own.

A sink receives every prediction of the sources it serves, in each source's
frame order, in the thread that consumes the pipeline's results. It declares
whether it wants the picture: with ``needs_image = True`` its ``write`` gets
the annotated frame (the overlay drawn); otherwise ``image`` is ``None`` and no
picture work is done on its behalf. A sink is a context manager: the pipeline
enters it when the run starts and exits it at the end, even after a failure,
and an exception from ``write`` or ``close`` is reported like any other output
failure (a one-line ``SinkError``, exit status 6).

Example, a sink of your own::

    class PrintLabels:
        needs_image = False

        def write(self, image, prediction):
            print(prediction.source_id, prediction.frame_index, prediction.shown_label)

        def close(self):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()

    with Pipeline(config, sinks=[PrintLabels()]) as pipeline:
        pipeline.run()

Events (``frames.Event``: a change of a source's shown label that passed the
rules) reach the sinks that have ``write_event(event)``, in each source's order;
such a sink may take predictions too (MQTT's state topic) or ignore them (a
``write`` that does nothing). Before any sink sees an event, each sink that has
``prepare_event(event) -> Event`` may return it completed (the clips sink names
the file it will write). A sink that sends over a network must not block the
pipeline: it hands the event to a queue or an outbox of its own and returns.

From a config (``output.sinks: [{kind: "my_module:PrintLabels"}]``) the class
is built with ``PrintLabels.from_settings(settings)`` when it has that class
method, else ``PrintLabels(settings)``; ``settings`` is a :class:`SinkSettings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from streamcls.config import OutputConfig, PostprocessConfig
from streamcls.errors import ConfigError
from streamcls.frames import Event, Prediction


@runtime_checkable
class Sink(Protocol):
    """Where predictions go. See the module's docstring."""

    @property
    def needs_image(self) -> bool:
        """Whether ``write`` wants the annotated frame; asked per frame (a plain attribute will do)."""

    def write(self, image: np.ndarray | None, prediction: Prediction) -> None:
        """Take one prediction (and the annotated frame, when ``needs_image``)."""

    def close(self) -> None:
        """Finish: leave whatever the sink wrote complete. Called once; must not raise for a second call."""

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class EventSink(Sink, Protocol):
    """A sink that also takes events. See the module's docstring."""

    def write_event(self, event: Event) -> None:
        """Take one event; return at once (hand it to a queue or an outbox to send it)."""


def takes_events(sink: object) -> bool:
    """Whether ``sink`` wants events."""
    return callable(getattr(sink, "write_event", None))


@dataclass(frozen=True)
class SinkSettings:
    """What a sink is built from: its entry in the config, and the run's settings it may need.

    ``path`` is the entry's path with ``{source}`` already replaced; ``source_ids``
    the sources it serves (one, or every source for a shared file); ``fps`` the
    frame rate to write at when known.
    """

    kind: str
    path: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    source_ids: tuple[str, ...] = ()
    fps: float | None = None
    output: OutputConfig = field(default_factory=OutputConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)

    def required_path(self) -> str:
        """The path, for the sinks that write a file.

        Raises:
            ConfigError: the entry gave none.
        """
        if not self.path:
            raise ConfigError(
                f"output.sinks: kind {self.kind} writes a file; give it a path (path: out/{{source}}.{self.kind})"
            )
        return self.path


def build_sink(target: Any, settings: SinkSettings) -> Sink:
    """Build the sink ``target`` names (a class or a factory) from ``settings``."""
    factory = getattr(target, "from_settings", target)
    sink: Sink = factory(settings)
    return sink
