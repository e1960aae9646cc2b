"""What a URI names (``describe_source``), and what every opened source offers (``FrameSource``)."""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from streamcls.frames import Decoded
from streamcls.redact import mask_uri

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


@dataclass(frozen=True)
class SourceSpec:
    """What a URI names: ``kind`` is camera, file, stream or images."""

    kind: str
    uri: str
    source_id: str

    @property
    def live(self) -> bool:
        return self.kind in ("camera", "stream")


class FrameSource(Protocol):
    """One opened source. ``read`` returns the next picture (:class:`Decoded`), raises
    ``EndOfStream`` at the end, ``StreamLost`` when a live stream stops delivering."""

    spec: SourceSpec
    fps: float | None
    frame_count_hint: int | None

    def read(self) -> Decoded: ...

    def reopen(self) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> FrameSource: ...

    def __exit__(self, *exc: object) -> None: ...


def describe_source(uri: str, source_id: str | None = None) -> SourceSpec:
    """Classify a URI: a camera index, a stream URL, an image folder or glob, else a file.

    ``source_id`` defaults to the URI with its credentials masked (see
    :func:`streamcls.redact.mask_uri`): it is what every output shows.
    """
    text = uri.strip()
    if re.fullmatch(r"\d+", text):
        kind = "camera"
    elif text.lower().startswith(STREAM_SCHEMES):
        kind = "stream"
    elif Path(text).is_dir() or glob.has_magic(text):
        kind = "images"
    else:
        kind = "file"
    return SourceSpec(kind, text, source_id or mask_uri(text))
