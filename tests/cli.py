"""The streamcls command as a user runs it: ``python -m streamcls ...`` in a child process, offline.

Every test that starts the real CLI goes through here, so "offline" means the same thing
everywhere, and a test's own differences (a DISPLAY, COLUMNS, unbuffered output) are
spelled out as arguments where it calls:

    offline_environment(**extra) -> dict[str, str]
        the current environment (conftest.py's per-test KERAS_HOME and STREAMCLS_CACHE
        included) with downloads sent to a closed loopback port, plus ``extra``.
    run_cli(*arguments, env=None, cwd=None, timeout=300) -> subprocess.CompletedProcess
        run to the end; stdout and stderr captured as text; never raises on a bad status.
    start_cli(*arguments, env=None, cwd=None, stdout=PIPE, stderr=PIPE, text=True, **popen) -> Popen
        a running process, for tests that signal it, read it as it goes, or drive its window.
    help_entries(text, indent=2) -> dict[str, str]
        an argparse ``--help`` listing as {entry: its help line}: options at indent 2,
        subcommands at indent 4; lines argparse wrapped (at any terminal width) joined back.

``env=None`` means ``offline_environment()``; pass ``offline_environment(NAME=value)`` to add
to it. Arguments may be paths or numbers: each is passed as ``str(argument)``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

# Downloads go to a closed loopback port: "offline" even on a machine with network.
# Both spellings: Python reads the lower-case one first, other tools the upper-case one.
CLOSED_PROXY = "http://127.0.0.1:9"
OFFLINE = {"https_proxy": CLOSED_PROXY, "HTTPS_PROXY": CLOSED_PROXY}


def offline_environment(**extra: str) -> dict[str, str]:
    """``os.environ`` as it is now, offline, with ``extra`` on top (a test's own variables)."""
    return {**os.environ, **OFFLINE, **extra}


def clean_environment(home: os.PathLike | str, **extra: str) -> dict[str, str]:
    """What a user's shell gives: PATH, HOME, LANG and the package's path, offline; no test or CI variables."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join(sys.path), **OFFLINE, **extra}


def command(*arguments: object) -> list[str]:
    return [sys.executable, "-m", "streamcls", *map(str, arguments)]


def run_cli(*arguments: object, env: Mapping[str, str] | None = None, cwd=None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """``streamcls ARGUMENTS`` to the end, its output captured as text; the status is the caller's to check."""
    return subprocess.run(command(*arguments), capture_output=True, text=True, timeout=timeout, check=False,
                          env=dict(offline_environment() if env is None else env), cwd=cwd)


def start_cli(*arguments: object, env: Mapping[str, str] | None = None, cwd=None, stdout=subprocess.PIPE,
              stderr=subprocess.PIPE, text: bool = True, **popen) -> subprocess.Popen:
    """``streamcls ARGUMENTS`` started in the background; the caller waits for it (or kills it)."""
    return subprocess.Popen(command(*arguments), stdout=stdout, stderr=stderr, text=text,
                            env=dict(offline_environment() if env is None else env), cwd=cwd, **popen)


def help_entries(text: str, indent: int = 2) -> dict[str, str]:
    """{"--source SOURCE": "camera index (0), ...", ...}: the entries that start at ``indent`` spaces.

    A help that argparse wrapped, or put on the next line under a long entry, is joined back on.
    """
    entries: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        depth = len(line) - len(line.lstrip(" "))
        if not line.strip() or depth < indent:
            current = None
        elif depth == indent:
            current, _, help_line = line.strip().partition("  ")
            entries[current] = help_line.strip()
        elif current is not None:
            entries[current] = f"{entries[current]} {line.strip()}".strip()
    return entries
