"""Which sinks a run opens, per source and shared, from the config and the sink registry.

Every configured output names a sink kind of the registry (``config.names.SINKS``)
or a ``module:Class`` of your own. The file keys (``output.predictions``,
``segments``, ``video`` and the same under each ``sources[i].output``) are
entries of that registry too, and ``output.sinks`` / ``sources[i].output.sinks``
list any kind with its path and options.

One source: every output is that source's. Several sources: a path holding
``{source}`` is one sink per source (the id made safe for a file name); a path
without it is one shared sink over every source — its records carry the source
— except ``output.video``, which becomes the grid (every source tiled, with its
label and FPS); the display shows the grid.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamcls.config import Config, SinkConfig, SourceConfig
from streamcls.config.names import SINKS, sink_kind
from streamcls.errors import SinkError
from streamcls.outputs.files import DiskGuard
from streamcls.outputs.grid import GridView
from streamcls.outputs.segments import SegmentsSink
from streamcls.outputs.sink import Sink, SinkSettings, build_sink
from streamcls.outputs.video import VideoSink
from streamcls.outputs.window import WindowSink, display_available

logger = logging.getLogger(__name__)


def file_safe(source_id: str) -> str:
    """``rtsp://cam:***@10.0.0.5/stream1`` -> ``rtsp_cam_10.0.0.5_stream1``: a name for files, no secret."""
    without_credentials = re.sub(r"(?<=://)[^/@]*@", "", source_id)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", without_credentials).strip("_.") or "source"


@dataclass
class SourceOutputs:
    """The sinks of one source (a shared sink appears in several of these)."""

    source_id: str
    sinks: list[Sink] = field(default_factory=list)
    video: VideoSink | None = None
    window: WindowSink | None = None

    @property
    def draws(self) -> bool:
        """Whether any of its sinks wants the annotated picture."""
        return any(getattr(sink, "needs_image", False) for sink in self.sinks)


@dataclass
class Outputs:
    """Every sink of a run: per source, shared, the grid, and the disk guard over all their files."""

    per_source: dict[str, SourceOutputs]
    grid: GridView | None
    guard: DiskGuard
    notes: list[str]
    all_sinks: list[Any]
    segments: list[SegmentsSink] = field(default_factory=list)  # kept after closing: the summary counts them
    closed_reports: list[dict[str, object]] | None = None
    opener: _Opener | None = None  # what opens a source's sinks when one joins a running service
    shared: dict[tuple[str, str | None, str], Sink] = field(default_factory=dict)
    extra: list[Sink] = field(default_factory=list)  # the caller's own sinks: they serve every source

    def add_source(self, source_id: str, source_config: SourceConfig) -> SourceOutputs:
        """Open the sinks of a source that joins a running pipeline (``Pipeline.add_source``).

        Raises:
            SinkError, ConfigError: as ``open_outputs``; nothing stays open then.
        """
        assert self.opener is not None
        before, paths_before = len(self.opener.opened), len(self.opener.paths)
        mine = SourceOutputs(source_id)
        self.opener.source_ids.append(source_id)
        try:
            _open_for_source(self.opener, mine, source_config, None, True, self.shared)
        except BaseException:
            for sink in self.opener.opened[before:]:
                sink.__exit__(None, None, None)
            del self.opener.opened[before:]
            del self.opener.paths[paths_before:]
            self.opener.source_ids.remove(source_id)
            raise
        mine.sinks.extend(self.extra)
        added = self.opener.opened[before:]
        self.all_sinks.extend(added)
        self.segments.extend(sink for sink in added if isinstance(sink, SegmentsSink))
        self.guard.add(self.opener.paths[paths_before:])
        self.per_source[source_id] = mine
        return mine

    def detach_source(self, source_id: str) -> list[Any]:
        """Forget a removed source; return the sinks only it used, for the caller to close (``close_each``)."""
        mine = self.per_source.pop(source_id)
        still_used = {id(sink) for outputs in self.per_source.values() for sink in outputs.sinks}
        kept = {id(sink) for sink in [*self.extra, *self.shared.values()]}
        own = [sink for sink in mine.sinks if id(sink) not in still_used and id(sink) not in kept]
        self.all_sinks = [sink for sink in self.all_sinks if all(sink is not closed for closed in own)]
        if self.opener is not None and source_id in self.opener.source_ids:
            self.opener.source_ids.remove(source_id)
        return own

    def windows(self) -> Iterator[WindowSink]:
        """Every window of the run, a source's or the grid's (each one may ask to quit)."""
        for outputs in list(self.per_source.values()):  # a service may add or remove a source meanwhile
            if outputs.window is not None:
                yield outputs.window
        if self.grid is not None and self.grid.window is not None:
            yield self.grid.window

    def close(self) -> list[Exception]:
        """Close every sink once, even when one fails; return the failures."""
        failures = close_each(self.all_sinks)
        self.closed_reports = self.reports()
        self.all_sinks = []
        return failures

    def reports(self) -> list[dict[str, object]]:
        """What each sink that keeps counts says it did (``report()``: sent, dropped, pending...)."""
        if not self.all_sinks and self.closed_reports is not None:
            return self.closed_reports
        return [
            {"output": type(sink).__name__, **sink.report()}
            for sink in self.all_sinks
            if callable(getattr(sink, "report", None))
        ]


def close_each(sinks: list[Any]) -> list[Exception]:
    """Close every sink, even when one fails; return the failures."""
    failures: list[Exception] = []
    for sink in sinks:
        try:
            sink.__exit__(None, None, None)
        except Exception as error:  # noqa: BLE001 - the others must still be closed whole
            failures.append(
                error
                if isinstance(error, SinkError)
                else SinkError(f"output {type(sink).__name__} failed to close: {error}")
            )
    return failures


