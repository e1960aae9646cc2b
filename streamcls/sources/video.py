"""``cv2.VideoCapture`` as a frame source: webcam index, video file, or stream URL."""

from __future__ import annotations

import enum
import logging
import os
import statistics
import struct
from collections import deque
from pathlib import Path

import cv2
import numpy as np

from streamcls.errors import EndOfStream, SourceOpenError, SourceTruncated, StreamLost
from streamcls.frames import Decoded
from streamcls.sources.describe import SourceSpec

logger = logging.getLogger(__name__)

# Frames decoded at open to check a file really decodes and to read its frame rate off
# the decoder's timestamps; they are kept and served first, never decoded twice.
PROBE_FRAMES = 10


class FileProblem(enum.Enum):
    """Why a path cannot be a video file, known before OpenCV is asked; the value reads after the path."""

    NOT_REGULAR = "is not a regular file (a device, pipe or socket)"
    MISSING = "does not exist"
    EMPTY = "is empty"


def file_problem(uri: str | Path) -> FileProblem | None:
    """What keeps ``uri`` from opening as a video file before any decoder is tried, or None.

    Only the path is looked at (no decoding): :class:`VideoSource` refuses these at
    open with their fix, and ``streamcls doctor`` reports them.
    """
    path = Path(uri)
    if path.exists() and not path.is_file():
        return FileProblem.NOT_REGULAR
    if not path.is_file():
        return FileProblem.MISSING
    if path.stat().st_size == 0:
        return FileProblem.EMPTY
    return None


