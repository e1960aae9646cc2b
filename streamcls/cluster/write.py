"""One video's results -> the files ``streamcls run`` writes for that file, staged then renamed.

The rows of a video arrive in frame order (the job keeps Ray Data's order);
each passes through the same ``Postprocessor`` as in ``run`` (top-k,
threshold, smoothing, hysteresis: they need the frames in order, which is
why this runs on the driver) and into the same sinks, opened by
``outputs.open.open_outputs`` from the same config. The files are written
under ``.staging/`` in the output folder and renamed to their final names
only once the video is complete, so a final name always holds a whole video's
records (a video that failed keeps its records up to the failure, as ``run``
does, and says so in the manifest).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from streamcls.cluster.listing import Video
from streamcls.cluster.manifest import VideoEntry
from streamcls.config import Config, SourceConfig
from streamcls.frames import Classified, Frame
from streamcls.outputs.open import Outputs, open_outputs
from streamcls.postprocess import Postprocessor

STAGING = ".staging"
PLACEHOLDER = np.zeros((1, 1, 3), np.uint8)  # postprocessing reads a frame's index and position, not its pixels


class VideoResults:
    """Takes one video's classified rows in frame order; ``finish`` makes its files final."""

    def __init__(self, video: Video, config: Config, folder: Path, labels: tuple[str, ...], predictions_format: str):
        self.video, self.folder = video, folder
        self.source_id = str(video.path)
        self.finals = [f"{video.name}.predictions.{predictions_format}", f"{video.name}.segments.csv"]
        self.staged = [folder / STAGING / name for name in self.finals]
        for path in self.staged:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)  # a run stopped half-way left it: start afresh
        source = SourceConfig(uri=self.source_id, id=self.source_id)
        own = replace(
            config,
            source=source,
            sources=(),
            output=replace(
                config.output,
                predictions=str(self.staged[0]),
                segments=str(self.staged[1]),
                video=None,
                display=False,
                sinks=(),
            ),
        )
        self._outputs: Outputs = open_outputs(own, [(self.source_id, source, None)])
        self._sinks = self._outputs.per_source[self.source_id].sinks
        self._postprocessor = Postprocessor(labels, config.postprocess)
        self.frames = 0
        self.started = time.monotonic()

    def take(self, frame_index: int, position_ms: float, probabilities: np.ndarray) -> bool:
        """Write one frame's prediction; False for a frame already written (a retried task's repeat)."""
        if frame_index != self.frames:
            if frame_index < self.frames:
                return False
            raise RuntimeError(f"{self.video.name}: frame {frame_index} arrived before frame {self.frames}")
        frame = Frame(
            PLACEHOLDER,
            self.source_id,
            frame_index,
            time.monotonic(),
            None if math.isnan(position_ms) else position_ms,
        )
        prediction = self._postprocessor.predict(Classified(frame, probabilities, 0.0, 0.0, 0.0, 0))
        for sink in self._sinks:
            sink.write(None, prediction)
        self.frames += 1
        return True

    def finish(self, error: str | None) -> VideoEntry:
        """Close the files whole, give them their final names, and say what was done."""
        failures = self._outputs.close()
        if failures:
            error = error or str(failures[0])
        for staged, final in zip(self.staged, self.finals):
            target = self.folder / final
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
        stat = self.video.path.stat()
        return VideoEntry(
            path=str(self.video.path),
            status="failed" if error else "done",
            frames=self.frames,
            error=error or None,
            outputs=list(self.finals),
            size=stat.st_size,
            modified_ns=stat.st_mtime_ns,
            seconds=round(time.monotonic() - self.started, 3),
        )

    def abandon(self) -> None:
        """Stopped before the end (Ctrl-C): close, and leave nothing under a final name."""
        self._outputs.close()
        for staged in self.staged:
            staged.unlink(missing_ok=True)
