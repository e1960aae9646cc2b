"""The run manifest: per video, what was done, so a later run with the same output folder resumes.

``manifest.json`` under the output folder, rewritten atomically (a temporary
file renamed over it) after every video. A video counts as finished when its
entry says ``done`` (or ``failed``, unless failures are retried), its output
files exist, the source file has the size and time it had, and the model is
the same (its hash). Anything else is redone from its first frame.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from streamcls.config import Config
from streamcls.errors import SinkError

FORMAT = "streamcls-batch/1"
NAME = "manifest.json"


@dataclass
class VideoEntry:
    """One video's line in the manifest."""

    path: str
    status: str  # done, failed
    frames: int
    error: str | None
    outputs: list[str]
    size: int
    modified_ns: int
    seconds: float = 0.0


@dataclass
class Manifest:
    """Every video's entry, and the model they were classified with."""

    folder: Path
    model_hash: str
    videos: dict[str, VideoEntry] = field(default_factory=dict)

    @classmethod
    def open(cls, folder: Path, model_hash: str) -> Manifest:
        """The folder's manifest, or a new one; entries of another model are dropped (redone)."""
        path = folder / NAME
        if not path.exists():
            return cls(folder, model_hash)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = {name: VideoEntry(**entry) for name, entry in data.get("videos", {}).items()}
        except (OSError, ValueError, TypeError) as error:
            raise SinkError(
                f"{path} cannot be read ({error}); delete it (every video is then redone) or use another --output"
            ) from error
        if data.get("model_hash") != model_hash:
            entries = {}
        return cls(folder, model_hash, entries)

    def finished(self, name: str, source: Path, retry_failed: bool = False) -> bool:
        entry = self.videos.get(name)
        if entry is None or entry.status not in ("done", "failed") or (retry_failed and entry.status == "failed"):
            return False
        stat = source.stat()
        if (stat.st_size, stat.st_mtime_ns) != (entry.size, entry.modified_ns):
            return False
        return all((self.folder / output).is_file() for output in entry.outputs)

    def record(self, name: str, entry: VideoEntry) -> None:
        """Add or replace a video's entry and write the manifest (atomically)."""
        self.videos[name] = entry
        self.save()

    def save(self) -> None:
        data: dict[str, Any] = {
            "format": FORMAT,
            "model_hash": self.model_hash,
            "videos": {name: asdict(entry) for name, entry in sorted(self.videos.items())},
        }
        path = self.folder / NAME
        staged = path.with_name(f".{NAME}.{os.getpid()}.tmp")
        staged.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(staged, path)


def model_hash(config: Config) -> str:
    """What identifies the model a run classifies with: the bundle's files, or the model config."""
    digest = hashlib.sha256()
    model = config.model
    digest.update(json.dumps(asdict(model), sort_keys=True, default=str).encode())
    digest.update(json.dumps(asdict(config.postprocess), sort_keys=True, default=str).encode())
    if model.bundle is not None:
        for path in sorted(Path(model.bundle).rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(model.bundle).as_posix().encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]