class VideoSource:
    """Reads frames with OpenCV. Opening happens in ``__init__`` so errors come early.

    Streams are opened through FFmpeg with open and read timeouts, so an
    unreachable URL fails within ``open_timeout_s`` and a stalled one is noticed
    within ``read_timeout_s`` instead of hanging.

    Files are not taken at their header's word. ``CAP_PROP_FPS`` reports the
    container's average packet rate, which for some AVIs (the shared recording:
    two packets per picture) is twice the picture rate, and the frame count is
    in the same units. The first frames' timestamps give the real rate, which
    then scales the count; a file that ends well short of that count is reported
    as truncated once every frame before the damage has been delivered.
    """

    def __init__(self, spec: SourceSpec, open_timeout_s: float = 10.0, read_timeout_s: float = 5.0):
        self.spec = spec
        self._open_timeout_ms = int(open_timeout_s * 1000)
        self._read_timeout_ms = int(read_timeout_s * 1000)
        self._capture: cv2.VideoCapture | None = None
        self._probed: deque[tuple[np.ndarray, float]] = deque()  # (image, decoder ms)
        self.fps: float | None = None
        self.frame_count_hint: int | None = None
        self.frame_size: tuple[int, int] | None = None
        self._open()

    def _open(self) -> None:
        spec = self.spec
        _quiet_decoder_logs()
        problem = file_problem(spec.uri) if spec.kind == "file" else None
        if problem is FileProblem.NOT_REGULAR:
            raise SourceOpenError(
                f"{spec.uri!r} is not a regular file (a device, pipe or socket); expected a video "
                f"file: pass its path (or a camera index like 0, or an rtsp:// URL)"
            )
        if problem is FileProblem.MISSING:
            raise SourceOpenError(
                f"video file {spec.uri!r} does not exist; check the path (or pass a camera "
                f"index like 0, an rtsp:// URL, or an image folder)"
            )
        if problem is FileProblem.EMPTY:
            raise SourceOpenError(f"video file {spec.uri!r} is empty (0 bytes); pass a real video")
        if spec.kind == "camera":
            capture = cv2.VideoCapture(int(spec.uri))
        else:
            parameters = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                self._open_timeout_ms,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                self._read_timeout_ms,
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
        if spec.kind == "file":
            self._probe()

    def _probe(self) -> None:
        """Decode the first frames: a file with none fails now; their timestamps fix the rate."""
        assert self._capture is not None
        timestamps = []
        while len(self._probed) < PROBE_FRAMES:
            ok, image = self._capture.read()
            if not ok or image is None:
                break
            timestamps.append(self._capture.get(cv2.CAP_PROP_POS_MSEC))
            self._probed.append((image, timestamps[-1]))
        if not self._probed:
            self.close()
            raise SourceOpenError(
                f"{self.spec.uri!r} opens as a video but holds no decodable frame (0 frames); "
                f"check that the recording finished, or re-encode it (ffmpeg -i IN -c:v libx264 OUT.mp4)"
            )
        steps = [later - earlier for earlier, later in zip(timestamps, timestamps[1:]) if later > earlier]
        if len(steps) < 3 or self.fps is None:
            return
        measured = 1000.0 / statistics.median(steps)
        if abs(measured - self.fps) / self.fps > 0.05:
            logger.info(
                "%s: header says %.3g fps but frames are %.1f ms apart: using %.3g fps",
                self.spec.source_id,
                self.fps,
                1000.0 / measured,
                measured,
            )
            if self.frame_count_hint:
                self.frame_count_hint = round(self.frame_count_hint * measured / self.fps)
            self.fps = measured

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
        found = _sniff(Path(spec.uri))
        if found:
            return f"{spec.uri!r} cannot be opened as a video: {found}"
        return (
            f"{spec.uri!r} cannot be opened as a video: it is not a video file, it is damaged, or "
            f"its codec is not in OpenCV's FFmpeg; convert it (ffmpeg -i IN -c:v libx264 OUT.mp4)"
        )

    def read(self) -> Decoded:
        """The next frame (BGR uint8) and its position in ms (files only).

        Raises:
            EndOfStream: a file or camera has no more frames.
            StreamLost: a stream stopped delivering (dropped or stalled past the read timeout).
        """
        if self._capture is None:
            raise EndOfStream()
        if self._probed:
            image, decoder_ms = self._probed.popleft()
            ok = True
        else:
            ok, image = self._capture.read()
            decoder_ms = self._capture.get(cv2.CAP_PROP_POS_MSEC)
        if not ok or image is None:
            if self.spec.kind == "stream":
                raise StreamLost(f"stream {self.spec.source_id} stopped delivering frames")
            self._check_complete()
            raise EndOfStream()
        position = None
        if self.spec.kind == "file":
            # The frame rate (checked against the timestamps in _probe) is also the timeline
            # of the annotated video, so positions match it; the decoder's clock only when
            # the rate is unknown. The decoder's clock reads 0 again after the last frame.
            if self.fps:
                position = self._decoded * 1000.0 / self.fps
            else:
                position = decoder_ms
        self._decoded += 1
        return Decoded(image, position)

    def _check_complete(self) -> None:
        """Raise ``SourceTruncated`` when a file ended well short of its announced length."""
        expected = self.frame_count_hint
        if self.spec.kind != "file" or not expected:
            return
        # Counts derived from duration x rate can be a frame or two off; damage is not.
        if self._decoded < expected - max(2, expected // 50):
            raise SourceTruncated(
                f"{self.spec.uri!r} ended after {self._decoded} of the {expected} frames its header "
                f"announces: the file is truncated or damaged from there (or its header miscounts); "
                f"the {self._decoded} frames before it were processed and written (re-copy or repair "
                f"the file for the rest)"
            )

    def reopen(self) -> None:
        """Close and open again (after a dropped stream). Raises ``SourceOpenError``."""
        self.close()
        self._open()

    def close(self) -> None:
        self._probed.clear()
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quiet_decoder_logs() -> None:
    """Keep FFmpeg's and OpenCV's own lines about a damaged file off the console.

    "moov atom not found", "overread 8", "File ended prematurely" and OpenCV's
    "can't be used to capture by name" go straight to the process's stderr, a
    screenful for one bad file; the errors raised here say it in one line. FFmpeg
    takes its level when OpenCV first starts it, so this runs before every open.
    A level the user set wins, and debug logging (``--verbose``) keeps them all.
    """
    if logger.isEnabledFor(logging.DEBUG):
        return
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def _sniff(path: Path) -> str | None:
    """What a file FFmpeg would not open holds, and the fix, when its bytes tell."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(4096)
            if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
                announced = 8 + struct.unpack("<I", head[4:8])[0]  # the RIFF header's own size
                if size < announced:
                    return (
                        "it is an AVI cut off before its first frame (smaller than its header "
                        "says); expected a whole file: copy it again"
                    )
            if head[4:8] != b"ftyp":
                if head and not any(byte < 9 or 13 < byte < 32 for byte in head):
                    return "it holds text, not video; expected a video file (.mp4, .avi, .mkv): check the path"
                return None
            # An MP4/MOV is a chain of boxes; a recording cut off before it was
            # finalised has no 'moov' (the index FFmpeg needs to find any frame).
            offset, kinds = 0, set()
            while offset + 8 <= size:
                handle.seek(offset)
                header = handle.read(16)
                box_size, kind = struct.unpack(">I4s", header[:8])
                if box_size == 1 and len(header) == 16:
                    box_size = struct.unpack(">Q", header[8:])[0]
                elif box_size == 0:
                    box_size = size - offset
                if box_size < 8:
                    break
                kinds.add(kind)
                offset += box_size
            if b"moov" in kinds:
                return None
            return (
                "it is an MP4/MOV without its index (no 'moov' box): the recording was cut off "
                "before it was finalised, or the copy is incomplete; expected a whole file: copy "
                "it again (or repair it with a tool such as untrunc)"
            )
    except OSError:
        return None
