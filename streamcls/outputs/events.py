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
from streamcls.outputs.files import LineFile, check_parent
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
        self.events = 0
        try:
            self._file = LineFile(self.path)
        except OSError as error:
            raise SinkError(f"events file {str(self.path)!r} cannot be created: {error.strerror}") from None

    @classmethod
    def from_settings(cls, settings: SinkSettings) -> EventsSink:
        return cls(settings.required_path(), bool(settings.options.get("snapshot", False)))

    def write(self, image: np.ndarray | None, prediction: Prediction) -> None:
        """Predictions are not events: nothing to write."""

    def write_event(self, event: Event) -> None:
        line = json.dumps(event.as_record(snapshot=self.snapshot), separators=(",", ":")) + "\n"
        try:
            self._file.append(line)
        except OSError as error:
            raise SinkError(
                f"events file {str(self.path)!r}: write failed ({error.strerror}); the "
                f"{self.events} events before it are complete"
            ) from None
        self.events += 1

    def close(self) -> None:
        if not self._file.closed:
            try:
                self._file.close()
            except OSError:
                logger.warning("closing %s failed", self.path)

    def __enter__(self) -> EventsSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
