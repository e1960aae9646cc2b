"""Run a sweep: every (input size, backend, batch size) point, model only and end to end.

Per input size the model is loaded once (a bundle's trained weights carry over
to any size) and, for each LiteRT backend, converted once (cached on disk).
Accuracy and agreement do not depend on the batch size, so they are measured
once per (size, backend) and attached to each of its points.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from streamcls.benchmark import measure
from streamcls.benchmark.labelled import top1_accuracy
from streamcls.benchmark.points import BenchPoint, Mode
from streamcls.config import Config, InferenceConfig, InputSize, OutputConfig, SourceConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepPlan:
    sizes: tuple[InputSize, ...]
    batch_sizes: tuple[int, ...]
    backends: tuple[str, ...]
    source: str | None = None  # a video file or image folder for the end-to-end points
    policy: str = "block"  # "block" (offline, every frame) or "latest" (live preview at the file's rate)
    max_frames: int | None = None
    repeats: int = 5
    seconds: float = 1.0
    naive_frames: int = 60
    min_agreement: float = 0.95


@dataclass(frozen=True)
class Labelled:
    frames: list
    labels: list[str]


def run_sweep(
    config: Config,
    plan: SweepPlan,
    labelled: Labelled | None = None,
    report: Callable[[BenchPoint], None] = lambda point: None,
) -> list[BenchPoint]:
    """Every point of ``plan``, in order; ``report`` sees each as soon as it is measured."""
    from streamcls.model.backends import build_classifier_for
    from streamcls.model.info import count_macs
    from streamcls.model.load import load_model

    points: list[BenchPoint] = []

    def add(point: BenchPoint) -> None:
        points.append(point)
        report(point)

    if plan.source is not None and not _is_folder(plan.source):
        timing = measure.decode_only(plan.source, plan.max_frames)
        add(BenchPoint("source", 0, 0, 1, "decode", timing.throughput_fps, notes=("reading the source only",)))
    for size in plan.sizes:
        loaded = load_model(replace(config.model, input_size=size))
        macs = count_macs(loaded.model)
        for backend in plan.backends:
            accuracy = agreement = None
            for batch_size in plan.batch_sizes:
                inference = replace(config.inference, backend=backend, batch_size=batch_size)
                classifier, measured_agreement = build_classifier_for(loaded, inference, _calibration_source(plan))
                agreement = measured_agreement or agreement
                if labelled is not None and accuracy is None:
                    accuracy = top1_accuracy(classifier, labelled.frames, labelled.labels)
                common = dict(
                    backend=backend,
                    height=size.height,
                    width=size.width,
                    batch_size=batch_size,
                    macs=macs,
                    accuracy=accuracy,
                    device=str(classifier.device),
                    agreement_top1=agreement.top1 if agreement else None,
                    max_probability_difference=agreement.max_probability_difference if agreement else None,
                    notes=_agreement_notes(backend, agreement, plan.min_agreement),
                )
                timing = measure.model_only(classifier, plan.repeats, plan.seconds)
                add(_point(common, "model", timing))
                if plan.source is not None:
                    timing, _ = measure.end_to_end(classifier, _run_config(config, plan, inference))
                    add(_point(common, "end_to_end", timing))
        if "keras" in plan.backends or not plan.backends:
            timing = measure.naive_loop(loaded.model, _preprocess_spec(loaded), _naive_video(plan), plan.naive_frames)
            add(
                _point(
                    dict(
                        backend="keras",
                        height=size.height,
                        width=size.width,
                        batch_size=1,
                        macs=macs,
                        notes=("read, resize, model.predict one frame, draw",),
                    ),
                    "naive",
                    timing,
                )
            )
    return points


def _point(common: dict, mode: Mode, timing: measure.Timing) -> BenchPoint:
    p50, p95, p99 = measure.percentiles(timing.latencies_ms)
    return BenchPoint(
        **common,
        mode=mode,
        throughput_fps=timing.throughput_fps,
        spread=timing.spread,
        latency_p50_ms=p50,
        latency_p95_ms=p95,
        latency_p99_ms=p99,
        peak_memory_mb=timing.peak_memory_mb,
    )


def _agreement_notes(backend: str, agreement: object, bound: float) -> tuple[str, ...]:
    top1 = getattr(agreement, "top1", None)
    if top1 is not None and top1 < bound:
        return (f"top-1 agreement with keras {top1:.0%} is below {bound:.0%}: check the calibration frames",)
    return ()


def _run_config(config: Config, plan: SweepPlan, inference: InferenceConfig) -> Config:
    assert plan.source is not None
    return replace(
        config,
        inference=inference,
        source=replace(config.source, uri=plan.source, policy=plan.policy, realtime=plan.policy == "latest"),
        output=OutputConfig(display=False, progress=False, max_frames=plan.max_frames),
    )


def _calibration_source(plan: SweepPlan) -> Callable[[int], list[Any]] | None:
    """Calibration and agreement frames from the sweep's source, read only when a backend asks."""
    from streamcls.sources.sample import sample_frames

    source = plan.source
    return None if source is None else (lambda count: sample_frames(source, count))


def _naive_video(plan: SweepPlan) -> str | None:
    return plan.source if plan.source is not None and not _is_folder(plan.source) else None


def _is_folder(uri: str) -> bool:
    from pathlib import Path

    return Path(uri).is_dir() or any(character in uri for character in "*?[")


def _preprocess_spec(loaded: object):  # noqa: ANN202
    from streamcls.preprocess import PreprocessSpec

    spec = loaded.spec  # type: ignore[attr-defined]
    return PreprocessSpec(spec.input_size, spec.preprocess)


__all__ = ["Labelled", "SweepPlan", "run_sweep", "SourceConfig"]
