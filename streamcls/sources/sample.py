"""Frames spread evenly over a recording: what int8 calibration and agreement checks read.

The caller supplies them to the model code (``model.backends`` never opens a source).
"""

from __future__ import annotations

import numpy as np

from streamcls.config import SourceConfig
from streamcls.errors import ConfigError, EndOfStream, SourceError
from streamcls.sources.describe import describe_source
from streamcls.sources.open import open_source


def sample_frames(uri: str, count: int) -> list[np.ndarray]:
    """Up to ``count`` frames spread evenly over a video file or image folder.

    Raises:
        ConfigError: the source is a camera or stream, or gives no frames.
    """
    if describe_source(uri).live:  # checked before opening: a camera or stream is never waited on
        raise ConfigError(
            f"calibration source {uri!r} is a live source; pass a video file or an image folder "
            f"(--calibration) so the frames are the same on every run"
        )
    try:
        source = open_source(SourceConfig(uri=uri))
    except SourceError as error:
        raise ConfigError(f"calibration source: {error}") from None
    with source:
        stride = max(1, (source.frame_count_hint or count) // count)
        frames: list[np.ndarray] = []
        index = 0
        while len(frames) < count:
            try:
                image = source.read().image
            except (EndOfStream, SourceError):  # a damaged tail still leaves usable frames
                break
            if index % stride == 0:
                frames.append(image)
            index += 1
    if not frames:
        raise ConfigError(f"calibration source {uri!r} gave no frames; pass a video or folder with pictures")
    return frames
