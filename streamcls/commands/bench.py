"""``streamcls bench``: the command line around a sweep (flags, labelled data, outputs)."""

from __future__ import annotations

import argparse
import json
import os
import platform
from dataclasses import asdict, replace
from typing import Any

from streamcls.commands.options import add_device_flag, add_model_flags, config_from, parse_counts
from streamcls.config import names
from streamcls.errors import ConfigError
from streamcls.redact import mask_uri


def add_parser(subcommands: Any) -> None:
    """Add ``bench`` to the CLI's sub-commands."""
    sweep = subcommands.add_parser(
        "bench", help="sweep input size x batch size x backend: fps, latency, accuracy, a recommendation"
    )
    add_model_flags(sweep)
    add_arguments(sweep)
    sweep.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """``streamcls bench``: the config from the flags, then :func:`bench`."""
    return bench(arguments, config_from(arguments))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sizes", default="128,160,224", help="input sizes: 96,160 or HxW pairs 240x320 (default 128,160,224)"
    )
    parser.add_argument("--batch-sizes", default="1,8", help="batch sizes (default 1,8)")
    parser.add_argument("--backends", default="keras,tflite,tflite-int8", help=f"any of {','.join(names.BACKENDS)}")
    parser.add_argument(
        "--source", help="a video file or image folder for the end-to-end points (and int8 calibration)"
    )
    parser.add_argument(
        "--policy",
        choices=["offline", "live"],
        default="offline",
        help="end to end: every frame (offline) or the file at its own rate, newest frame only (live)",
    )
    parser.add_argument("--max-frames", type=int, help="end to end: stop after this many frames")
    parser.add_argument(
        "--segments", help="a segments CSV (video,start,end,label) labelling --source: adds top-1 accuracy"
    )
    parser.add_argument("--labelled", help="a folder with one sub-folder of pictures per class: adds top-1 accuracy")
    parser.add_argument(
        "--accuracy-frames", type=int, default=300, help="labelled frames scored per point (default 300)"
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="model only: timed repeats per point, median (default 5)"
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="model only: seconds per repeat (default 1)")
    parser.add_argument("--naive-frames", type=int, default=60, help="frames for the naive tutorial loop (default 60)")
    add_device_flag(parser)
    parser.add_argument("--mixed-precision", action="store_true", help="GPU only: run Keras in float16")
    parser.add_argument("--threads", type=int, help="LiteRT interpreter threads (default: all cores)")
    parser.add_argument("--calibration", help="int8: a video or image folder (default: --source)")
    parser.add_argument(
        "--min-agreement",
        type=float,
        default=0.95,
        help="flag converted models whose top-1 agreement with keras is below this (default 0.95)",
    )
    parser.add_argument("--report", metavar="PATH.json", help="write the whole report as JSON")
    parser.add_argument("--csv", metavar="PATH.csv", help="write one row per point as CSV")
    parser.add_argument("--plot", metavar="PATH.png", help="plot throughput against resolution (and accuracy)")
    parser.add_argument("--target-fps", type=float, help="recommend the best point that sustains this rate")
    parser.add_argument("--headroom", type=float, default=0.2, help="required margin over --target-fps (default 0.2)")
    parser.add_argument(
        "--write-config",
        default="recommended.yaml",
        metavar="PATH.yaml",
        help="where --target-fps writes the recommended config (default recommended.yaml)",
    )


def parse_plan(arguments: argparse.Namespace) -> Any:
    from streamcls.benchmark.sweep import SweepPlan
    from streamcls.config import parse_input_size

    sizes = tuple(parse_input_size(part.strip(), "--sizes") for part in arguments.sizes.split(","))
    backends = tuple(part.strip() for part in arguments.backends.split(",") if part.strip())
    unknown = [backend for backend in backends if backend not in names.BACKENDS]
    if unknown or not backends:
        raise ConfigError(f"--backends: received {arguments.backends!r}; expected any of {','.join(names.BACKENDS)}")
    if (
        arguments.source is not None
        and not os.path.exists(arguments.source)
        and not any(c in arguments.source for c in "*?[")
    ):
        raise ConfigError(
            f"--source: {mask_uri(arguments.source)!r} does not exist; pass a video file or image "
            f"folder (bench measures recorded frames, not live streams: record one first)"
        )
    if arguments.segments and not arguments.source:
        raise ConfigError("--segments labels --source: pass the video with --source")
    if arguments.target_fps is not None and arguments.target_fps <= 0:
        raise ConfigError(f"--target-fps: received {arguments.target_fps:g}; expected a rate above 0")
    if arguments.repeats < 1 or arguments.seconds <= 0:
        raise ConfigError("--repeats/--seconds: expected at least 1 repeat of more than 0 s")
    return SweepPlan(
        sizes=sizes,
        batch_sizes=tuple(parse_counts(arguments.batch_sizes, "--batch-sizes")),
        backends=backends,
        source=arguments.source,
        policy="latest" if arguments.policy == "live" else "block",
        max_frames=arguments.max_frames,
        repeats=arguments.repeats,
        seconds=arguments.seconds,
        naive_frames=arguments.naive_frames,
        min_agreement=arguments.min_agreement,
    )


