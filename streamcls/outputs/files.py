"""What every file output shares: a folder check, whole-line writes, a disk-space guard.

A file sink closes to a complete file (a playable video, whole JSON lines),
which is what a Ctrl-C, a full disk or a dropped stream relies on.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path

from streamcls.errors import SinkError

logger = logging.getLogger(__name__)


def check_parent(path: Path, what: str) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise SinkError(
            f"{what} {str(path)!r}: folder {str(parent)!r} does not exist; create it or choose another path"
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

    def add(self, paths: list[Path]) -> None:
        """Watch the folders of outputs opened later (a source added to a running service)."""
        self.folders = sorted({*self.folders, *DiskGuard(paths, self.min_free_mb).folders})

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


class RecordFile:
    """A file of records of one kind, each one whole line (``LineFile``), counted.

    ``what`` names the file in messages ("predictions file"), ``noun`` its records
    ("records"): a failed write is a ``SinkError`` that says how many records before
    it are complete; closing never raises (a failure is logged).
    """

    def __init__(self, path: Path, what: str, noun: str, header: str | None = None):
        self.path, self.what, self.noun = path, what, noun
        self.count = 0
        try:
            self._file = LineFile(path)
            if header is not None:
                self._file.append(header)
        except OSError as error:
            raise SinkError(f"{what} {str(path)!r} cannot be created: {error.strerror}") from None

    def append(self, line: str) -> None:
        """Write one record's line whole, or raise ``SinkError`` (the file still ends on a whole record)."""
        try:
            self._file.append(line)
        except OSError as error:
            raise SinkError(
                f"{self.what} {str(self.path)!r}: write failed ({error.strerror}); the {self.count} "
                f"{self.noun} before it are complete"
            ) from None
        self.count += 1

    def close(self) -> None:
        if not self._file.closed:
            try:
                self._file.close()
            except OSError:
                logger.warning("closing %s failed", self.path)


def csv_line(values: list[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(["" if value is None else value for value in values])
    return buffer.getvalue()
