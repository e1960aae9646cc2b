"""The predictions sink: one record per frame, JSON Lines or CSV."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from streamcls.errors import SinkError
from streamcls.frames import Prediction
from streamcls.outputs.files import RecordFile, check_parent, csv_line
from streamcls.outputs.sink import SinkSettings

logger = logging.getLogger(__name__)


class PredictionsSink:
    """One record per frame, JSON Lines (``.jsonl``/``.json``) or CSV (``.csv``).

    Each record is written as one whole line and flushed, so a file cut short
    by a crash or a signal still ends on a complete record.
    """

    needs_image = False

    @classmethod
    def from_settings(cls, settings: SinkSettings) -> PredictionsSink:
        return cls(settings.required_path())

    CSV_FIELDS = [
        "source",
        "frame_index",
        "file",
        "position_ms",
        "label",
        "score",
        "top_k",
        "smoothed_label",
        "smoothed_score",
        "latency_ms",
        "gap_before_ms",
    ]

    def __init__(self, path: str | Path):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in (".jsonl", ".json", ".ndjson", ".csv"):
            raise SinkError(
                f"predictions file {str(self.path)!r}: received suffix {suffix or '(none)'!r}; expected .jsonl or .csv"
            )
        check_parent(self.path, "predictions file")
        self.format = "csv" if suffix == ".csv" else "jsonl"
        header = ",".join(self.CSV_FIELDS) + "\r\n" if self.format == "csv" else None
        self._file = RecordFile(self.path, "predictions file", "records", header)

    def write(self, image: np.ndarray | None, prediction: Prediction) -> None:
        record = prediction.as_record()
        if self.format == "csv":
            top_k: list[list[object]] = record["top_k"]  # type: ignore[assignment]  # as_record's own shape
            record["top_k"] = ";".join(f"{label}:{score}" for label, score in top_k)
            line = csv_line([record[name] for name in self.CSV_FIELDS])
        else:
            line = json.dumps(record, separators=(",", ":")) + "\n"
        self._file.append(line)

    @property
    def records(self) -> int:
        return self._file.count

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> PredictionsSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
