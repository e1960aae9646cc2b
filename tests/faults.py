"""Helpers for the fault-injection tests: run the real CLI in the background, read what it wrote."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

from cli import offline_environment, start_cli

# A tiny real network: fast on 2 cores, so the stream, not the model, sets the pace.
TINY_MODEL = ["--weights", "none", "--alpha", "0.25", "--input-size", "32x48", "--no-display"]


class Run:
    """``streamcls ARGS`` in a subprocess; its stderr is collected as it comes; every wait has a deadline."""

    def __init__(self, *arguments: str):
        self.process = start_cli(*arguments, env=offline_environment(PYTHONUNBUFFERED="1"))
        self._stderr: list[str] = []
        self._stdout: list[str] = []
        self._readers = [threading.Thread(target=self._collect, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.process.stderr, self._stderr), (self.process.stdout, self._stdout))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _collect(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    @property
    def stdout(self) -> str:
        return "".join(self._stdout)

    def wait_for(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.process.poll() is not None:
                self.finish(5)
                raise AssertionError(f"streamcls ended (status {self.process.returncode}) before {what}:\n"
                                     f"{self.stderr}")
            time.sleep(0.05)
        self.process.kill()
        self.finish(5)
        raise AssertionError(f"no {what} within {timeout:g} s:\n{self.stderr}")

    def signal(self, number: int = signal.SIGINT) -> float:
        self.process.send_signal(number)
        return time.monotonic()

    def finish(self, timeout: float) -> int:
        """Wait for the exit; one that does not come within ``timeout`` s kills the run and fails."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError(f"streamcls did not exit within {timeout:g} s:\n{self.stderr}") from None
        finally:
            for reader in self._readers:
                reader.join(10)
        return self.process.returncode


def line_count(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def whole_records(path: Path) -> list[dict]:
    """Every line of a JSON Lines file, each required to be a whole record."""
    text = path.read_text()
    assert text == "" or text.endswith("\n"), f"{path} ends in a half-written line: {text[-80:]!r}"
    return [json.loads(line) for line in text.splitlines()]
