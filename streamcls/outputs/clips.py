"""The clips sink: an MP4 around each event, from ``pre_s`` before it to ``post_s`` after (``--clips DIR``).

Like Frigate's pre/post capture: every source's recent frames wait in a bounded
ring in memory, so a clip can begin before the moment the event was confirmed.
An event is confirmed only after its label has lasted the rules'
``min_duration_s``, so the ring keeps every frame from ``pre_s`` before the
start of the source's *current* shown label onwards (whatever the rules, that
is exactly what the next event can ask for: its ``start_s`` is that start),
capped at ``max_frames_in_memory`` frames. Frames the cap pushed out that a
clip then lacked are counted (``frames_dropped``) and logged.

Clips show the overlay: the sink keeps the annotated frames it is given
(``needs_image``), downscaled to at most ``width`` pixels wide and kept as
JPEG bytes (at 640x360, quality 90: about 33 KiB a frame against 675 KiB as an
array). Each clip is written by a thread of its own through a bounded queue of
``QUEUE_FRAMES``: the burst of pre-event frames (JPEG decode + mp4v encode, 6-7
ms a frame at 640x360 on 2 cores: 0.9 s for a 5 s pre-roll at 25 fps) would
stall the pipeline if written in its thread; handed over as one list it costs
the event about 8 ms. The consuming thread only downscales and JPEG-encodes each
frame (2-4 ms at 720p in). A file source read faster than real time fills the
queue and waits for the writer (every frame is written, as with the video sink);
a live source's capture drops stale frames instead, as for any slow sink.

Names: ``{source}-{time}-{label}.mp4`` with ``time`` the wall-clock start of a
live source's event (``door-20261201T005501.123Z-truck.mp4``) or the position
in a file (``clip.mp4-t0012.480-circle.mp4``). The event record's ``clip`` is
the file's absolute path. A clip still being written when the next event of
its source is confirmed is extended to that event's ``start_s + post_s`` (both
events name the same file), as Frigate does; an event confirmed after the clip
before it closed gets its own clip, even when the two ranges overlap (the
frames in both are then in both files). Each clip is written to
``NAME.partial.mp4`` and renamed when complete; ``close()`` finishes the clips
in progress with the frames they have, so every file left is whole.

Options (``output.sinks: [{kind: clips, path: DIR, options: {...}}]``):
``pre_s`` (5), ``post_s`` (5), ``max_frames_in_memory`` per source (1000:
about 33 MB at 640 px; 40 s at 25 fps), ``codec`` (``auto``: H.264 ``avc1``,
else ``mp4v``; or a FourCC), ``width`` (640).
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import statistics
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from streamcls.errors import ConfigError, SinkError
from streamcls.frames import END, Event, Prediction
from streamcls.outputs.open import file_safe
from streamcls.outputs.sink import SinkSettings

logger = logging.getLogger(__name__)

EPSILON_S = 1e-6  # stream times are float sums: 1.72 - 0.4 is a hair under 1.32
JPEG_QUALITY = 90
QUEUE_FRAMES = 64  # frames waiting for one clip's writer before the pipeline waits for it
DEFAULT_RATE = 25.0  # only when no frame rate is known yet (an event on a source's first frame)
OPTIONS_KEY = "output.sinks[].options"


@dataclass(frozen=True)
class ClipsOptions:
    """The clips sink's options, checked by :meth:`from_mapping`."""

    pre_s: float = 5.0
    post_s: float = 5.0
    max_frames_in_memory: int = 1000
    codec: str = "auto"
    width: int = 640

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> ClipsOptions:
        """Options from a config entry.

        Raises:
            ConfigError: an unknown key or a bad value, naming ``output.sinks[].options.KEY``.
        """
        known = ("pre_s", "post_s", "max_frames_in_memory", "codec", "width")
        for key in options:
            if key not in known:
                raise ConfigError(f"{OPTIONS_KEY}.{key}: unknown option of clips; expected {', '.join(known)}")
        defaults = cls()
        pre_s = _number(options, "pre_s", defaults.pre_s, 0.0, 3600.0)
        post_s = _number(options, "post_s", defaults.post_s, 0.0, 3600.0)
        most = _integer(options, "max_frames_in_memory", defaults.max_frames_in_memory, 1, 100_000)
        width = _integer(options, "width", defaults.width, 16, 7680)
        codec = options.get("codec", defaults.codec)
        if not isinstance(codec, str) or not (codec == "auto" or len(codec) == 4):
            raise ConfigError(
                f"{OPTIONS_KEY}.codec: received {codec!r}; expected auto or a four-character FourCC such as mp4v"
            )
        return cls(pre_s, post_s, most, codec, width)


