"""A real RTSP server on 127.0.0.1 for the tests (GStreamer's gst-rtsp-server, run by Debian's python3).

``RtspServer(port)`` starts it and waits until it listens; ``stop()`` kills it,
``pause()``/``resume()`` freeze it with SIGSTOP/SIGCONT (alive, sending nothing:
a stalled server). It exits by itself after ``lifetime`` seconds, so a test
that dies never leaves it behind.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

from needs import needs

SERVER = Path(__file__).parent / "servers" / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"


def _server_available() -> str | None:
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} is absent (install Debian's python3-gi, as .ci/run does)"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); "
         "from gi.repository import GstRtspServer, Gst; Gst.init(None); "
         "assert Gst.ElementFactory.find('x264enc'), 'x264enc'"],
        capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        return ("GStreamer's RTSP server is not installed (apt-get install python3-gi "
                "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-ugly, as .ci/run does)")
    return None


UNAVAILABLE = _server_available()
needs_server = needs(UNAVAILABLE is None, str(UNAVAILABLE))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RtspServer:
    """Starts the server on ``port`` and waits (at most 20 s) until it listens."""

    def __init__(self, port: int, fps: int = 25, size: tuple[int, int] = (320, 240), lifetime: float = 120):
        self.port = port
        self.url = f"rtsp://127.0.0.1:{port}/test"
        width, height = size
        self.process = subprocess.Popen(
            [SYSTEM_PYTHON, str(SERVER), "--port", str(port), "--fps", str(fps), "--lifetime", str(lifetime),
             "--width", str(width), "--height", str(height)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        line = ""
        while time.monotonic() < deadline and not line.startswith("ready"):
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                raise RuntimeError(f"RTSP server failed: {self.process.stderr.read()}")
        assert line.startswith("ready"), "RTSP server did not start within 20 s"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)
