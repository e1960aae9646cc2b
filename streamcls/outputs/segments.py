"""The segments sink: runs of one shown label, as they close."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from streamcls.errors import SinkError
from streamcls.frames import Prediction
from streamcls.outputs.files import RecordFile, check_parent, csv_line
from streamcls.outputs.sink import SinkSettings
from streamcls.postprocess.segments import LabelSegment, SegmentTracker

logger = logging.getLogger(__name__)


class SegmentsSink:
    """Contiguous runs of the shown label (``runs.py``): CSV, JSON Lines or one JSON document.

    CSV and JSON Lines get each run as one whole line, flushed, when it closes, so
    a run cut short still has every finished segment. A ``.json`` file is one
    document (``{"segments": [...]}``), replaced atomically (written beside, then
    renamed) when runs close — at most once a second — and at the end, so it is
    always complete and parseable.
    """

    needs_image = False

    @classmethod
    def from_settings(cls, settings: SinkSettings) -> SegmentsSink:
        return cls(settings.required_path(), settings.postprocess.segments_max_gap_s)

    FIELDS = [
        "source",
        "label",
        "start_frame",
        "end_frame",
        "first_file",
        "last_file",
        "start_s",
        "end_s",
        "frames",
        "mean_score",
    ]
    REWRITE_INTERVAL_S = 1.0

    def __init__(self, path: str | Path, max_gap_s: float = 2.0):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in (".csv", ".json", ".jsonl", ".ndjson"):
            raise SinkError(
                f"segments file {str(self.path)!r}: received suffix {suffix or '(none)'!r}; "
                f"expected .csv, .json or .jsonl"
            )
        check_parent(self.path, "segments file")
        self.format = {".csv": "csv", ".json": "json"}.get(suffix, "jsonl")
        self.tracker = SegmentTracker(max_gap_s)
        self.closed: list[LabelSegment] = []
        self._written_at = 0.0
        self._dirty = False
        self._file: RecordFile | None = None
        if self.format == "json":
            try:
                self._rewrite()
            except OSError as error:
                raise SinkError(f"segments file {str(self.path)!r} cannot be created: {error.strerror}") from None
        else:
            header = ",".join(self.FIELDS) + "\r\n" if self.format == "csv" else None
            self._file = RecordFile(self.path, "segments file", "segments", header)

    def write(self, image: np.ndarray | None, prediction: Prediction) -> None:
        for run in self.tracker.add(prediction):
            self._record(run)
        if self._dirty and time.monotonic() - self._written_at >= self.REWRITE_INTERVAL_S:
            self._rewrite()

    def _record(self, run: LabelSegment) -> None:
        self.closed.append(run)
        record = run.as_record()
        if self.format == "csv":
            self._append(csv_line([record[name] for name in self.FIELDS]))
        elif self.format == "jsonl":
            self._append(json.dumps(record, separators=(",", ":")) + "\n")
        else:
            self._dirty = True

    def _append(self, line: str) -> None:
        assert self._file is not None
        self._file.append(line)

    def _rewrite(self) -> None:
        staging = self.path.with_name(f".{self.path.name}.partial")
        document = {"segments": [segment.as_record() for segment in self.closed]}
        try:
            staging.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
            os.replace(staging, self.path)
        except OSError as error:
            staging.unlink(missing_ok=True)
            raise SinkError(
                f"segments file {str(self.path)!r}: write failed ({error.strerror}); the last complete version is kept"
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
            if self._file is not None:
                self._file.close()

    def __enter__(self) -> SegmentsSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
