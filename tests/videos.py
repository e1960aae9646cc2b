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


def moov_first(data: bytes) -> bytes:
    """An MP4 written by OpenCV (``mdat`` then ``moov``) with its index moved to the front.

    What ``ffmpeg -movflags faststart`` does: the chunk offsets in ``stco`` move by the
    index's size. Cut such a file and FFmpeg still opens it, then meets the end of its
    data mid-stream ("stream 0, offset 0x...: partial file"), as with a download stopped
    half-way.
    """
    import struct

    def boxes(buffer, start, end):
        offset = start
        while offset + 8 <= end:
            size, kind = struct.unpack(">I4s", buffer[offset:offset + 8])
            size = end - offset if size == 0 else size
            yield offset, size, kind
            offset += size

    top = list(boxes(data, 0, len(data)))
    start, size, _ = next(box for box in top if box[2] == b"moov")
    index = bytearray(data[start:start + size])

    def shift(begin, end):
        for offset, box_size, kind in boxes(index, begin, end):
            if kind in (b"trak", b"mdia", b"minf", b"stbl"):
                shift(offset + 8, offset + box_size)
            elif kind == b"stco":
                count = struct.unpack(">I", index[offset + 12:offset + 16])[0]
                for entry in range(offset + 16, offset + 16 + 4 * count, 4):
                    struct.pack_into(">I", index, entry, struct.unpack(">I", index[entry:entry + 4])[0] + len(index))

    shift(8, len(index))
    head = b"".join(data[o:o + s] for o, s, kind in top if kind == b"ftyp")
    rest = b"".join(data[o:o + s] for o, s, kind in top if kind not in (b"ftyp", b"moov"))
    return head + bytes(index) + rest
