"""The exceptions streamcls raises on purpose.

Every message is one line that says what was received, what was expected and
how to fix it; ``cli.py`` prints it and exits with the class's ``exit_code``.
"""

from __future__ import annotations


class StreamclsError(Exception):
    """Base of every error streamcls raises for the user to act on."""

    exit_code = 1


class ConfigError(StreamclsError):
    """A config file, a config key or a command-line flag is wrong."""

    exit_code = 2


class FrameError(StreamclsError):
    """A frame handed to preprocessing is not a BGR (or grey) uint8 image."""

    exit_code = 3


class ModelError(StreamclsError):
    """The classifier cannot be built or run as configured."""

    exit_code = 4


class WeightsError(ModelError):
    """Backbone weights cannot be had, or a weight file does not fit the network."""


class BundleError(ModelError):
    """A model bundle on disk is missing, incomplete or of an unknown format."""


class DeviceError(ModelError):
    """The requested device (for example a GPU) is not available."""


class SourceError(StreamclsError):
    """Frames cannot be had from the source."""

    exit_code = 5


class SourceOpenError(SourceError):
    """The source cannot be opened: missing file, not a video, no such camera, unreachable URL."""


class StreamLost(SourceError):
    """A live stream stopped delivering frames (dropped, stalled) and could not be reopened."""


class SourceTruncated(SourceError):
    """A file ended well before the frames its header announces: processed up to the damage."""


class SinkError(StreamclsError):
    """An output (video file, predictions file, window) cannot be written."""

    exit_code = 6


class EndOfStream(Exception):
    """A source has no more frames. Not an error: iterators turn it into ``StopIteration``."""
