"""Pure drawing: the latest annotated frame of every source, tiled into one monitoring picture.

Each tile keeps its source's aspect ratio inside a fixed cell (letterboxed on
black), carries the source id and that source's FPS in a bar at its bottom,
and says "no frames" or the source's state when it has nothing to show. ``compose``
does no I/O; ``GridView`` keeps each source's latest frame and hands the
composed picture to its video and window sinks a few times a second.
"""

from __future__ import annotations

import math
import time

import cv2
import numpy as np

from streamcls.frames import Prediction
from streamcls.outputs.sink import Sink
from streamcls.outputs.video import VideoSink
from streamcls.outputs.window import WindowSink

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def grid_shape(count: int) -> tuple[int, int]:
    """(rows, columns) for ``count`` tiles: as square as possible, wider than tall."""
    columns = max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / columns))
    return rows, columns


def compose(tiles: list[tuple[str, np.ndarray | None, str]], cell_size: tuple[int, int]) -> np.ndarray:
    """Tile ``(source_id, image or None, status text)`` into one BGR picture.

    ``cell_size`` is (width, height) of one cell; the picture is columns x rows cells.
    """
    cell_width, cell_height = cell_size
    rows, columns = grid_shape(len(tiles))
    canvas = np.zeros((rows * cell_height, columns * cell_width, 3), np.uint8)
    for number, (source_id, image, status) in enumerate(tiles):
        row, column = divmod(number, columns)
        cell = canvas[row * cell_height : (row + 1) * cell_height, column * cell_width : (column + 1) * cell_width]
        if image is not None:
            _fit(image, cell)
        _caption(cell, f"{source_id}  {status}" if status else source_id)
    return canvas


def _fit(image: np.ndarray, cell: np.ndarray) -> None:
    cell_height, cell_width = cell.shape[:2]
    height, width = image.shape[:2]
    scale = min(cell_width / width, cell_height / height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    top, left = (cell_height - size[1]) // 2, (cell_width - size[0]) // 2
    cell[top : top + size[1], left : left + size[0]] = resized


def _caption(cell: np.ndarray, text: str) -> None:
    height, width = cell.shape[:2]
    scale = max(0.35, height / 480 * 0.6)
    thickness = max(1, round(scale * 2))
    (text_width, text_height), baseline = cv2.getTextSize(text, _FONT, scale, thickness)
    if text_width > width - 8:  # a long id on a small cell: shrink to fit
        scale *= max(0.3, (width - 8) / text_width)
        (text_width, text_height), baseline = cv2.getTextSize(text, _FONT, scale, thickness)
    bar = text_height + baseline + 8
    region = cell[height - bar :, :]
    region[:] = (region.astype(np.uint16) * 3 // 10).astype(np.uint8)
    cv2.putText(cell, text, (4, height - baseline - 4), _FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)


GRID_WIDTH = 1280  # pixels across the whole grid


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
        picture = compose(
            [(source_id, self.latest.get(source_id), self.status[source_id]) for source_id in self.source_ids],
            self.cell_size,
        )
        for sink in (self.video, self.window):
            if sink is not None:
                sink.write(picture, prediction)

    @property
    def sinks(self) -> list[Sink]:
        return [sink for sink in (self.video, self.window) if sink is not None]
