"""What a run did, per source and in all; printed by the CLI at the end, written as JSON on request."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from streamcls.frames import Gap

if TYPE_CHECKING:  # only for the annotations of summarize: no import at run time
    from streamcls.pipeline.consume import Consumer, SourceStages
    from streamcls.pipeline.threads import BatchThread


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
    skipped_files: tuple[str, ...] = ()  # an image source's skipped files, by name (see ImageFolderSource)
    error: str | None = None
    current_fps: float | None = None  # over the last second (a service's live figure); None before two frames
    last_error: str | None = None  # the latest failure, also one being retried (reconnecting)


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
    events: dict[str, object] | None = None  # emitted, and suppressed by each rule; None: no events asked for
    outputs: tuple[dict[str, object], ...] = ()  # what each counting sink did: sent, dropped, pending...


def summarize(
    stages: list[SourceStages],
    consumer: Consumer,
    batchers: list[BatchThread],
    *,
    device: str,
    elapsed_s: float,
    error: str | None,
    notes: tuple[str, ...],
    inbox_dropped: dict[str, int],
) -> RunSummary:
    """The summary of a run, from what each stage counted."""
    elapsed = max(1e-9, elapsed_s)
    sources = tuple(source_summary(source, elapsed, inbox_dropped.get(source.source_id, 0)) for source in stages)
    stage_ms = consumer.clock.mean_ms()
    frames_read = sum(source.frames_read for source in sources)
    decode_seconds = sum(source.capture.stats.decode_seconds for source in stages)
    if frames_read:
        stage_ms["decode"] = decode_seconds * 1000 / frames_read
    batches = sum(batcher.batches for batcher in batchers)
    if batches:
        stage_ms["inference_per_batch"] = sum(b.inference_seconds for b in batchers) * 1000 / batches
    latencies = consumer.clock.latencies_ms
    outputs = consumer.outputs
    videos = [source.outputs.video for source in stages if source.outputs.video is not None]
    if outputs.grid is not None and outputs.grid.video is not None:
        videos.append(outputs.grid.video)
    segments = outputs.segments
    processed = consumer.processed
    return RunSummary(
        source_id=sources[0].source_id if len(sources) == 1 else f"{len(sources)} sources",
        policy=sources[0].policy if len({s.policy for s in sources}) == 1 else "mixed",
        device=device,
        frames_read=frames_read,
        frames_processed=processed,
        frames_dropped=sum(source.frames_dropped for source in sources),
        elapsed_s=elapsed,
        throughput_fps=processed / elapsed,
        latency_mean_ms=sum(latencies) / len(latencies) if latencies else None,
        latency_p95_ms=consumer.clock.latency(95),
        stage_ms=stage_ms,
        batches=batches,
        reconnects=sum(source.reconnects for source in sources),
        gaps=tuple(gap for source in sources for gap in source.gaps),
        video_codec=next((video.codec for video in videos if video.codec), None),
        # Names are relative to their own folder: with several sources, each says whose it is.
        skipped_files=tuple(
            name if len(sources) == 1 else f"{source.source_id}: {name}"
            for source in sources
            for name in source.skipped_files
        ),
        segments=sum(len(sink.closed) for sink in segments) if segments else None,
        error=error,
        notes=notes,
        sources=sources,
        mean_batch_size=processed / batches if batches else None,
        events=consumer.events.counts.as_record() if consumer.events is not None else None,
        outputs=tuple(outputs.reports()),
    )


def source_summary(source: SourceStages, elapsed: float, inbox_dropped: int) -> SourceSummary:
    """One source's counts so far."""
    capture = source.capture
    recent = source.last_at is not None and time.monotonic() - source.last_at < 2 * source.rate.window_s
    latencies = source.clock.latencies_ms
    return SourceSummary(
        source_id=source.source_id,
        policy=source.policy.value,
        state=capture.state.value,
        frames_read=capture.stats.frames_read,
        frames_processed=source.processed,
        frames_dropped=source.channel.dropped + inbox_dropped,
        throughput_fps=source.processed / elapsed,
        latency_mean_ms=sum(latencies) / len(latencies) if latencies else None,
        latency_p95_ms=source.clock.latency(95),
        reconnects=capture.stats.reconnects,
        gaps=tuple(capture.gaps),
        discarded_before_start=capture.stats.discarded_before_start,
        skipped_files=tuple(getattr(capture.source, "skipped", ())),
        error=str(capture.error) if capture.error else None,
        current_fps=source.rate.rate() if recent else None,
        last_error=capture.last_error,
    )
