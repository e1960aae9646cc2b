"""A reconnect gap survives the live policy's drops: the frame after it may be dropped, its news is not."""

from __future__ import annotations

import threading

import numpy as np

from streamcls.frames import Frame
from streamcls.pipeline.batching import FairInbox
from streamcls.pipeline.threads import Prepared
from streamcls.sources.channel import CapturePolicy, FrameChannel


def _frame(index: int, gap_ms: float | None = None) -> Frame:
    return Frame(np.zeros((2, 2, 3), np.uint8), "cam", index, captured_at=float(index), gap_before_ms=gap_ms)


def test_the_latest_slot_passes_a_dropped_frames_gap_to_the_frame_that_replaces_it():
    channel, stop = FrameChannel(CapturePolicy.LATEST, capacity=4), threading.Event()
    channel.put(_frame(7, gap_ms=2500.0), stop)  # the first frame after a 2.5 s silence...
    channel.put(_frame(8), stop)  # ...replaced before anyone took it
    kept = channel.get(timeout=1)
    assert (kept.index, kept.gap_before_ms, channel.dropped) == (8, 2500.0, 1)
    channel.put(_frame(9, gap_ms=900.0), stop)
    channel.put(_frame(10, gap_ms=100.0), stop)  # a gap of its own is not overwritten
    assert channel.get(timeout=1).gap_before_ms == 100.0


def test_a_live_lane_passes_a_dropped_frames_gap_on():
    inbox, stop = FairInbox(["cam"], capacity=4, live=["cam"], live_capacity=1), threading.Event()
    prepared = [Prepared(_frame(index, gap_ms=2500.0 if index == 3 else None), np.zeros(1), 0.0, float(index))
                for index in (3, 4)]
    inbox.put("cam", prepared[0], stop)
    inbox.put("cam", prepared[1], stop)  # the lane keeps one: frame 3 is dropped
    (taken,) = inbox.take(4, 0.05, stop)
    assert (taken.frame.index, taken.frame.gap_before_ms, inbox.dropped["cam"]) == (4, 2500.0, 1)
