"""Progress for file runs: a tqdm bar on a terminal, plain log lines otherwise.

``CAP_PROP_FRAME_COUNT`` is often wrong (the shared test clip claims 682 frames
and decodes 341), so the total is a hint: when the count passes it the bar
drops the total rather than showing 150 %, and the ETA goes with it.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

logger = logging.getLogger("streamcls")

LOG_INTERVAL_S = 5.0


class Progress:
    def __init__(self, total_hint: int | None, description: str, enabled: bool = True):
        self.total = total_hint
        self.count = 0
        self._bar: Any = None
        self._last_log = time.monotonic()
        self._enabled = enabled
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total_hint, desc=description, unit="frame", dynamic_ncols=True)

    def update(self, fps: float | None) -> None:
        self.count += 1
        if not self._enabled:
            return
        if self._bar is not None:
            if self._bar.total is not None and self.count > self._bar.total:
                self._bar.total = None  # the header's frame count was wrong
            self._bar.update(1)
            return
        now = time.monotonic()
        if now - self._last_log >= LOG_INTERVAL_S:
            self._last_log = now
            total = f"/{self.total}" if self.total and self.count <= self.total else ""
            rate = f", {fps:.1f} fps" if fps else ""
            logger.info("%d%s frames%s", self.count, total, rate)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
