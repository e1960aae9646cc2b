"""The capture thread: one per source, reading frames into a channel under a policy
(``channel.py``).

A live stream that drops or stalls is reopened with doubling delays; the
frame index keeps counting, and the gap is logged and recorded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from streamcls.config import SourceConfig
from streamcls.errors import EndOfStream, SourceError, SourceOpenError, StreamLost
from streamcls.frames import Frame, Gap, StreamState
from streamcls.redact import redact
from streamcls.sources.channel import FrameChannel
from streamcls.sources.describe import FrameSource, SourceSpec

logger = logging.getLogger(__name__)


@dataclass
class CaptureStats:
    frames_read: int = 0
    decode_seconds: float = 0.0
    reconnects: int = 0
    discarded_before_start: int = 0  # live frames read and dropped while the model loaded


class CaptureThread(threading.Thread):
    """Opens a source, then reads it into ``channel`` until the end, an unrecoverable error, or ``stop``.

    Opening happens here, in the source's own thread, so several sources open
    at once and a slow or unreachable one holds up nobody; ``opened`` is set
    when the first open has succeeded or failed. ``retry_open`` (live sources of
    a multi-source run) treats a failed first open like a drop: retried under
    the reconnect settings, so a camera that comes up late still joins.

    It may start before the rest of the pipeline is ready (the model loading):
    until ``ready`` is set, a live source is read and its frames discarded, so
    that no network or driver buffer fills with seconds of stale frames that
    would then be classified first; a file waits. Frame indices start at 0 with
    the first frame after ``ready``.

    ``state`` says what the thread is doing: opening, running, reconnecting,
    ended or failed.
    """

    def __init__(
        self,
        opener: Callable[[], FrameSource],
        spec: SourceSpec,
        config: SourceConfig,
        channel: FrameChannel,
        stop: threading.Event,
        max_frames: int | None = None,
        retry_open: bool = False,
    ):
        super().__init__(name=f"capture-{spec.source_id}", daemon=True)
        self.spec = spec
        self.source: FrameSource | None = None
        self.config = config
        self.channel = channel
        self.stop_event = stop
        self.max_frames = max_frames
        self.retry_open = retry_open
        self.stats = CaptureStats()
        self.gaps: list[Gap] = []
        self.error: SourceError | None = None
        self.state = StreamState.OPENING
        self.last_error: str | None = None  # the latest failure, even one being retried (a service shows it)
        self.opened = threading.Event()
        self.ready = threading.Event()
        self._opener = opener
        self._gap_attempts = 0  # reconnect attempts since the last frame
        self._gap_delay = config.reconnect.initial_delay_s

    def run(self) -> None:
        try:
            self._open_first()
        except SourceError as error:
            self.error, self.state, self.last_error = error, StreamState.FAILED, str(error)
            self.opened.set()
            self.channel.close(self.stop_event)
            return
        self.opened.set()
        self._read_all()

    def _open_first(self) -> None:
        try:
            self.source = self._opener()
            return
        except SourceOpenError as error:
            if not (self.retry_open and self.spec.live):
                raise
            self.last_error = str(error)
            logger.warning("%s: %s; retrying under the reconnect settings", self.spec.source_id, error)
        self.state = StreamState.RECONNECTING
        if not self._reconnect(-1, time.monotonic()):
            raise self.error or StreamLost(f"{self.spec.source_id}: stopped before it could be opened")
        self._gap_attempts = 0

    def _read_all(self) -> None:
        source = self.source
        assert source is not None
        spec = self.spec
        pace = self.config.realtime and source.fps and not spec.live
        index = 0
        lost_since: float | None = None  # set while a dropped stream is being reconnected
        try:
            self._wait_until_ready()
            started = last_frame_at = time.monotonic()
            self.state = StreamState.RUNNING
            while not self.stop_event.is_set():
                if self.max_frames is not None and index >= self.max_frames:
                    break
                decode_start = time.monotonic()
                try:
                    decoded = source.read()
                except EndOfStream:
                    break
                except StreamLost as error:
                    self.last_error = str(error)
                    lost_since = last_frame_at if lost_since is None else lost_since
                    self.state = StreamState.RECONNECTING
                    if not self._reconnect(index - 1, lost_since):
                        break
                    continue
                now = time.monotonic()
                self.stats.decode_seconds += now - decode_start
                gap_ms = None
                if lost_since is not None:
                    gap_ms = (now - lost_since) * 1000
                    self._record_gap(index - 1, lost_since, now)
                    lost_since, self._gap_attempts = None, 0
                    self.state = StreamState.RUNNING
                last_frame_at = now
                if pace:  # play a file at its native rate, to preview live behaviour
                    due = started + index / source.fps  # type: ignore[operator]
                    if due > now:
                        self.stop_event.wait(due - now)
                        now = time.monotonic()
                frame = Frame(decoded.image, spec.source_id, index, now, decoded.position_ms, gap_ms, decoded.name)
                index += 1
                self.stats.frames_read = index
                if not self.channel.put(frame, self.stop_event):
                    break
        except SourceError as error:
            self.error = error
        except Exception as error:  # a bug or an OpenCV failure: report it, never hang the run
            logger.exception("capture of %s failed", spec.source_id)
            # OpenCV/FFmpeg error text may quote the URL as given: mask it like the id.
            self.error = SourceError(redact(f"capture of {spec.source_id} failed: {error}"))
        finally:
            self.state = StreamState.FAILED if self.error is not None else StreamState.ENDED
            self.last_error = str(self.error) if self.error is not None else self.last_error
            self.channel.close(self.stop_event)

    def _wait_until_ready(self) -> None:
        assert self.source is not None
        while not self.ready.is_set() and not self.stop_event.is_set():
            if not self.spec.live:
                self.ready.wait(0.1)
                continue
            try:
                self.source.read()
            except (EndOfStream, StreamLost):
                # The main loop meets the same condition at its first read and handles it.
                self.ready.wait()
                return
            self.stats.discarded_before_start += 1

    def _reconnect(self, last_index: int, lost_since: float) -> bool:
        """Reopen a dropped stream with doubling delays; False when retries run out.

        The gap is recorded when the first frame after it arrives (a stream can
        reopen and still deliver nothing: that is the same gap, not a new one).
        """
        spec = self.spec
        settings = self.config.reconnect
        # Attempts and delays run on across a reopen that delivers nothing (a server that
        # accepts connections but sends no frames): the gap ends only with a frame.
        if self._gap_attempts == 0:
            self._gap_delay = settings.initial_delay_s
        while self._gap_attempts < settings.attempts:
            self._gap_attempts += 1
            attempt, delay = self._gap_attempts, self._gap_delay
            self._gap_delay = min(delay * 2, settings.max_delay_s)
            logger.warning(
                "%s: %s; reconnect attempt %d/%d in %.1f s",
                spec.source_id,
                f"stream lost after frame {last_index}" if last_index >= 0 else "not opened yet",
                attempt,
                settings.attempts,
                delay,
            )
            if self.stop_event.wait(delay):
                return False
            try:
                if self.source is None:
                    self.source = self._opener()  # never opened yet (a camera that comes up late)
                else:
                    self.source.reopen()
            except SourceOpenError as error:
                self.last_error = str(error)
                continue
            self.stats.reconnects += 1
            logger.info("%s: reopened %.1f s after the last frame", spec.source_id, time.monotonic() - lost_since)
            return True
        if self.source is None:
            self.error = SourceOpenError(
                f"stream {spec.source_id} could not be opened in {settings.attempts} attempts; check "
                f"the URL and the camera (raise source.reconnect.attempts to wait longer)"
            )
        else:
            self.gaps.append(Gap(spec.source_id, lost_since, None, last_index, None))
            self.error = StreamLost(
                f"stream {spec.source_id} dropped and did not come back after "
                f"{settings.attempts} reconnect attempts; outputs hold everything up to frame "
                f"{last_index} (raise source.reconnect.attempts to wait longer)"
            )
        return False

    def _record_gap(self, last_index: int, lost_since: float, back_at: float) -> None:
        assert self.source is not None
        fps = self.source.fps
        seconds = back_at - lost_since
        # Frames that would have come in the gap, beyond the one normally due after the last.
        missed = max(0, round(seconds * fps) - 1) if fps else None
        self.gaps.append(Gap(self.spec.source_id, lost_since, back_at, last_index, missed))
        logger.warning(
            "%s: frames again after a %.1f s gap (last frame before it: %d; %s)",
            self.spec.source_id,
            seconds,
            last_index,
            f"about {missed} frames missed at {fps:g} fps" if fps else "frames missed unknown",
        )
