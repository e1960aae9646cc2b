"""Which sinks a run writes, per source and shared, and the grid view that tiles several sources.

One source: ``output.video``, ``predictions``, ``segments`` and ``display`` are
that source's. Several sources: a path holding ``{source}`` is one file per
source (the id made safe for a file name); a path without it is one shared
file — predictions and segments records carry the source — except the video,
which becomes the grid (every source tiled, with its label and FPS); the
display shows the grid. Each entry of ``sources:`` may also name its own
files and window under its ``output:``.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from streamcls.config import Config, SourceConfig
from streamcls.frames import Prediction
from streamcls.outputs.grid import compose, grid_shape
from streamcls.outputs.window import WindowSink, display_available
from streamcls.outputs.files import DiskGuard
from streamcls.outputs.predictions import PredictionsSink
from streamcls.outputs.segments import SegmentsSink
from streamcls.outputs.video import VideoSink

logger = logging.getLogger(__name__)

GRID_WIDTH = 1280  # pixels across the whole grid


def file_safe(source_id: str) -> str:
    """``rtsp://cam:***@10.0.0.5/stream1`` -> ``rtsp_cam_10.0.0.5_stream1``: a name for files, no secret."""
    without_credentials = re.sub(r"(?<=://)[^/@]*@", "", source_id)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", without_credentials).strip("_.") or "source"


@dataclass
class SourceOutputs:
    """The sinks of one source (a shared sink appears in several of these)."""

    source_id: str
    sinks: list[Any] = field(default_factory=list)
    video: VideoSink | None = None
    window: WindowSink | None = None

    @property
    def draws(self) -> bool:
        return self.video is not None or self.window is not None


class GridView:
    """The latest annotated frame of each source, tiled; written/shown at most ``fps`` times a second."""

    def __init__(self, source_ids: list[str], video: VideoSink | None, window: WindowSink | None, fps: float):
        self.source_ids = source_ids
        self.video, self.window = video, window
        self.interval = 1.0 / fps
        self.latest: dict[str, np.ndarray] = {}
        self.status: dict[str, str] = {source_id: "no frames yet" for source_id in source_ids}
        self._shown_at = -self.interval
        rows, columns = grid_shape(len(source_ids))
        cell_width = GRID_WIDTH // columns // 2 * 2
        self.cell_size = (cell_width, cell_width * 9 // 16 // 2 * 2)

    def update(self, source_id: str, image: np.ndarray, status: str, prediction: Prediction) -> None:
        self.latest[source_id] = image
        self.status[source_id] = status
        now = time.monotonic()
        if now - self._shown_at < self.interval:
            return
        self._shown_at = now
        picture = compose([(source_id, self.latest.get(source_id), self.status[source_id])
                           for source_id in self.source_ids], self.cell_size)
        for sink in (self.video, self.window):
            if sink is not None:
                sink.write(picture, prediction)

    @property
    def sinks(self) -> list[Any]:
        return [sink for sink in (self.video, self.window) if sink is not None]


@dataclass
class Outputs:
    """Every sink of a run: per source, shared, the grid, and the disk guard over all their files."""

    per_source: dict[str, SourceOutputs]
    grid: GridView | None
    guard: DiskGuard
    notes: list[str]
    all_sinks: list[Any]
    segments: list[SegmentsSink]

    def close(self) -> list[Exception]:
        """Close every sink once, even when one fails; return the failures."""
        failures: list[Exception] = []
        for sink in self.all_sinks:
            try:
                sink.close()
            except Exception as error:  # noqa: BLE001 - the others must still be closed whole
                failures.append(error)
        self.all_sinks = []
        return failures


def open_outputs(config: Config, sources: list[tuple[str, SourceConfig, float | None]]) -> Outputs:
    """Open the sinks for ``(source_id, source config, fps)`` of every source (cheap checks first).

    Raises:
        SinkError: a folder that does not exist or cannot be written, a bad suffix.
    """
    output = config.output
    several = len(sources) > 1
    opened: list[Any] = []
    notes: list[str] = []
    segments: list[SegmentsSink] = []
    paths: list[Path] = []
    shared: dict[str, Any] = {}
    per_source = {source_id: SourceOutputs(source_id) for source_id, _, _ in sources}

    def sink_for(kind: str, path: str, source_id: str, fps: float | None) -> Any:
        paths.append(Path(path))
        if kind == "predictions":
            sink: Any = PredictionsSink(path)
        elif kind == "segments":
            sink = SegmentsSink(path, config.postprocess.segments_max_gap_s)
            segments.append(sink)
        else:
            sink = VideoSink(path, fps, output.codec)
        opened.append(sink)
        return sink

    try:
        for source_id, source_config, fps in sources:
            mine = per_source[source_id]
            for kind in ("predictions", "segments", "video"):
                template = getattr(output, kind)
                own = getattr(source_config.output, kind)
                targets = [own] if own else []
                if template and (not several or "{source}" in template):
                    targets.append(template.replace("{source}", file_safe(source_id)))
                elif template and kind != "video":
                    if template not in shared:
                        shared[template] = sink_for(kind, template, source_id, fps)
                    mine.sinks.append(shared[template])
                for path in targets:
                    sink = sink_for(kind, path, source_id, fps)
                    mine.sinks.append(sink)
                    if kind == "video" and mine.video is None:
                        mine.video = sink
        windows_wanted = [source_id for source_id, source_config, _ in sources
                          if source_config.output.display or (not several and output.display)]
        grid_window_wanted = several and output.display
        window_possible = True
        if windows_wanted or grid_window_wanted:
            window_possible, reason = display_available()
            if not window_possible:
                notes.append(f"no window: {reason}; carrying on headless")
                logger.warning("no window: %s; carrying on headless", reason)
        if window_possible:
            for source_id in windows_wanted:
                window = WindowSink(f"streamcls - {source_id}")
                opened.append(window)
                per_source[source_id].window = window
                per_source[source_id].sinks.append(window)
        grid = None
        grid_video_path = output.video if several and output.video and "{source}" not in output.video else None
        if grid_video_path or (grid_window_wanted and window_possible):
            grid_video = sink_for("video", grid_video_path, "grid", output.grid_fps) if grid_video_path else None
            grid_window = WindowSink("streamcls - all sources") if grid_window_wanted and window_possible else None
            if grid_window is not None:
                opened.append(grid_window)
            grid = GridView([source_id for source_id, _, _ in sources], grid_video, grid_window, output.grid_fps)
        guard = DiskGuard(paths, output.min_free_mb)
        guard.check(0)  # a folder already too full fails before the model loads
    except BaseException:
        for sink in opened:
            sink.close()
        raise
    return Outputs(per_source, grid, guard, notes, opened, segments)