def bench(arguments: argparse.Namespace, config: Any) -> int:
    """Run the sweep and write every output asked for."""
    from streamcls.benchmark import report as reporting
    from streamcls.benchmark.sweep import run_sweep

    plan = parse_plan(arguments)
    for path in (arguments.report, arguments.csv, arguments.plot):
        if path:
            reporting.require_folder(path, "output")  # before minutes of measuring, not after
    if arguments.plot and not arguments.plot.lower().endswith(".png"):
        raise ConfigError(f"--plot: received {arguments.plot!r}; expected a .png path")
    if arguments.target_fps is not None:
        reporting.require_folder(arguments.write_config, "recommended config")
    if arguments.mixed_precision:
        _use_mixed_precision(config.inference.device)
    labelled = _labelled(arguments)
    print(
        f"sweeping {len(plan.sizes)} sizes x {len(plan.batch_sizes)} batch sizes x {len(plan.backends)} backends"
        + (f", end to end on {mask_uri(plan.source)}" if plan.source else ", model only (no --source)")
    )

    def show(point: Any) -> None:
        print(
            f"  {point.mode:<10} {point.backend:<14} {point.input_size:>9} batch {point.batch_size:<3} "
            f"{point.throughput_fps:8.1f} frames/s",
            flush=True,
        )

    points = run_sweep(config, plan, labelled, report=show)
    pareto = reporting.pareto_front(points)
    print()
    print(reporting.format_table(points, pareto))
    for line in reporting.ratios(points):
        print(line)
    recommendation = None
    if arguments.target_fps is not None:
        recommendation = reporting.recommend(points, arguments.target_fps, arguments.headroom)
        if recommendation is None:
            reason = reporting.explain_no_recommendation(points, arguments.target_fps, arguments.headroom)
            print(f"no recommendation: {reason}")
        else:
            reporting.write_recommended_config(arguments.write_config, recommendation, _model_section(config))
            print(
                f"recommended: {reporting.describe(recommendation.point)} - {recommendation.reason}; "
                f"written to {arguments.write_config} (streamcls run --config {arguments.write_config} --source ...)"
            )
    shown_plan = replace(plan, source=plan.source and mask_uri(plan.source))  # the report never holds a password
    meta = {
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "plan": json.loads(json.dumps(asdict(shown_plan), default=str)),
        "model": _model_section(config),
        "labelled": len(labelled.frames) if labelled else 0,
        "mixed_precision": bool(arguments.mixed_precision),
    }
    if arguments.report:
        reporting.write_json(arguments.report, points, pareto, recommendation, meta)
    if arguments.csv:
        reporting.write_csv(arguments.csv, points, pareto)
    if arguments.plot:
        from streamcls.benchmark.plot import write_plot

        write_plot(arguments.plot, points, pareto)
    return 0


def _labelled(arguments: argparse.Namespace) -> Any:
    from streamcls.benchmark.labelled import frames_from_folder, frames_from_segments
    from streamcls.benchmark.sweep import Labelled

    if arguments.labelled:
        frames, labels = frames_from_folder(arguments.labelled, arguments.accuracy_frames)
    elif arguments.segments:
        frames, labels = frames_from_segments(arguments.source, arguments.segments, arguments.accuracy_frames)
    else:
        return None
    if not frames:
        raise ConfigError("the labelled data gave no frames; check the folder or the segments' times")
    return Labelled(frames, labels)


def _model_section(config: Any) -> dict[str, Any]:
    """The model part of the config as YAML-ready plain data."""
    model = asdict(config.model)
    return json.loads(json.dumps(model, default=lambda value: str(value)))


def _use_mixed_precision(device: str) -> None:
    from streamcls.model.runtime import import_keras, resolve_device

    if not resolve_device(device).startswith("/GPU"):
        raise ConfigError(
            "--mixed-precision: float16 needs a GPU (on a CPU it is slower); drop the flag, or use "
            "--backends tflite-float16 for smaller weights on the CPU"
        )
    import_keras().mixed_precision.set_global_policy("mixed_float16")


__all__ = ["add_arguments", "add_parser", "bench", "handle", "parse_plan"]
