"""Frame sources: cameras, video files, network streams, image folders.

``describe_source(uri)`` says what kind a URI is and ``open_source(config)``
gives a ``FrameSource`` (``open.py``); ``video.py`` and ``images.py`` read
them; ``channel.py`` names the capture policies and ``capture.py`` runs a
source in its own thread under one; ``sample.py`` takes frames spread over a
recording (calibration).
"""

from streamcls.sources.describe import FrameSource, SourceSpec, describe_source
from streamcls.sources.open import open_source

__all__ = ["FrameSource", "SourceSpec", "describe_source", "open_source"]
