"""``/metrics``: the service in Prometheus' text format.

Counters and states are read from the pipeline at scrape time (a scrape costs
the pipeline nothing between scrapes); the histograms are observed as frames
and batches pass: frame age and end-to-end latency per source (from the
board), batch size and inference time per batch (from the inference threads).
The process' own figures come from ``prometheus_client``'s standard collectors.

Names: ``streamcls_frames_processed_total{source="door"}``, seconds for times,
``_total`` for counters, one ``state`` label set to 1 for a source's current state.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from streamcls.frames import Prediction, StreamState

if TYPE_CHECKING:
    from streamcls.pipeline import Pipeline

SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
SOURCE_COUNTERS = (
    ("frames_read", "frames_read", "Frames decoded from the source"),
    ("frames_processed", "frames_processed", "Frames classified and written"),
    ("frames_dropped", "frames_dropped", "Frames dropped by the live policy (stale before the model took them)"),
    ("reconnects", "reconnects", "Times a dropped stream was reopened"),
)


class ServiceMetrics:
    """The service's registry: live histograms plus a collector over the pipeline."""

    def __init__(self, pipeline: Pipeline):
        from prometheus_client import CollectorRegistry, GCCollector, Histogram, PlatformCollector, ProcessCollector

        self.registry = CollectorRegistry(auto_describe=True)
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self.frame_age = Histogram(
            "streamcls_frame_age_seconds",
            "Age of each frame (since it was decoded) when its result was published",
            ["source"],
            buckets=SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.latency = Histogram(
            "streamcls_latency_seconds",
            "End to end: frame decoded to its prediction made (preprocess, queues, inference, postprocess)",
            ["source"],
            buckets=SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "streamcls_batch_size", "Frames per batch the model ran", buckets=BATCH_BUCKETS, registry=self.registry
        )
        self.inference = Histogram(
            "streamcls_inference_seconds",
            "Time the model took per batch",
            buckets=SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_PipelineCollector(pipeline))

    def observe_prediction(self, prediction: Prediction, age_s: float) -> None:
        self.frame_age.labels(prediction.source_id).observe(age_s)
        self.latency.labels(prediction.source_id).observe(prediction.latency_ms / 1000)

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.inference.observe(seconds)

    def forget(self, source_id: str) -> None:
        """A removed source's series go."""
        for histogram in (self.frame_age, self.latency):
            try:
                histogram.remove(source_id)
            except KeyError:
                pass

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class _PipelineCollector:
    """Counters, states and queue depths, read from the pipeline when scraped."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline

    def describe(self) -> list[Any]:
        return []  # names are known only when collected; the registry then skips its duplicate check

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        summary = self.pipeline.summary()
        per_source = {
            name: CounterMetricFamily(f"streamcls_{name}", help_text, labels=["source"])
            for _, name, help_text in SOURCE_COUNTERS
        }
        gaps = CounterMetricFamily("streamcls_gaps", "Stretches a live stream delivered nothing", labels=["source"])
        skipped = CounterMetricFamily(
            "streamcls_frames_skipped", "Pictures an image source skipped (unreadable)", labels=["source"]
        )
        state = GaugeMetricFamily(
            "streamcls_source_state", "1 for the state a source is in", labels=["source", "state"]
        )
        fps = GaugeMetricFamily("streamcls_source_fps", "Frames classified per second, last second", labels=["source"])
        for source in summary.sources:
            for field, name, _ in SOURCE_COUNTERS:
                per_source[name].add_metric([source.source_id], getattr(source, field))
            gaps.add_metric([source.source_id], len(source.gaps))
            skipped.add_metric([source.source_id], len(source.skipped_files))
            for possible in StreamState:
                state.add_metric([source.source_id, possible.value], 1.0 if source.state == possible.value else 0.0)
            fps.add_metric([source.source_id], source.current_fps or 0.0)
        yield from per_source.values()
        yield from (gaps, skipped, state, fps)
        yield CounterMetricFamily("streamcls_batches", "Batches the model ran", value=summary.batches)
        depth = GaugeMetricFamily("streamcls_queue_depth", "Items waiting between two stages", labels=["queue"])
        capacity = GaugeMetricFamily("streamcls_queue_capacity", "Bound of each queue", labels=["queue"])
        for name, items in self.pipeline.queue_depths().items():
            depth.add_metric([name], items)
        for name, bound in self.pipeline.queue_capacities().items():
            capacity.add_metric([name], bound)
        yield depth
        yield capacity
        yield GaugeMetricFamily("streamcls_sources", "Sources the service runs", value=len(summary.sources))
        yield from _event_metrics(summary.events, summary.outputs)


def _event_metrics(events: dict[str, object] | None, outputs: tuple[dict[str, object], ...]) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    emitted = CounterMetricFamily("streamcls_events", "Events the rules let through")
    suppressed = CounterMetricFamily("streamcls_events_suppressed", "Label changes a rule held back", labels=["rule"])
    if events is not None:
        emitted.add_metric([], float(events.get("emitted", 0)))  # type: ignore[arg-type]
        for rule, count in dict(events.get("suppressed", {})).items():  # type: ignore[call-overload]
            suppressed.add_metric([rule], count)
    yield emitted
    yield suppressed
    sent = CounterMetricFamily(
        "streamcls_output_sent", "Messages an output delivered", labels=["output", "destination"]
    )
    failed = CounterMetricFamily(
        "streamcls_output_failed", "Messages an output refused or dropped", labels=["output", "destination"]
    )
    queued = GaugeMetricFamily(
        "streamcls_output_queued",
        "Messages waiting to be sent (the outbox, a broker's queue)",
        labels=["output", "destination"],
    )
    for report in outputs:
        labels = [str(report.get("output", "")), str(report.get("destination", ""))]
        sent.add_metric(labels, _number(report, "sent", "published"))
        failed.add_metric(labels, _number(report, "rejected") + _number(report, "dropped"))
        queued.add_metric(labels, _number(report, "pending", "waiting"))
    yield sent
    yield failed
    yield queued


def _number(report: dict[str, object], *keys: str) -> float:
    """The first of ``keys`` the report has, as a number (a mapping of counts is summed)."""
    for key in keys:
        value = report.get(key)
        if isinstance(value, dict):
            return float(sum(count for count in value.values() if isinstance(count, (int, float))))
        if isinstance(value, (int, float)):
            return float(value)
    return 0.0
