"""Small real video files written with OpenCV for the tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_video(path: Path, count: int, size: tuple[int, int] = (96, 64), fps: float = 25.0,
                codec: str = "mp4v") -> Path:
    """``count`` frames of (width, height) ``size``; frame i is a distinct picture."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {codec} to {path}"
    rng = np.random.default_rng(count)
    for index in range(count):
        image = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (0, 0), 2)
        cv2.putText(image, str(index), (4, height - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
        writer.write(image)
    writer.release()
    return path


def decode_all(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames
