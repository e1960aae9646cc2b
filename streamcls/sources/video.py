"""``cv2.VideoCapture`` as a frame source: webcam index, video file, or stream URL."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from streamcls.errors import EndOfStream, SourceOpenError, StreamLost
from streamcls.sources import SourceSpec

logger = logging.getLogger(__name__)


class VideoSource:
    """Reads frames with OpenCV. Opening happens in ``__init__`` so errors come early.

    Streams are opened through FFmpeg with open and read timeouts, so an
    unreachable URL fails within ``open_timeout_s`` and a stalled one is noticed
    within ``read_timeout_s`` instead of hanging.
    """

    def __init__(self, spec: SourceSpec, open_timeout_s: float = 10.0, read_timeout_s: float = 5.0):
        self.spec = spec
        self._open_timeout_ms = int(open_timeout_s * 1000)
        self._read_timeout_ms = int(read_timeout_s * 1000)
        self._capture: cv2.VideoCapture | None = None
        self.fps: float | None = None
        self.frame_count_hint: int | None = None
        self.frame_size: tuple[int, int] | None = None
        self._open()

    def _open(self) -> None:
        spec = self.spec
        if spec.kind == "file" and not Path(spec.uri).is_file():
            raise SourceOpenError(
                f"video file {spec.uri!r} does not exist; check the path (or pass a camera "
                f"index like 0, an rtsp:// URL, or an image folder)"
            )
        if spec.kind == "file" and Path(spec.uri).stat().st_size == 0:
            raise SourceOpenError(f"video file {spec.uri!r} is empty (0 bytes); pass a real video")
        if spec.kind == "camera":
            capture = cv2.VideoCapture(int(spec.uri))
        else:
            parameters = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self._open_timeout_ms,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, self._read_timeout_ms,
            ]
            capture = cv2.VideoCapture(spec.uri, cv2.CAP_FFMPEG, parameters)
        if not capture.isOpened():
            capture.release()
            raise SourceOpenError(self._open_failure())
        self._capture = capture
        self._decoded = 0
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else None
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count_hint = count if spec.kind == "file" and count > 0 else None

    def _open_failure(self) -> str:
        spec = self.spec
        if spec.kind == "camera":
            return (
                f"camera {spec.uri} cannot be opened: no such device or it is busy; check the "
                f"index (ls /dev/video*) and that no other program holds it"
            )
        if spec.kind == "stream":
            return (
                f"stream {spec.source_id} cannot be opened within {self._open_timeout_ms / 1000:g} s: "
                f"unreachable, refused or not a video stream; check the URL, the network and the "
                f"credentials (or raise source.open_timeout_s)"
            )
        return (
            f"{spec.uri!r} cannot be opened as a video: it is not a video file, it is damaged, or "
            f"its codec is not in OpenCV's FFmpeg; convert it (ffmpeg -i IN -c:v libx264 OUT.mp4)"
        )

    def read(self) -> tuple[np.ndarray, float | None]:
        """The next frame (BGR uint8) and its position in ms (files only).

        Raises:
            EndOfStream: a file or camera has no more frames.
            StreamLost: a stream stopped delivering (dropped or stalled past the read timeout).
        """
        if self._capture is None:
            raise EndOfStream()
        ok, image = self._capture.read()
        if not ok or image is None:
            if self.spec.kind == "stream":
                raise StreamLost(f"stream {self.spec.source_id} stopped delivering frames")
            raise EndOfStream()
        position = None
        if self.spec.kind == "file":
            # CAP_PROP_POS_MSEC is unreliable in real files (the shared AVI steps 40 ms at
            # 50 fps and jumps back to 0): use the frame rate, which is also the timeline
            # of the annotated video, and the decoder's clock only when the rate is unknown.
            if self.fps:
                position = self._decoded * 1000.0 / self.fps
            else:
                position = self._capture.get(cv2.CAP_PROP_POS_MSEC)
        self._decoded += 1
        return image, position

    def reopen(self) -> None:
        """Close and open again (after a dropped stream). Raises ``SourceOpenError``."""
        self.close()
        self._open()

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
