"""The window sink on a real (virtual) X display: frames are shown, q/Esc stop the run.

The close button is not tested: it needs a window manager to send WM_DELETE_WINDOW.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
from cli import offline_environment, run_cli, start_cli
from needs import needs
from videos import decode_all, write_video

from streamcls.outputs.window import display_available, x_server_answers

pytestmark = needs(
    shutil.which("Xvfb") and shutil.which("xdotool"),
    "needs Xvfb and xdotool (apt-get install xvfb xdotool; .ci/run installs them)",
)
MODEL_FLAGS = ["--weights", "none", "--alpha", "0.25", "--input-size", "32x32"]


@pytest.fixture
def display() -> Iterator[str]:
    """A private Xvfb server; it picks a free display number and tells us on a pipe."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-nolisten", "tcp", "-screen", "0", "800x600x24"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        with os.fdopen(read_end) as announced:
            number = announced.readline().strip()  # blocks until the server is ready
        assert number.isdigit(), "Xvfb did not announce its display"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def xdotool(display: str, *arguments: str) -> str:
    result = subprocess.run(["xdotool", *arguments], env={**os.environ, "DISPLAY": display},
                            capture_output=True, text=True, timeout=10)
    return result.stdout.strip()


def start_run(tmp_path, display: str, frames: int = 2000) -> subprocess.Popen:
    video = write_video(tmp_path / "long.avi", frames, (160, 120), codec="MJPG", fps=25)
    return start_cli("run", "--source", video, *MODEL_FLAGS, "--realtime", "--predictions", tmp_path / "p.jsonl",
                     "--output-video", tmp_path / "out.avi", env=offline_environment(DISPLAY=display))


def wait_for_window(display: str, tmp_path, process: subprocess.Popen) -> str:
    """The window's id, once frames are being shown (some predictions written)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        window = xdotool(display, "search", "--name", "^streamcls - ")
        predictions = tmp_path / "p.jsonl"
        if window and predictions.exists() and len(predictions.read_text().splitlines()) >= 10:
            return window.splitlines()[0]
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"no window with frames appeared: {process.communicate()[1]}")


def test_display_check_tells_a_live_server_from_a_stale_display(display, monkeypatch):
    assert x_server_answers(display)
    assert not x_server_answers(":987")  # nobody listens there
    monkeypatch.setenv("DISPLAY", ":987")
    assert display_available() == (False, "DISPLAY=:987 is set but no X server answers there")
    monkeypatch.setenv("DISPLAY", display)
    assert display_available() == (True, "")


@pytest.mark.parametrize("key", ["q", "Escape"])
def test_key_in_the_window_stops_the_run_cleanly(tmp_path, display, key):
    process = start_run(tmp_path, display)
    window = wait_for_window(display, tmp_path, process)
    xdotool(display, "windowfocus", "--sync", window)
    xdotool(display, "key", key)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "window closed" in stderr
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert 10 <= len(rows) < 2000  # stopped part-way, at the key
    assert [row["frame_index"] for row in rows] == list(range(len(rows)))
    assert len(decode_all(tmp_path / "out.avi")) == len(rows)  # the video is closed and playable
    assert "QFontDatabase" not in stderr  # Qt's font chatter is kept off the user's terminal


def test_stale_display_carries_on_headless(tmp_path):
    video = write_video(tmp_path / "clip.avi", 12, (64, 48), codec="MJPG")
    result = run_cli("run", "--source", video, *MODEL_FLAGS, "--predictions", tmp_path / "p.jsonl",
                     env=offline_environment(DISPLAY=":987"), timeout=120)
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "no window" in line]
    assert notes == ["streamcls: no window: DISPLAY=:987 is set but no X server answers there; carrying on headless"]
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 12