class _Opener:
    """Builds sinks from settings, remembering each for the disk guard and for closing."""

    def __init__(self, config: Config, source_ids: list[str]):
        self.config = config
        self.source_ids = source_ids
        self.opened: list[Any] = []
        self.paths: list[Path] = []

    def open(self, entry: SinkConfig, path: str | None, served: list[str], fps: float | None) -> Sink:
        kind = sink_kind(entry.kind)
        settings = SinkSettings(
            entry.kind, path, dict(entry.options), tuple(served), fps, self.config.output, self.config.postprocess
        )
        sink = build_sink(kind.load("output.sinks"), settings)
        entered = sink.__enter__()
        sink = sink if entered is None else entered
        self.opened.append(sink)
        if path:
            self.paths.append(Path(path))
        return sink

    def close_all(self) -> None:
        for sink in self.opened:
            sink.__exit__(None, None, None)


def _file_entries(output: Any) -> list[SinkConfig]:
    """The file keys of an ``output:`` section (``predictions: x.csv``) as registry entries, then its ``sinks``."""
    entries = [
        SinkConfig(kind=kind.name, path=getattr(output, kind.config_key))
        for kind in SINKS.values()
        if kind.config_key and getattr(output, kind.config_key)
    ]
    return entries + list(output.sinks)


def open_outputs(
    config: Config, sources: list[tuple[str, SourceConfig, float | None]], extra_sinks: list[Sink] | None = None
) -> Outputs:
    """Open the sinks for ``(source_id, source config, fps)`` of every source (cheap checks first).

    ``extra_sinks`` (already built, e.g. passed to ``Pipeline(sinks=...)``) serve every
    source; they are entered here and closed with the others.

    Raises:
        SinkError: a folder that does not exist or cannot be written, a bad suffix.
        ConfigError: a sink kind that is unknown or lacks what it needs.
    """
    output = config.output
    source_ids = [source_id for source_id, _, _ in sources]
    several = len(sources) > 1
    opener = _Opener(config, source_ids)
    notes: list[str] = []
    per_source = {source_id: SourceOutputs(source_id) for source_id in source_ids}
    shared: dict[tuple[str, str | None, str], Sink] = {}
    try:
        for source_id, source_config, fps in sources:
            _open_for_source(opener, per_source[source_id], source_config, fps, several, shared)
        windows_wanted = [
            source_id
            for source_id, source_config, _ in sources
            if source_config.output.display or (not several and output.display)
        ]
        grid_window_wanted = several and output.display
        window_possible = True
        if windows_wanted or grid_window_wanted:
            window_possible, reason = display_available()
            if not window_possible:
                notes.append(f"no window: {reason}; carrying on headless")
                logger.warning("no window: %s; carrying on headless", reason)
        if window_possible:
            for source_id in windows_wanted:
                window = opener.open(SinkConfig(kind="window"), None, [source_id], None)
                per_source[source_id].window = window  # type: ignore[assignment]
                per_source[source_id].sinks.append(window)
        grid = None
        grid_video_path = output.video if several and output.video and "{source}" not in output.video else None
        if grid_video_path or (grid_window_wanted and window_possible):
            grid_video = (
                opener.open(SinkConfig(kind="video"), grid_video_path, ["grid"], output.grid_fps)
                if grid_video_path
                else None
            )
            grid_window = (
                opener.open(
                    SinkConfig(kind="window", options={"title": "streamcls - all sources"}), None, source_ids, None
                )
                if grid_window_wanted and window_possible
                else None
            )
            grid = GridView(source_ids, grid_video, grid_window, output.grid_fps)  # type: ignore[arg-type]
        for sink in extra_sinks or []:
            entered = sink.__enter__()
            sink = sink if entered is None else entered
            opener.opened.append(sink)
            for mine in per_source.values():
                mine.sinks.append(sink)
        guard = DiskGuard(opener.paths, output.min_free_mb)
        guard.check(0)  # a folder already too full fails before the model loads
    except BaseException:
        opener.close_all()
        raise
    return Outputs(
        per_source,
        grid,
        guard,
        notes,
        opener.opened,
        [sink for sink in opener.opened if isinstance(sink, SegmentsSink)],
        opener=opener,
        shared=shared,
        extra=list(opener.opened[len(opener.opened) - len(extra_sinks or []) :]),
    )


def _open_for_source(
    opener: _Opener,
    mine: SourceOutputs,
    source_config: SourceConfig,
    fps: float | None,
    several: bool,
    shared: dict[tuple[str, str | None, str], Sink],
) -> None:
    """Open one source's own sinks into ``mine`` and join it to the run's shared ones (opened once)."""
    output = opener.config.output
    source_id = mine.source_id
    own = [(entry, entry.path) for entry in _file_entries(source_config.output)]
    from_run = []
    for entry in _file_entries(output):
        if not several or (entry.path and "{source}" in entry.path):
            from_run.append((entry, entry.path.replace("{source}", file_safe(source_id)) if entry.path else None))
        elif entry.kind == "video" and entry.path == output.video:
            continue  # several sources, one video: the grid
        else:  # one shared sink over every source
            # The options too: two webhooks (no path) to two URLs are two sinks.
            key = (entry.kind, entry.path, repr(sorted(entry.options.items())))
            if key not in shared:
                shared[key] = opener.open(entry, entry.path, opener.source_ids, fps)
            mine.sinks.append(shared[key])
    for entry, path in own + from_run:
        sink = opener.open(entry, path, [source_id], fps)
        mine.sinks.append(sink)
        if isinstance(sink, VideoSink) and mine.video is None:
            mine.video = sink
