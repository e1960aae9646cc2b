"""A folder or glob of images as a frame source, in sorted order.

A folder is read with its sub-folders (hidden ones, such as ``.thumbnails``, left
out). Every picture is named by its path relative to the folder, or to a glob's
fixed root (the folders before the first wildcard), with ``/`` separators: that
name travels with the frame into every record (``file``), so a record says which
picture it is about even when a picture before it was skipped.

Files that are not images, and JPEGs/PNGs cut short, are skipped and counted
by name (a folder often holds a stray ``.txt`` or ``Thumbs.db``, or a picture whose
copy stopped half-way); a folder with no readable image is an error at open.
"""

from __future__ import annotations

import glob
import logging
from pathlib import Path, PurePath

import cv2
import numpy as np

from streamcls.errors import EndOfStream, SourceOpenError
from streamcls.frames import Decoded
from streamcls.sources.describe import SourceSpec

logger = logging.getLogger(__name__)


class ImageFolderSource:
    """Reads every file of a folder (or matching a glob) that OpenCV decodes."""

    def __init__(self, spec: SourceSpec):
        self.spec = spec
        paths = image_files(spec.uri)
        if not paths and Path(spec.uri).is_dir():
            raise SourceOpenError(
                f"image folder {spec.uri!r} holds no files, nor do its sub-folders; "
                f"expected .jpg/.png pictures in it: pass a folder of images, or a video file's "
                f"own path"
            )
        if not paths:
            raise SourceOpenError(
                f"image source {spec.uri!r} matches no files; pass a folder of images or a glob such as 'frames/*.jpg'"
            )
        self._paths = paths
        self._root = image_root(spec.uri)
        self._next = 0
        self.skipped: list[str] = []  # the names (see picture_name) of the files skipped so far
        self.fps: float | None = None
        self.frame_count_hint: int | None = len(paths)
        # The first picture is decoded now, so a folder without one fails before the model loads.
        self._first = self._next_image()
        if self._first is None:
            raise SourceOpenError(
                f"image source {spec.uri!r} holds {len(paths)} files and none is a whole image "
                f"OpenCV can read (such as {', '.join(map(repr, self.skipped[:3]))}); pass a folder of "
                f".jpg/.png/.bmp images"
            )

    def read(self) -> Decoded:
        """The next readable picture (BGR uint8) and its name; ``EndOfStream`` after the last."""
        decoded = self._first if self._first is not None else self._next_image()
        self._first = None
        if decoded is None:
            raise EndOfStream()
        return decoded

    def _next_image(self) -> Decoded | None:
        while self._next < len(self._paths):
            path = self._paths[self._next]
            self._next += 1
            image, problem = _decode(path)
            name = picture_name(path, self._root)
            if image is not None:
                return Decoded(image, None, name)
            self.skipped.append(name)
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

    A folder's files and those of its sub-folders (hidden ones left out), or the
    files a glob matches (``**`` spans folders); sorted by path. Which of them are
    pictures is :func:`list_pictures`.
    """
    if Path(uri).is_dir():
        root = Path(uri)
        return sorted(
            path
            for path in root.rglob("*")
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts[:-1])
        )
    return sorted(Path(path) for path in glob.glob(uri, recursive=True) if Path(path).is_file())


def image_root(uri: str) -> Path:
    """The folder the names of an image source's pictures are relative to.

    The folder itself, or a glob's fixed part: its folders before the first one with a
    wildcard (``photos/2024/*/*.jpg`` -> ``photos/2024``, ``img_*.png`` -> ``.``).
    """
    path = Path(uri)
    if path.is_dir():
        return path
    fixed: list[str] = []
    for part in path.parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def picture_name(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with ``/`` separators: what records call the picture."""
    try:
        return PurePath(path).relative_to(root).as_posix()
    except ValueError:  # not under the root (a glob with "..": the path as matched)
        return PurePath(path).as_posix()


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
