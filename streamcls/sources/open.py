"""Open the source a config names: an image folder, or anything OpenCV/FFmpeg reads."""

from __future__ import annotations

from streamcls.config import SourceConfig
from streamcls.sources.describe import FrameSource, describe_source


def open_source(config: SourceConfig) -> FrameSource:
    """Open the source ``config.uri`` names.

    Raises:
        SourceOpenError: with what was received, what was expected and the fix.
    """
    spec = describe_source(config.uri, config.id)
    # Imported here: describing a source (config checks, doctor) must not load OpenCV.
    if spec.kind == "images":
        from streamcls.sources.images import ImageFolderSource

        return ImageFolderSource(spec)
    from streamcls.sources.video import VideoSource

    return VideoSource(spec, config.open_timeout_s, config.read_timeout_s)
