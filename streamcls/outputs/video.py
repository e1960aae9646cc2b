"""The video sink: the annotated frames as a video file."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from streamcls.errors import SinkError
from streamcls.frames import Prediction
from streamcls.outputs.files import check_parent
from streamcls.outputs.sink import SinkSettings

logger = logging.getLogger(__name__)


class VideoSink:
    """An annotated video at the source's size and frame rate.

    ``codec: auto`` tries H.264 (``avc1``) and falls back to ``mp4v`` for
    .mp4/.mov/.mkv, ``MJPG`` for .avi; ``self.codec`` says which one was used.
    Opened lazily at the first frame, whose size it keeps: later frames of
    another size (a stream reconnecting at a new resolution) are scaled to it.
    MPEG-4 and H.264 need even sizes: an odd-sized frame gets one replicated
    row/column at the bottom/right rather than losing one (said in the log).
    """

    needs_image = True

    @classmethod
    def from_settings(cls, settings: SinkSettings) -> VideoSink:
        return cls(settings.required_path(), settings.fps, settings.output.codec)

    def __init__(self, path: str | Path, fps: float | None, codec: str = "auto"):
        self.path = Path(path)
        check_parent(self.path, "output video")
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
                logger.info(
                    "%s: padding %dx%d frames to %dx%d (codec %s needs even sizes)",
                    self.path,
                    width,
                    height,
                    *even,
                    codec,
                )
                width, height = even
            # FFmpeg prints a screenful when an encoder (often H.264) is missing; the
            # fallback is the answer, and self.codec reports which one was used.
            with quiet_native_stderr(enabled=self.requested_codec == "auto"):
                fourcc = cv2.VideoWriter_fourcc(*codec)  # type: ignore[attr-defined]
                writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (width, height))
            if writer.isOpened():
                self._writer, self.codec, self._size = writer, codec, (width, height)
                logger.info("writing %s with codec %s at %.2f fps, %dx%d", self.path, codec, self.fps, width, height)
                return
            writer.release()
        raise SinkError(
            f"output video {str(self.path)!r}: OpenCV cannot write codec "
            f"{' or '.join(self._candidates())} here; use a .mp4 or .avi path, or set "
            f"output.codec to mp4v or MJPG"
        )

    def write(self, image: np.ndarray | None, prediction: Prediction) -> None:
        assert image is not None  # needs_image: the pipeline always passes the frame
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
