"""Progress for file runs: a tqdm bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import fcntl
import io
import logging
import os
import pty
import select
import struct
import sys
import termios
import time

from cli import offline_environment, start_cli
from videos import write_video

from streamcls.commands import progress as progress_module
from streamcls.commands.progress import Progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_on_a_terminal_copes_with_a_header_count_that_is_too_small(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = Progress(total_hint=5, description="clip")
    for _ in range(8):  # the header said 5: the bar must not show 160 %
        progress.update(fps=25.0)
    progress.close()
    output = terminal.getvalue()
    assert "0/5" in output  # while the hint held
    assert "8frame" in output.rsplit("\r", 1)[-1]  # the final state: a count, no total
    assert "160%" not in output and "8/5" not in output


def test_log_lines_when_not_a_terminal(monkeypatch, caplog):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.setattr(progress_module, "LOG_INTERVAL_S", 0.0)
    caplog.set_level(logging.INFO, logger="streamcls")
    progress = Progress(total_hint=3, description="clip")
    for _ in range(4):
        progress.update(fps=12.5)
    progress.close()
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["1/3 frames, 12.5 fps", "2/3 frames, 12.5 fps", "3/3 frames, 12.5 fps", "4 frames, 12.5 fps"]


def test_disabled_progress_writes_nothing(monkeypatch, caplog):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(progress_module, "LOG_INTERVAL_S", 0.0)
    progress = Progress(total_hint=3, description="clip", enabled=False)
    progress.update(fps=1.0)
    progress.close()
    assert terminal.getvalue() == "" and not caplog.records
    assert progress.count == 1


def test_run_on_a_pseudo_terminal_draws_the_bar(tmp_path):
    """End to end: stderr is a real (pseudo) terminal, so `streamcls run` shows tqdm's bar."""
    video = write_video(tmp_path / "clip.mp4", 30)
    controller, terminal = pty.openpty()
    # A fresh pseudo terminal is 0 columns wide, on which tqdm draws nothing: size it like a real one.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = start_cli("run", "--source", video, "--weights", "none", "--alpha", "0.25", "--input-size", "32x32",
                        "--no-display", stderr=terminal, text=False, env=offline_environment(COLUMNS="120"))
    os.close(terminal)
    output = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 1.0)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=30)
    os.close(controller)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    assert "30/30" in text and "frame/s" in text, text
