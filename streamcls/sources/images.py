"""A folder or glob of images as a frame source, in sorted order.

Files that are not images, and JPEGs/PNGs cut short, are skipped and counted
(a folder often holds a stray ``.txt`` or ``Thumbs.db``, or a picture whose
copy stopped half-way); a folder with no readable image is an error at open.
"""

from __future__ import annotations

import glob
import logging
from pathlib import Path

import cv2
import numpy as np

from streamcls.errors import EndOfStream, SourceOpenError
from streamcls.sources.describe import SourceSpec

logger = logging.getLogger(__name__)


class ImageFolderSource:
    """Reads every file of a folder (or matching a glob) that OpenCV decodes."""

    def __init__(self, spec: SourceSpec):
        self.spec = spec
        paths = image_files(spec.uri)
        if not paths and Path(spec.uri).is_dir():
            raise SourceOpenError(
                f"image folder {spec.uri!r} holds no files (sub-folders are not searched); "
                f"expected .jpg/.png pictures in it: pass a folder of images, or a video file's "
                f"own path"
            )
        if not paths:
            raise SourceOpenError(
                f"image source {spec.uri!r} matches no files; pass a folder of images or a glob such as 'frames/*.jpg'"
            )
        self._paths = paths
        self._next = 0
        self.skipped: list[str] = []
        self.fps: float | None = None
        self.frame_count_hint: int | None = len(paths)
        # The first picture is decoded now, so a folder without one fails before the model loads.
        self._first = self._next_image()
        if self._first is None:
            raise SourceOpenError(
                f"image source {spec.uri!r} holds {len(paths)} files and none is a whole image "
                f"OpenCV can read (such as {', '.join(self.skipped[:3])}); pass a folder of "
                f".jpg/.png/.bmp images"
            )

    def read(self) -> tuple[np.ndarray, float | None]:
        image = self._first if self._first is not None else self._next_image()
        self._first = None
        if image is None:
            raise EndOfStream()
        return image, None

    def _next_image(self) -> np.ndarray | None:
        while self._next < len(self._paths):
            path = self._paths[self._next]
            self._next += 1
            image, problem = _decode(path)
            if image is not None:
                return image
            self.skipped.append(path.name)
            logger.warning("skipping %s: %s", path, problem)
        return None

    def reopen(self) -> None:
        raise SourceOpenError(f"image source {self.spec.uri!r} cannot be reopened")

    def close(self) -> None:
        self._next = len(self._paths)
        self._first = None

    def __enter__(self) -> ImageFolderSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def image_files(uri: str) -> list[Path]:
    """The files an image source at ``uri`` tries, in the order it reads them.

    A folder's own files (sub-folders are not searched), or the files a glob
    matches; sorted by path. Which of them are pictures is :func:`list_pictures`.
    """
    if Path(uri).is_dir():
        return sorted(path for path in Path(uri).iterdir() if path.is_file())
    return sorted(Path(path) for path in glob.glob(uri) if Path(path).is_file())


def list_pictures(uri: str) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Split the files of ``uri`` into the pictures the source reads and those it skips.

    Every file is read and decoded exactly as :class:`ImageFolderSource` would, so a
    picture cut short counts as skipped here too; the pixels are not kept.

    Returns:
        ``(pictures, skipped)``: the paths it reads, in order, and ``(path, why)`` for
        each file it skips (why such as "not an image OpenCV can read").

    Example::

        pictures, skipped = list_pictures("frames/*.jpg")
    """
    pictures: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for path in image_files(uri):
        image, problem = _decode(path)
        if image is not None:
            pictures.append(path)
        else:
            skipped.append((path, problem))
    return pictures, skipped


def _decode(path: Path) -> tuple[np.ndarray | None, str]:
    """The picture in ``path`` (BGR uint8), or ``None`` and why it is skipped.

    A JPEG or PNG cut short is refused from its bytes before decoding: libjpeg
    would hand back the picture with its missing part grey (and print "Premature
    end of JPEG file" to the console), libpng print "Read Error".
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        return None, f"cannot be read ({error.strerror})"
    if data.startswith(b"\xff\xd8"):
        scan = data.rfind(b"\xff\xda")  # the last scan; its data can hold no other marker but RSTn
        if scan < 0 or data.find(b"\xff\xd9", scan) < 0:
            return None, "a JPEG cut short (no end-of-image marker after its picture data)"
    if data.startswith(b"\x89PNG\r\n\x1a\n") and b"IEND" not in data:
        return None, "a PNG cut short (no IEND chunk at its end)"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    return (image, "") if image is not None else (None, "not an image OpenCV can read")
