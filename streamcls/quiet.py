"""Silence native libraries' stderr chatter (OpenCV, FFmpeg, TensorFlow).

Their log levels first (:func:`set_native_log_levels`, before the libraries
load): OpenCV's "Camera index out of range", FFmpeg's "partial file" and
TensorFlow's C++ start-up lines say nothing streamcls does not say itself in
its own words. Only what ignores every level (TensorFlow's lines from before
its logging starts) is hidden by redirecting file descriptor 2, only for the
``with`` block of :func:`quiet_native_stderr`; Python exceptions propagate as
usual and are reported by the CLI.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, MutableMapping

# What each library is told when the user has set nothing: (variable, value).
QUIET_LEVELS = (
    # ERROR still prints "[ERROR:0@0.061] ... Camera index out of range" for a missing camera.
    ("OPENCV_LOG_LEVEL", "FATAL"),
    ("OPENCV_FFMPEG_LOGLEVEL", "-8"),  # AV_LOG_QUIET: no "partial file", "moov atom not found"
    ("TF_CPP_MIN_LOG_LEVEL", "3"),  # errors too: "failed call to cuInit" on a machine without a GPU
)
DEBUG_VALUES = ("debug", "verbose")


def debug_requested(environ: MutableMapping[str, str]) -> bool:
    """``STREAMCLS_LOG=debug`` in ``environ``: the same as ``--verbose``."""
    return environ.get("STREAMCLS_LOG", "").strip().lower() in DEBUG_VALUES


def set_native_log_levels(environ: MutableMapping[str, str], verbose: bool) -> None:
    """Quiet OpenCV, FFmpeg and TensorFlow, unless ``verbose``; a value the user set wins.

    They read these variables once, when they load: call this before the first
    ``import cv2`` or ``import tensorflow``. Verbose, TensorFlow's level drops to 0
    (everything) and OpenCV's and FFmpeg's stay at their own defaults. Run after
    :func:`streamcls.redact.limit_native_logging`, which caps the levels at which
    FFmpeg prints stream passwords whoever set them.
    """
    if verbose:
        environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        return
    for name, value in QUIET_LEVELS:
        environ.setdefault(name, value)


@contextlib.contextmanager
def quiet_native_stderr(enabled: bool = True) -> Iterator[None]:
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
