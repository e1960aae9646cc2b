"""Where predictions go: an annotated video, per-frame records, label segments (the window: ``show.py``).

Each sink is a context manager; closing it leaves a complete file (a playable
video, whole JSON lines), which is what a Ctrl-C or a dropped stream relies on.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import time
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from streamcls.errors import SinkError
from streamcls.frames import Prediction
from streamcls.postprocess.segments import LabelRun, RunTracker

logger = logging.getLogger(__name__)


class Sink(Protocol):
    def write(self, image: np.ndarray, prediction: Prediction) -> None: ...

    def close(self) -> None: ...


def _check_parent(path: Path, what: str) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise SinkError(
            f"{what} {str(path)!r}: folder {str(parent)!r} does not exist; create it or choose "
            f"another path"
        )
    if not os.access(parent, os.W_OK):
        raise SinkError(f"{what} {str(path)!r}: folder {str(parent)!r} is not writable")


class DiskGuard:
    """Stops a run while there is still room to close its files whole.

    A full disk does not fail loudly everywhere: OpenCV's video writer drops
    frames silently, and an MP4 whose index (written at the end) finds no room
    will not play at all. So the free space of every output folder is checked
    before every frame is written (``os.statvfs``: about 3 microseconds), and
    the run stops once it falls below ``min_free_mb``, leaving room to finish
    every file.
    """

    def __init__(self, paths: list[Path], min_free_mb: float):
        self.folders = sorted({(path.parent if str(path.parent) else Path(".")).resolve() for path in paths})
        self.min_free_mb = min_free_mb

    def check(self, frames_written: int) -> None:
        """Raise ``SinkError`` when an output folder has less than ``min_free_mb`` free."""
        if not self.min_free_mb:
            return
        for folder in self.folders:
            status = os.statvfs(folder)
            free_mb = status.f_bavail * status.f_frsize / 1e6
            if free_mb < self.min_free_mb:
                raise SinkError(
                    f"output folder {str(folder)!r} has {free_mb:.1f} MB free, below output.min_free_mb "
                    f"({self.min_free_mb:g}); stopped after {frames_written} frames so every output could "
                    f"be closed whole; free some space, write elsewhere, or lower output.min_free_mb"
                )


class LineFile:
    """A text file written one whole line at a time, or not at all.

    Each line goes to the kernel in ``os.write`` calls with no buffer in between;
    if the disk fills part-way through a line, the file is cut back to the end
    of the last whole line (``ftruncate`` needs no free space), so a reader
    never meets a half-written record.
    """

    def __init__(self, path: Path):
        self.path = path
        self._descriptor: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._size = 0

    def append(self, line: str) -> None:
        """Write ``line`` whole. Raises ``OSError`` (the file still ends on a whole line)."""
        assert self._descriptor is not None
        data = line.encode("utf-8")
        written = 0
        try:
            while written < len(data):
                written += os.write(self._descriptor, data[written:])
        except OSError:
            os.ftruncate(self._descriptor, self._size)
            os.lseek(self._descriptor, self._size, os.SEEK_SET)
            raise
        self._size += written

    @property
    def closed(self) -> bool:
        return self._descriptor is None

    def close(self) -> None:
        if self._descriptor is not None:
            descriptor, self._descriptor = self._descriptor, None
            os.close(descriptor)


class PredictionsSink:
    """One record per frame, JSON Lines (``.jsonl``/``.json``) or CSV (``.csv``).

    Each record is written as one whole line and flushed, so a file cut short
    by a crash or a signal still ends on a complete record.
    """

    CSV_FIELDS = ["source", "frame_index", "position_ms", "label", "score", "top_k",
                  "smoothed_label", "smoothed_score", "latency_ms", "gap_before_ms"]

    def __init__(self, path: str | Path):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in (".jsonl", ".json", ".ndjson", ".csv"):
            raise SinkError(
                f"predictions file {str(self.path)!r}: received suffix {suffix or '(none)'!r}; "
                f"expected .jsonl or .csv"
            )
        _check_parent(self.path, "predictions file")
        self.format = "csv" if suffix == ".csv" else "jsonl"
        try:
            self._file = LineFile(self.path)
            if self.format == "csv":
                self._file.append(",".join(self.CSV_FIELDS) + "\r\n")
        except OSError as error:
            raise SinkError(f"predictions file {str(self.path)!r} cannot be created: {error.strerror}") from None
        self.records = 0

    def write(self, image: np.ndarray, prediction: Prediction) -> None:
        record = prediction.as_record()
        if self.format == "csv":
            record["top_k"] = ";".join(f"{label}:{score}" for label, score in record["top_k"])  # type: ignore[union-attr]
            line = _csv_line([record[name] for name in self.CSV_FIELDS])
        else:
            line = json.dumps(record, separators=(",", ":")) + "\n"
        try:
            self._file.append(line)
        except OSError as error:
            raise SinkError(
                f"predictions file {str(self.path)!r}: write failed ({error.strerror}); the "
                f"{self.records} records before it are complete"
            ) from None
        self.records += 1

    def close(self) -> None:
        if not self._file.closed:
            try:
                self._file.close()
            except OSError:
                logger.warning("closing %s failed", self.path)

    def __enter__(self) -> PredictionsSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _csv_line(values: list[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(["" if value is None else value for value in values])
    return buffer.getvalue()


class VideoSink:
    """An annotated video at the source's size and frame rate.

    ``codec: auto`` tries H.264 (``avc1``) and falls back to ``mp4v`` for
    .mp4/.mov/.mkv, ``MJPG`` for .avi; ``self.codec`` says which one was used.
    Opened lazily at the first frame, whose size it keeps: later frames of
    another size (a stream reconnecting at a new resolution) are scaled to it.
    MPEG-4 and H.264 need even sizes: an odd-sized frame gets one replicated
    row/column at the bottom/right rather than losing one (said in the log).
    """

    def __init__(self, path: str | Path, fps: float | None, codec: str = "auto"):
        self.path = Path(path)
        _check_parent(self.path, "output video")
        self.fps = fps or 30.0
        self.requested_codec = codec
        self.codec: str | None = None
        self.frames = 0
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None  # what the file holds
        self._frame_size: tuple[int, int] | None = None  # what the first frame had

    def set_rate(self, fps: float | None) -> None:
        """The frame rate to write at, known once the source has opened; only before the first frame."""
        if self._writer is None and fps:
            self.fps = fps

    def _candidates(self) -> list[str]:
        if self.requested_codec != "auto":
            return [self.requested_codec]
        if self.path.suffix.lower() == ".avi":
            return ["MJPG", "XVID"]
        return ["avc1", "mp4v"]

    def _open(self, width: int, height: int) -> None:
        from streamcls.quiet import quiet_native_stderr

        self._frame_size = (width, height)
        for codec in self._candidates():
            if codec != "MJPG" and (width % 2 or height % 2):
                even = (width + width % 2, height + height % 2)
                logger.info("%s: padding %dx%d frames to %dx%d (codec %s needs even sizes)",
                            self.path, width, height, *even, codec)
                width, height = even
            # FFmpeg prints a screenful when an encoder (often H.264) is missing; the
            # fallback is the answer, and self.codec reports which one was used.
            with quiet_native_stderr(enabled=self.requested_codec == "auto"):
                fourcc = cv2.VideoWriter_fourcc(*codec)
                writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (width, height))
            if writer.isOpened():
                self._writer, self.codec, self._size = writer, codec, (width, height)
                logger.info("writing %s with codec %s at %.2f fps, %dx%d",
                            self.path, codec, self.fps, width, height)
                return
            writer.release()
        raise SinkError(
            f"output video {str(self.path)!r}: OpenCV cannot write codec "
            f"{' or '.join(self._candidates())} here; use a .mp4 or .avi path, or set "
            f"output.codec to mp4v or MJPG"
        )

    def write(self, image: np.ndarray, prediction: Prediction) -> None:
        height, width = image.shape[:2]
        if self._writer is None:
            self._open(width, height)
        if (width, height) != self._frame_size:
            image = cv2.resize(image, self._frame_size, interpolation=cv2.INTER_LINEAR)
        if self._frame_size != self._size:
            pad_width, pad_height = (a - b for a, b in zip(self._size, self._frame_size))  # type: ignore[arg-type]
            image = cv2.copyMakeBorder(image, 0, pad_height, 0, pad_width, cv2.BORDER_REPLICATE)
        self._writer.write(image)  # type: ignore[union-attr]
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> VideoSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SegmentsSink:
    """Contiguous runs of the shown label (``runs.py``): CSV, JSON Lines or one JSON document.

    CSV and JSON Lines get each run as one whole line, flushed, when it closes, so
    a run cut short still has every finished segment. A ``.json`` file is one
    document (``{"segments": [...]}``), replaced atomically (written beside, then
    renamed) when runs close — at most once a second — and at the end, so it is
    always complete and parseable.
    """

    FIELDS = ["source", "label", "start_frame", "end_frame", "start_s", "end_s", "frames", "mean_score"]
    REWRITE_INTERVAL_S = 1.0

    def __init__(self, path: str | Path, max_gap_s: float = 2.0):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in (".csv", ".json", ".jsonl", ".ndjson"):
            raise SinkError(
                f"segments file {str(self.path)!r}: received suffix {suffix or '(none)'!r}; "
                f"expected .csv, .json or .jsonl"
            )
        _check_parent(self.path, "segments file")
        self.format = {".csv": "csv", ".json": "json"}.get(suffix, "jsonl")
        self.tracker = RunTracker(max_gap_s)
        self.runs: list[LabelRun] = []
        self._written_at = 0.0
        self._dirty = False
        self._file: LineFile | None = None
        try:
            if self.format == "json":
                self._rewrite()
            else:
                self._file = LineFile(self.path)
                if self.format == "csv":
                    self._append(",".join(self.FIELDS) + "\r\n")
        except OSError as error:
            raise SinkError(f"segments file {str(self.path)!r} cannot be created: {error.strerror}") from None

    def write(self, image: np.ndarray, prediction: Prediction) -> None:
        for run in self.tracker.add(prediction):
            self._record(run)
        if self._dirty and time.monotonic() - self._written_at >= self.REWRITE_INTERVAL_S:
            self._rewrite()

    def _record(self, run: LabelRun) -> None:
        self.runs.append(run)
        record = run.as_record()
        if self.format == "csv":
            self._append(_csv_line([record[name] for name in self.FIELDS]))
        elif self.format == "jsonl":
            self._append(json.dumps(record, separators=(",", ":")) + "\n")
        else:
            self._dirty = True

    def _append(self, line: str) -> None:
        assert self._file is not None
        try:
            self._file.append(line)
        except OSError as error:
            raise SinkError(
                f"segments file {str(self.path)!r}: write failed ({error.strerror}); the "
                f"{max(0, len(self.runs) - 1)} segments before it are complete"
            ) from None

    def _rewrite(self) -> None:
        staging = self.path.with_name(f".{self.path.name}.partial")
        document = {"segments": [run.as_record() for run in self.runs]}
        try:
            staging.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
            os.replace(staging, self.path)
        except OSError as error:
            staging.unlink(missing_ok=True)
            raise SinkError(
                f"segments file {str(self.path)!r}: write failed ({error.strerror}); the last "
                f"complete version is kept"
            ) from None
        self._written_at, self._dirty = time.monotonic(), False

    def close(self) -> None:
        """Close the open runs and finish the file (idempotent)."""
        if self.tracker is None:
            return
        tracker, self.tracker = self.tracker, None  # type: ignore[assignment]
        try:
            for run in tracker.finish():
                self._record(run)
            if self.format == "json":
                self._rewrite()
        finally:
            if self._file is not None and not self._file.closed:
                try:
                    self._file.close()
                except OSError:
                    logger.warning("closing %s failed", self.path)

    def __enter__(self) -> SegmentsSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