def _number(options: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f"{OPTIONS_KEY}.{key}: received {value!r}; expected seconds from {low:g} to {high:g}")
    return float(value)


def _integer(options: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{OPTIONS_KEY}.{key}: received {value!r}; expected a whole number from {low} to {high}")
    return value


def clip_name(event: Event) -> str:
    """``door-20261201T005501.123Z-truck.mp4`` (live) or ``clip.mp4-t0012.480-circle.mp4`` (a file)."""
    if event.start_time is not None:
        moment = event.start_time.replace("-", "").replace(":", "")
    else:
        moment = f"t{event.start_s:08.3f}"
    return f"{file_safe(event.source_id)}-{moment}-{file_safe(event.label)}.mp4"


@dataclass
class _Stored:
    seconds: float
    jpeg: bytes


@dataclass
class _Ring:
    """One source's recent frames (JPEG) and what the sink knows of its stream."""

    size: tuple[int, int] | None = None  # the clip size: even, at most ``width`` wide
    frames: collections.deque[_Stored] = field(default_factory=collections.deque)
    evicted: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=100_000))
    label: str | None = None
    run_start_s: float = 0.0
    last_s: float | None = None
    intervals: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=50))
    origin: float | None = None  # a live source's first captured_at

    def rate(self, known: float | None) -> float:
        """Frames per second: the source's own when known, else measured between its frames."""
        if known:
            return known
        steps = [step for step in self.intervals if step > 0]
        return 1.0 / statistics.median(steps) if steps else DEFAULT_RATE


class _ClipWriter:
    """One clip file, written by its own thread from a bounded queue, renamed into place when whole."""

    def __init__(self, path: Path, rate: float, size: tuple[int, int], codec: str, end_s: float):
        self.path = path
        self.partial = path.with_name(path.stem + ".partial.mp4")
        self.rate, self.size, self.codec = rate, size, codec
        self.end_s = end_s
        self.frames = 0
        self.error: str | None = None
        self._queue: queue.Queue[object] = queue.Queue(QUEUE_FRAMES)
        self._thread = threading.Thread(target=self._run, name=f"clip {path.name}", daemon=True)
        self._thread.start()

    def put(self, item: np.ndarray | bytes | list[bytes]) -> None:
        """Hand frames over (an array, one JPEG, or the pre-event JPEGs as one list); waits while the queue is full."""
        while self._thread.is_alive():
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        raise SinkError(f"clip {str(self.path)!r}: {self.error or 'its writer stopped'}")

    def finish(self) -> None:
        """No more frames: the thread closes the file and renames it (``join`` waits for that)."""
        if self._thread.is_alive():
            self._queue.put(END)

    def join(self) -> None:
        self._thread.join()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def _run(self) -> None:
        fourcc = cv2.VideoWriter_fourcc(*self.codec)  # type: ignore[attr-defined]
        writer = cv2.VideoWriter(str(self.partial), fourcc, self.rate, self.size)
        try:
            if not writer.isOpened():
                self.error = f"OpenCV cannot write codec {self.codec} here"
                return
            while True:
                item = self._queue.get()
                if item is END:
                    break
                for frame in item if isinstance(item, list) else [item]:
                    self._write(writer, frame)
            writer.release()
            if self.frames:
                os.replace(self.partial, self.path)
        except Exception as error:  # noqa: BLE001 - reported by the sink in the pipeline's thread
            self.error = f"{type(error).__name__}: {error}"
        finally:
            writer.release()
            self.partial.unlink(missing_ok=True)
            while self.error is not None and not self._drain():
                pass

    def _drain(self) -> bool:
        """After a failure, empty the queue so a waiting ``put`` notices the thread has ended."""
        try:
            self._queue.get_nowait()
            return False
        except queue.Empty:
            return True

    def _write(self, writer: cv2.VideoWriter, frame: object) -> None:
        image = cv2.imdecode(np.frombuffer(frame, np.uint8), cv2.IMREAD_COLOR) if isinstance(frame, bytes) else frame
        assert isinstance(image, np.ndarray)
        if (image.shape[1], image.shape[0]) != self.size:  # a stream that came back at another size
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        writer.write(image)
        self.frames += 1


