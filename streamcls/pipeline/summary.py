"""What a run did, per source and in all; printed by the CLI at the end, written as JSON on request."""

from __future__ import annotations

from dataclasses import dataclass, field

from streamcls.frames import Gap


@dataclass(frozen=True)
class SourceSummary:
    """One source of a run."""

    source_id: str
    policy: str
    state: str  # ended, failed, running (stopped by the user), ...
    frames_read: int
    frames_processed: int
    frames_dropped: int
    throughput_fps: float
    latency_mean_ms: float | None
    latency_p95_ms: float | None
    reconnects: int
    gaps: tuple[Gap, ...] = ()
    discarded_before_start: int = 0
    skipped_files: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class RunSummary:
    """A whole run. The frame counts, latency and throughput are over every source; ``sources`` has each."""

    source_id: str  # the only source's id, or "N sources"
    policy: str
    device: str
    frames_read: int
    frames_processed: int
    frames_dropped: int
    elapsed_s: float
    throughput_fps: float
    latency_mean_ms: float | None
    latency_p95_ms: float | None
    stage_ms: dict[str, float]
    batches: int
    reconnects: int
    gaps: tuple[Gap, ...] = ()
    video_codec: str | None = None
    skipped_files: tuple[str, ...] = ()
    segments: int | None = None  # label runs written, when a segments output was asked for
    error: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    sources: tuple[SourceSummary, ...] = ()
    mean_batch_size: float | None = None
