"""Which sources a pipeline runs, with unique ids, and the wait for them to open.

The same file given twice becomes ``clip.mp4`` and ``clip.mp4#2``: ids name
sources in records and file names, so they must differ.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from streamcls.config import Config, SourceConfig
from streamcls.errors import SourceError
from streamcls.frames import StreamState
from streamcls.sources import FrameSource, SourceSpec, describe_source, open_source
from streamcls.sources.capture import CaptureThread

logger = logging.getLogger(__name__)

Entry = tuple[SourceSpec, SourceConfig, Callable[[], FrameSource]]  # what to open, and how


def source_entries(config: Config, given: list[FrameSource]) -> list[Entry]:
    """(spec, config, opener) per source, with ids made unique (the same file twice: ``clip#2``)."""
    configs = list(config.sources) or [config.source]
    entries: list[Entry]
    if given:
        if len(configs) != len(given):
            configs = [replace(configs[0], id=source.spec.source_id) for source in given]
        entries = [
            (source.spec, source_config, functools.partial(_itself, source))
            for source, source_config in zip(given, configs)
        ]
    else:
        entries = [
            (
                describe_source(source_config.uri, source_config.id),
                source_config,
                functools.partial(open_source, source_config),
            )
            for source_config in configs
        ]
    seen: dict[str, int] = {}
    unique: list[Entry] = []
    for spec, source_config, opener in entries:
        seen[spec.source_id] = seen.get(spec.source_id, 0) + 1
        if seen[spec.source_id] > 1:
            spec = replace(spec, source_id=f"{spec.source_id}#{seen[spec.source_id]}")
            source_config = replace(source_config, id=spec.source_id)
            opener = _renamed(opener, spec)
        unique.append((spec, source_config, opener))
    return unique


def wait_for_opens(captures: list[CaptureThread], stop: threading.Event, several: bool, serving: bool = False) -> None:
    """One source: its open must succeed before the model loads (fail fast). Several: the
    run goes on with those that open; a live one that cannot yet is retried meanwhile.
    A service goes on even when none opens: each shows its error, and more can be added."""
    while not all(capture.opened.is_set() or capture.state is StreamState.RECONNECTING for capture in captures):
        if stop.wait(0.02):
            return
    failed = [capture for capture in captures if capture.state is StreamState.FAILED and capture.error is not None]
    if not several and failed:
        raise failed[0].error  # type: ignore[misc]
    if failed and len(failed) == len(captures) and not serving:
        raise SourceError("no source could be opened: " + "; ".join(str(c.error) for c in failed))
    for capture in failed:
        logger.error("%s: %s; the other sources go on", capture.spec.source_id, capture.error)


def _itself(source: FrameSource) -> FrameSource:
    """The opener of a source opened already (tests)."""
    return source


def _renamed(opener: Callable[[], FrameSource], spec: SourceSpec) -> Callable[[], FrameSource]:
    """An opener whose source carries the unique id given to it."""

    def open_renamed() -> FrameSource:
        source = opener()
        source.spec = spec
        return source

    return open_renamed