class ClipsSink:
    """An MP4 clip around each event, into a folder; see the module's docstring.

    Args:
        folder: where the clips go; must exist and be writable.
        options: ``pre_s``, ``post_s``, ``max_frames_in_memory``, ``codec``, ``width``.
        fps: the sources' frame rate when known; otherwise measured from the frames' stream times.

    Raises:
        SinkError: the folder is missing, not a folder, or not writable.
    """

    needs_image = True  # the clips show the overlay

    def __init__(self, folder: str | Path, options: ClipsOptions | None = None, fps: float | None = None):
        self.path = Path(folder)
        if not self.path.is_dir():
            what = "is not a folder" if self.path.exists() else "does not exist"
            raise SinkError(f"clips folder {str(self.path)!r} {what}; create it or choose another folder")
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise SinkError(f"clips folder {str(self.path)!r} is not writable; choose another folder")
        self.options = options or ClipsOptions()
        self.fps = fps
        self.codec: str | None = None  # the one that works here, found at the first clip
        self.clips = 0
        self.frames_written = 0
        self.frames_dropped = 0
        self.failures: list[str] = []
        self._rings: dict[str, _Ring] = {}
        self._active: dict[str, _ClipWriter] = {}
        self._finishing: list[_ClipWriter] = []
        self._planned: dict[str, Path] = {}
        self._closed = False

    @classmethod
    def from_settings(cls, settings: SinkSettings) -> ClipsSink:
        options = ClipsOptions.from_mapping(settings.options)
        return cls(settings.required_path(), options, settings.fps)

    # -- frames ------------------------------------------------------------------------

    def write(self, image: np.ndarray | None, prediction: Prediction) -> None:
        """Keep the frame in its source's ring, and add it to the source's clip in progress."""
        assert image is not None  # needs_image: the pipeline always passes the frame
        ring = self._rings.setdefault(prediction.source_id, _Ring())
        seconds = self._seconds(ring, prediction)
        small = self._fit(ring, image)
        ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise SinkError(f"clips: OpenCV could not encode frame {prediction.frame_index} of {prediction.source_id}")
        if ring.last_s is not None:
            ring.intervals.append(seconds - ring.last_s)
        ring.last_s = seconds
        if prediction.shown_label != ring.label:
            ring.label, ring.run_start_s = prediction.shown_label, seconds
        self._keep(ring, _Stored(seconds, encoded.tobytes()))
        self._reap()
        clip = self._active.get(prediction.source_id)
        if clip is None:
            return
        if seconds < clip.end_s - EPSILON_S:
            clip.put(small if small is not image else image.copy())
        else:
            self._finish(prediction.source_id)

    def _seconds(self, ring: _Ring, prediction: Prediction) -> float:
        """Stream time as the events have it: a file's position, or seconds since a live source's first frame."""
        if prediction.position_ms is not None:
            return prediction.position_ms / 1000.0
        captured = prediction.captured_at if prediction.captured_at is not None else time.monotonic()
        if ring.origin is None:
            ring.origin = captured
        return captured - ring.origin

    def _fit(self, ring: _Ring, image: np.ndarray) -> np.ndarray:
        """The frame at the clip size: at most ``width`` wide, even sides (MPEG-4 and H.264 need them)."""
        height, width = image.shape[:2]
        if ring.size is None:
            scale = min(1.0, self.options.width / width)
            ring.size = (max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2))
        if (width, height) == ring.size:
            return image
        return cv2.resize(image, ring.size, interpolation=cv2.INTER_AREA)

    def _keep(self, ring: _Ring, stored: _Stored) -> None:
        """Add a frame; forget what no event can need; evict the oldest beyond the cap (remembered)."""
        ring.frames.append(stored)
        window_start = ring.run_start_s - self.options.pre_s - EPSILON_S
        while ring.frames and ring.frames[0].seconds < window_start:
            ring.frames.popleft()
        while ring.evicted and ring.evicted[0] < window_start:
            ring.evicted.popleft()
        while len(ring.frames) > self.options.max_frames_in_memory:
            ring.evicted.append(ring.frames.popleft().seconds)

    # -- events ------------------------------------------------------------------------

    def prepare_event(self, event: Event) -> Event:
        """The event with ``clip``: the file that will hold it (the clip in progress, when its source has one)."""
        clip = self._active.get(event.source_id)
        path = clip.path if clip is not None else (self.path / clip_name(event)).resolve()
        self._planned[event.event_id] = path
        return replace(event, clip=str(path))

    def write_event(self, event: Event) -> None:
        """Start the event's clip from the ring, or extend the source's clip in progress."""
        planned = self._planned.pop(event.event_id, None)
        end_s = event.start_s + self.options.post_s
        clip = self._active.get(event.source_id)
        if clip is not None:
            if planned is not None and planned != clip.path:
                logger.warning("clips: %s was planned for %s; it extends %s", event.event_id, planned, clip.path)
            clip.end_s = max(clip.end_s, end_s)
            logger.info("clips: %s extended to %.3f s for %s", clip.path.name, clip.end_s, event.label)
            return
        ring = self._rings.setdefault(event.source_id, _Ring())
        path = planned or (self.path / clip_name(event)).resolve()
        start_s = event.start_s - self.options.pre_s - EPSILON_S
        before = [stored.jpeg for stored in ring.frames if start_s <= stored.seconds < end_s - EPSILON_S]
        lost = sum(1 for seconds in ring.evicted if seconds >= start_s)
        if lost:
            self.frames_dropped += lost
            logger.warning(
                "clips: %s lacks %d frames before its event (the ring holds max_frames_in_memory=%d); "
                "raise it for the whole pre_s",
                path.name,
                lost,
                self.options.max_frames_in_memory,
            )
        size = ring.size or (self.options.width, round(self.options.width * 9 / 16 / 2) * 2)
        rate = ring.rate(self.fps)
        clip = _ClipWriter(path, rate, size, self._codec(size, rate), end_s)
        self._active[event.source_id] = clip
        if before:
            clip.put(before)
        latest = ring.frames[-1].seconds if ring.frames else None
        if latest is not None and latest >= end_s - EPSILON_S:  # the ring already holds all of it
            self._finish(event.source_id)

    def _codec(self, size: tuple[int, int], rate: float) -> str:
        """The codec for every clip, tried once in a scratch file (the quiet redirect is not for other threads)."""
        if self.codec is not None:
            return self.codec
        from streamcls.quiet import quiet_native_stderr

        candidates = ["avc1", "mp4v"] if self.options.codec == "auto" else [self.options.codec]
        scratch = self.path / f".streamcls-codec-check-{os.getpid()}.mp4"
        try:
            for codec in candidates:
                with quiet_native_stderr(enabled=self.options.codec == "auto"):
                    fourcc = cv2.VideoWriter_fourcc(*codec)  # type: ignore[attr-defined]
                    writer = cv2.VideoWriter(str(scratch), fourcc, rate, size)
                opened = writer.isOpened()
                writer.release()
                if opened:
                    self.codec = codec
                    logger.info("clips: writing %s at %.2f fps, %dx%d, into %s", codec, rate, *size, self.path)
                    return codec
        finally:
            scratch.unlink(missing_ok=True)
        raise SinkError(
            f"clips folder {str(self.path)!r}: OpenCV cannot write codec {' or '.join(candidates)} here; "
            f"set {OPTIONS_KEY}.codec to mp4v"
        )

    def _finish(self, source_id: str) -> None:
        clip = self._active.pop(source_id)
        clip.finish()
        self._finishing.append(clip)

    def _reap(self, wait: bool = False) -> None:
        """Count the clips whose writers are done (all of them, waiting, when ``wait``)."""
        still = []
        for clip in self._finishing:
            if wait:
                clip.join()
            if not clip.done:
                still.append(clip)
                continue
            self.frames_written += clip.frames
            if clip.error is not None:
                logger.warning("clips: %s failed: %s", clip.path.name, clip.error)
                self.failures.append(f"{clip.path.name}: {clip.error}")
            elif clip.frames:
                self.clips += 1
            else:
                logger.warning("clips: %s had no frames; no file written", clip.path.name)
        self._finishing = still

    def close(self) -> None:
        """Finish every clip in progress with the frames it has; wait for every writer; log what was written."""
        if self._closed:
            return
        self._closed = True
        for source_id in list(self._active):
            self._finish(source_id)
        self._reap(wait=True)
        self._rings.clear()
        logger.info(
            "clips: %d written to %s (%d frames); %d frames dropped from the ring",
            self.clips,
            self.path,
            self.frames_written,
            self.frames_dropped,
        )
        if self.failures:
            raise SinkError(f"clips folder {str(self.path)!r}: {len(self.failures)} failed: {self.failures[0]}")

    def __enter__(self) -> ClipsSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
