"""Labelled time ranges of videos: read a segments file, and say which label a frame has.

CSV with a header. Columns ``video,start,end,label`` give times in seconds
(``start_s,end_s`` says so explicitly); ``start_frame,end_frame`` give frame
indices. Ranges are half-open, [start, end): a segment ending at 2.0 s does
not include the frame at 2.0 s, which belongs to the next one. ``video`` is a
path, relative to the segments file's folder unless absolute.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from streamcls.errors import ConfigError

SECOND_COLUMNS = (("start", "end"), ("start_s", "end_s"))
FRAME_COLUMNS = ("start_frame", "end_frame")


@dataclass(frozen=True)
class LabelledSegment:
    video: Path
    start: float
    end: float
    label: str
    unit: str  # "s" or "frame"

    def contains(self, frame_index: int, fps: float | None) -> bool:
        if self.unit == "frame":
            return self.start <= frame_index < self.end
        if not fps:
            raise ConfigError(
                f"{self.video}: its frame rate is unknown, so times in seconds cannot be "
                f"placed; give start_frame,end_frame instead"
            )
        time_s = frame_index / fps
        return self.start <= time_s < self.end


def read_segments(path: str | Path) -> list[LabelledSegment]:
    """Every segment in the file, checked.

    Raises:
        ConfigError: missing file, unknown columns, a bad number, end before start, or a
            video that does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"segments file {str(path)!r} does not exist; pass a CSV with video,start,end,label")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = [name.strip() for name in reader.fieldnames or []]
        start_key, end_key, unit = _time_columns(path, columns)
        segments = []
        for line, row in enumerate(reader, start=2):
            row = {key.strip(): (value or "").strip() for key, value in row.items() if key}
            try:
                start, end = float(row[start_key]), float(row[end_key])
            except ValueError:
                raise ConfigError(
                    f"{path}:{line}: {start_key}/{end_key} received {row[start_key]!r}, "
                    f"{row[end_key]!r}; expected numbers"
                ) from None
            if not 0 <= start < end:
                raise ConfigError(f"{path}:{line}: received start {start:g}, end {end:g}; expected 0 <= start < end")
            if not row["label"]:
                raise ConfigError(f"{path}:{line}: the label is empty; name the class")
            video = Path(row["video"])
            video = video if video.is_absolute() else path.parent / video
            if not video.is_file():
                raise ConfigError(f"{path}:{line}: video {row['video']!r} does not exist (looked at {video})")
            segments.append(LabelledSegment(video, start, end, row["label"], unit))
    if not segments:
        raise ConfigError(f"segments file {str(path)!r} has no rows; add video,start,end,label lines")
    return segments


def _time_columns(path: Path, columns: list[str]) -> tuple[str, str, str]:
    if "video" not in columns or "label" not in columns:
        raise ConfigError(
            f"segments file {path}: received columns {','.join(columns)}; expected "
            f"video,start,end,label (or start_s,end_s / start_frame,end_frame)"
        )
    if all(name in columns for name in FRAME_COLUMNS):
        return FRAME_COLUMNS[0], FRAME_COLUMNS[1], "frame"
    for start, end in SECOND_COLUMNS:
        if start in columns and end in columns:
            return start, end, "s"
    raise ConfigError(
        f"segments file {path}: no time columns among {','.join(columns)}; expected "
        f"start,end (seconds) or start_frame,end_frame"
    )


def label_at(segments: list[LabelledSegment], video: Path, frame_index: int, fps: float | None) -> str | None:
    """The label of ``frame_index`` in ``video``, or None when no segment covers it."""
    video = Path(video).resolve()
    for segment in segments:
        if segment.video.resolve() == video and segment.contains(frame_index, fps):
            return segment.label
    return None
