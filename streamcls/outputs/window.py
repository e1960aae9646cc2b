"""The window sink: show annotated frames in an OpenCV window, quit with ``q``/Esc.

A window needs a display that answers. ``DISPLAY`` left over from an expired
SSH session would make Qt abort the whole process, so the display is checked
first and a run without one carries on headless.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from pathlib import Path

import cv2
import numpy as np

from streamcls.frames import Prediction
from streamcls.outputs.sink import SinkSettings
from streamcls.quiet import quiet_native_stderr

QUIT_KEYS = (ord("q"), ord("Q"), 27)  # 27: Esc


def display_available() -> tuple[bool, str]:
    """Whether a window can be shown, and why not."""
    info = cv2.getBuildInformation()
    gui = [line for line in info.splitlines() if line.strip().startswith("GUI:")]
    if gui and gui[0].split(":", 1)[1].strip().upper() in ("NONE", "NO", ""):
        return False, "this OpenCV build has no GUI support (opencv-python-headless?)"
    if not sys.platform.startswith("linux") or os.environ.get("WAYLAND_DISPLAY"):
        return True, ""
    display = os.environ.get("DISPLAY", "")
    if not display:
        return False, "no DISPLAY is set"
    if not x_server_answers(display):
        return False, f"DISPLAY={display} is set but no X server answers there"
    return True, ""


def x_server_answers(display: str, timeout_s: float = 1.0) -> bool:
    """Whether the X server named by ``display`` (``:0``, ``localhost:10.0``) accepts a connection."""
    match = re.fullmatch(r"(?P<host>[^:]*):(?P<number>\d+)(\.\d+)?", display)
    if match is None:
        return False
    host, number = match["host"], int(match["number"])
    if host in ("", "unix"):
        address: object = str(Path("/tmp/.X11-unix") / f"X{number}")
        family = socket.AF_UNIX
    else:
        address, family = (host, 6000 + number), socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout_s)
            connection.connect(address)  # type: ignore[arg-type]  # a path or (host, port), by family
        return True
    except OSError:
        return False


class WindowSink:
    """An OpenCV window; ``q``, Esc or closing the window asks the run to stop (``self.quit``)."""

    needs_image = True

    @classmethod
    def from_settings(cls, settings: SinkSettings) -> WindowSink:
        title = settings.options.get("title") or "streamcls - " + ", ".join(settings.source_ids)
        return cls(str(title))

    def __init__(self, title: str = "streamcls"):
        self.title = title
        self.quit = False
        self._shown = False
        # OpenCV's bundled Qt complains about missing fonts on every window it opens.
        with quiet_native_stderr():
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)

    def write(self, image: np.ndarray | None, prediction: Prediction) -> None:
        assert image is not None  # needs_image: the pipeline always passes the frame
        if self._shown and cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            self.quit = True  # the user closed the window
            return
        with quiet_native_stderr(enabled=not self._shown):
            cv2.imshow(self.title, image)
            key = cv2.waitKey(1) & 0xFF
        self._shown = True
        if key in QUIT_KEYS:
            self.quit = True

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # lets the GUI thread actually take the window down
        except cv2.error:
            pass

    def __enter__(self) -> WindowSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
