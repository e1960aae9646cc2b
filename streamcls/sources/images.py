"""A folder or glob of images as a frame source, in sorted order.

Files that are not images are skipped and counted (a folder often holds a
stray ``.txt`` or ``Thumbs.db``); a folder with no readable image is an error.
"""

from __future__ import annotations

import glob
import logging
from pathlib import Path

import cv2
import numpy as np

from streamcls.errors import EndOfStream, SourceOpenError
from streamcls.sources import SourceSpec

logger = logging.getLogger(__name__)


class ImageFolderSource:
    """Reads every file of a folder (or matching a glob) that OpenCV decodes."""

    def __init__(self, spec: SourceSpec):
        self.spec = spec
        if Path(spec.uri).is_dir():
            paths = sorted(path for path in Path(spec.uri).iterdir() if path.is_file())
        else:
            paths = sorted(Path(path) for path in glob.glob(spec.uri) if Path(path).is_file())
        if not paths:
            raise SourceOpenError(
                f"image source {spec.uri!r} matches no files; pass a folder of images or a glob "
                f"such as 'frames/*.jpg'"
            )
        self._paths = paths
        self._next = 0
        self.skipped: list[str] = []
        self.fps: float | None = None
        self.frame_count_hint: int | None = len(paths)

    def read(self) -> tuple[np.ndarray, float | None]:
        while self._next < len(self._paths):
            path = self._paths[self._next]
            self._next += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                return image, None
            self.skipped.append(path.name)
            logger.warning("skipping %s: not an image OpenCV can read", path)
        if len(self.skipped) == len(self._paths):
            raise SourceOpenError(
                f"image source {self.spec.uri!r} holds {len(self._paths)} files and none is an "
                f"image OpenCV can read; pass a folder of .jpg/.png/.bmp images"
            )
        raise EndOfStream()

    def reopen(self) -> None:
        raise SourceOpenError(f"image source {self.spec.uri!r} cannot be reopened")

    def close(self) -> None:
        self._next = len(self._paths)

    def __enter__(self) -> ImageFolderSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
