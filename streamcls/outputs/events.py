"""The events sink: one JSON record per event, one whole line each (``--events PATH.jsonl``).

The same records the MQTT events topic and the webhooks carry (``Event.as_record``),
without the snapshot's base64 unless ``options: {snapshot: true}``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from streamcls.errors import SinkError
from streamcls.frames import Event, Prediction
from streamcls.outputs.files import RecordFile, check_parent
from streamcls.outputs.sink import SinkSettings

logger = logging.getLogger(__name__)


class EventsSink:
    """Events as JSON Lines, each line written whole (a file cut short ends on a complete record)."""

    needs_image = False

    def __init__(self, path: str | Path, snapshot: bool = False):
        self.path = Path(path)
        if self.path.suffix.lower() not in (".jsonl", ".ndjson", ".json"):
            raise SinkError(
                f"events file {str(self.path)!r}: received suffix {self.path.suffix or '(none)'!r}; expected .jsonl"
            )
        check_parent(self.path, "events file")
        self.snapshot = snapshot
        self._file = RecordFile(self.path, "events file", "events")

    @classmethod
    def from_settings(cls, settings: SinkSettings) -> EventsSink:
        return cls(settings.required_path(), bool(settings.options.get("snapshot", False)))

    def write(self, image: np.ndarray | None, prediction: Prediction) -> None:
        """Predictions are not events: nothing to write."""

    def write_event(self, event: Event) -> None:
        line = json.dumps(event.as_record(snapshot=self.snapshot), separators=(",", ":")) + "\n"
        self._file.append(line)

    @property
    def events(self) -> int:
        return self._file.count

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> EventsSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
