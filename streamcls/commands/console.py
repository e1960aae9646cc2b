"""What several commands print the same way: the run summary (``run``, ``demo``)."""

from __future__ import annotations

import json
from typing import Any

from streamcls.redact import redact_data

SKIPPED_NAMED = 5  # skipped pictures named in the summary; the JSON summary names them all


def print_summary(summary: Any, interrupted: bool) -> None:
    """Print a :class:`streamcls.pipeline.summary.RunSummary` as aligned lines."""

    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f} ms"

    stages = ", ".join(f"{name} {value:.2f}" for name, value in sorted(summary.stage_ms.items()))
    lines = [
        f"source      {summary.source_id} ({summary.policy} policy, device {summary.device})"
        + (" - interrupted" if interrupted else ""),
        (
            f"frames      {summary.frames_read} read, {summary.frames_processed} processed, "
            f"{summary.frames_dropped} dropped"
        ),
        f"throughput  {summary.throughput_fps:.1f} frames/s over {summary.elapsed_s:.1f} s "
        f"({summary.batches} batches"
        + (f", {summary.mean_batch_size:.1f} frames each)" if summary.mean_batch_size else ")"),
        f"latency     mean {ms(summary.latency_mean_ms)}, p95 {ms(summary.latency_p95_ms)}",
        f"stages (ms) {stages}",
    ]
    if summary.video_codec:
        lines.append(f"video codec {summary.video_codec}")
    if summary.reconnects or summary.gaps:
        lines.append(
            f"reconnects  {summary.reconnects}; gaps: "
            + "; ".join(
                f"after frame {gap.last_index_before}: "
                + (
                    f"{gap.seconds:.1f} s"
                    + (f", about {gap.frames_missed} frames missed" if gap.frames_missed is not None else "")
                    if gap.ended_at
                    else "never came back"
                )
                for gap in summary.gaps
            )
        )
    if len(summary.sources) > 1:
        for source in summary.sources:
            lines.append(
                f"  {source.source_id}: {source.state}, {source.policy} policy, {source.frames_read} read, "
                f"{source.frames_processed} processed, {source.frames_dropped} dropped, "
                f"{source.throughput_fps:.1f} frames/s, latency p95 {ms(source.latency_p95_ms)}"
                + (f", {source.reconnects} reconnects" if source.reconnects else "")
                + (f" - {source.error}" if source.error else "")
            )
    if summary.segments is not None:
        lines.append(f"segments    {summary.segments} runs of one label")
    for report in summary.outputs:
        name = str(report.get("output", "output"))
        where = report.get("destination") or report.get("path") or ""
        counts = ", ".join(
            f"{value} {key}"
            for key, value in report.items()
            if key not in ("output", "destination", "path") and value not in (0, {}, None)
        )
        lines.append(f"output      {name} {where}: {counts or 'nothing to report'}")
    if summary.events is not None:
        suppressed = summary.events.get("suppressed") or {}
        lines.append(
            f"events      {summary.events['emitted']} emitted"
            + (
                "; suppressed: " + ", ".join(f"{count} by {rule}" for rule, count in suppressed.items())
                if suppressed
                else ""
            )
        )
    if summary.skipped_files:
        skipped = summary.skipped_files
        named = ", ".join(skipped[:SKIPPED_NAMED])
        more = f" and {len(skipped) - SKIPPED_NAMED} more" if len(skipped) > SKIPPED_NAMED else ""
        lines.append(f"skipped     {len(skipped)} non-image files: {named}{more}")
    for line in lines:
        print(line)


def write_json_summary(summary: Any, path: str) -> None:
    """Write the summary as JSON (URIs' passwords masked) to ``path``."""
    from dataclasses import asdict

    with open(path, "w", encoding="utf-8") as handle:
        json.dump(redact_data(asdict(summary)), handle, indent=2, default=str)


def _count(name: str, value: object) -> str:
    """``sent 6`` -> "6 sent"; ``dropped {"full": 3}`` -> "3 dropped (3 full)"."""
    if isinstance(value, dict):
        parts = ", ".join(f"{count} {reason}" for reason, count in value.items())
        return f"{sum(value.values())} {name.replace('_', ' ')} ({parts})"
    return f"{value} {name.replace('_', ' ')}"
