"""The ``streamcls`` command: argparse subcommands, the only place that prints.

Errors raised as :class:`StreamclsError` become one line on stderr and the
error's exit code; a traceback is shown only with ``--verbose``. Flags mean the
same in every command: ``--model imagenet|BUNDLE``, ``--input-size HxW``,
``--alpha``, ``--weights``, ``--config FILE``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any, NoReturn

from streamcls.errors import ConfigError, StreamclsError
from streamcls.redact import install_log_redaction, limit_native_logging, redact, redact_data

logger = logging.getLogger("streamcls")


def _stop_on_sigterm() -> None:
    """SIGTERM stops like Ctrl-C: threads joined, files closed whole, status 130."""
    import signal
    import threading

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, terminate)


def main(argv: list[str] | None = None) -> int:
    _stop_on_sigterm()  # first: a service manager may stop us while we are still starting
    native_notes = limit_native_logging(os.environ)  # before cv2 is imported and reads them
    parser = _parser()
    arguments = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if arguments.verbose else logging.INFO,
        format="streamcls: %(message)s",
    )
    install_log_redaction()  # on the handlers: they see every logger's records (see RedactFilter)
    for note in native_notes:
        logger.warning("%s", note)
    if arguments.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
    try:
        return int(arguments.handler(arguments) or 0)
    except StreamclsError as error:
        if arguments.verbose:
            logger.exception("error")
        print(f"streamcls: error: {redact(str(error))}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("streamcls: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: still one line, the traceback on request
        if arguments.verbose:
            logger.exception("internal error")
        print(
            f"streamcls: internal error: {type(error).__name__}: {redact(str(error))} "
            f"(rerun with --verbose for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 70


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # it quotes what was typed: a URL forgotten --source
        super().error(redact(message))


def _parser() -> argparse.ArgumentParser:
    from streamcls import __version__

    parser = _Parser(  # sub-commands' parsers are of the same class
        prog="streamcls",
        description="Real-time video classification with a Keras MobileNet at any input size.",
    )
    parser.add_argument("--version", action="version", version=f"streamcls {__version__}")
    parser.set_defaults(verbose=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    model = commands.add_parser("model", help="inspect or benchmark a classifier")
    model_commands = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")

    info = model_commands.add_parser(
        "info", help="print backbone, alpha, input size, parameters, classes, MACs, weights"
    )
    _add_model_flags(info)
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(handler=_model_info)

    bench = model_commands.add_parser(
        "bench", help="images/s of the compiled classifier against plain model.predict"
    )
    _add_model_flags(bench)
    bench.add_argument(
        "--sizes", default="160,224", help="input sizes, e.g. 160,224 or 240x320 (default 160,224)"
    )
    bench.add_argument("--batch-sizes", default="1,8", help="batch sizes (default 1,8)")
    bench.add_argument("--repeats", type=int, default=5, help="timed repeats per point (median)")
    bench.add_argument(
        "--seconds", type=float, default=0.5, help="seconds per repeat (default 0.5)"
    )
    bench.add_argument("--device", choices=["auto", "cpu", "gpu"], default=None)
    bench.set_defaults(handler=_model_bench)

    sweep = commands.add_parser("bench", help="sweep input size x batch size x backend: fps, latency, accuracy, a recommendation")
    _add_model_flags(sweep)
    from streamcls.commands.bench import add_arguments

    add_arguments(sweep)
    sweep.set_defaults(handler=_bench)

    from streamcls.commands.train import add_train_arguments

    train = commands.add_parser("train", help="train a classifier on your own classes (folders and/or labelled videos)")
    _add_model_flags(train)
    add_train_arguments(train)
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="accuracy, confusion matrix, precision/recall on labelled data")
    evaluate.add_argument("model_path", metavar="BUNDLE", help="a trained bundle folder")
    _add_model_flags(evaluate)
    evaluate.add_argument("--data", help="a folder with one sub-folder of pictures per class")
    evaluate.add_argument("--segments", help="a segments CSV of labelled videos")
    evaluate.add_argument("--report", help="also write metrics.json, confusion.txt/png into this folder")
    evaluate.set_defaults(handler=_evaluate)

    demo = commands.add_parser("demo", help="run the pipeline on the bundled sample clip (no camera, network, download)")
    demo.add_argument("--output", default="streamcls-demo", help="folder for the annotated video and predictions")
    demo.add_argument("--no-display", action="store_true", help="do not open a window")
    demo.set_defaults(handler=_demo, verbose=False)

    export = commands.add_parser("export", help="write a classifier as TFLite or SavedModel, with its labels")
    export.add_argument("model_path", metavar="BUNDLE", help="a bundle folder, or 'imagenet'")
    _add_model_flags(export)
    export.add_argument("--format", dest="export_format", choices=["tflite", "saved_model"], required=True)
    export.add_argument("--quantize", default="float32", choices=["float32", "float16", "dynamic", "int8"])
    export.add_argument("--calibration", help="int8: a video or image folder with frames like the real ones")
    export.add_argument("--calibration-frames", type=int, default=200)
    export.add_argument("--output", required=True, help="the folder to write (model, labels.txt, manifest)")
    export.set_defaults(handler=_export)

    run = commands.add_parser("run", help="classify a camera, video file, stream or image folder")
    _add_model_flags(run)
    run.add_argument("--source", dest="run_sources", action="append", metavar="SOURCE",
                     help="camera index (0), video file, rtsp:// or http(s):// URL, image folder or glob; "
                          "repeat for several sources in one run (one model, batches across them)")
    run.add_argument("--batch-size", type=int, help="frames per inference call (default 8)")
    run.add_argument("--output-video", help="write the annotated video here (.mp4, .avi)")
    run.add_argument("--predictions", help="write one record per frame here (.jsonl or .csv)")
    run.add_argument("--segments", dest="segments_output", metavar="PATH", help="write runs of one label here (.csv, .json or .jsonl): source, "
                                        "start/end frame and time, label, mean score")
    run.add_argument("--no-display", action="store_true", help="do not open a window")
    run.add_argument("--max-frames", type=int, help="stop after this many frames")
    run.add_argument("--realtime", action="store_true",
                     help="play a file at its native rate under the live (drop stale frames) policy")
    run.add_argument("--device", choices=["auto", "cpu", "gpu"], default=None)
    _add_backend_flags(run)
    run.add_argument("--json-summary", help="also write the run summary as JSON here")
    run.set_defaults(handler=_run)

    from streamcls.doctor import add_doctor_arguments

    doctor = commands.add_parser(
        "doctor", help="check this machine for a run: versions, devices, video backends, weights, cameras, source"
    )
    add_doctor_arguments(doctor)
    doctor.set_defaults(handler=_doctor)
    return parser


def _add_backend_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=["keras", "tflite", "tflite-float16", "tflite-dynamic", "tflite-int8"],
                        help="inference runtime (default keras); tflite* convert once and cache")
    parser.add_argument("--threads", type=int, help="LiteRT interpreter threads (default: all cores)")
    parser.add_argument("--calibration", help="int8: a video or image folder to calibrate on "
                                              "(default: the source, when it is a file or folder)")


def _add_model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config file (flags override it)")
    parser.add_argument(
        "--model", help="'imagenet' (MobileNet's ImageNet classifier) or a bundle folder"
    )
    parser.add_argument("--input-size", help="network input HEIGHTxWIDTH, e.g. 160x160, 240x320")
    parser.add_argument("--alpha", type=float, help="MobileNet width: 0.25, 0.5, 0.75 or 1.0")
    parser.add_argument(
        "--weights", help="backbone weights: imagenet, none, or a .h5/.weights.h5 file"
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="debug logging and tracebacks"
    )


def _config_from(arguments: argparse.Namespace) -> Any:
    """Load ``--config`` and apply the model flags on top of it."""
    from streamcls.config import load_config

    overrides: dict[str, Any] = {}
    if arguments.model is not None:
        if arguments.model.lower() == "imagenet":
            overrides.update({"model.head.kind": "imagenet", "model.bundle": None})
            if arguments.weights is None:
                overrides["model.weights"] = "imagenet"
        else:
            overrides["model.bundle"] = arguments.model
    if arguments.input_size is not None:
        overrides["model.input_size"] = arguments.input_size
    if arguments.alpha is not None:
        overrides["model.alpha"] = arguments.alpha
    if arguments.weights is not None:
        overrides["model.weights"] = arguments.weights
    if getattr(arguments, "device", None) is not None:
        overrides["inference.device"] = arguments.device
    run_flags = {
        "source": "source.uri",
        "batch_size": "inference.batch_size",
        "output_video": "output.video",
        "predictions": "output.predictions",
        "segments_output": "output.segments",
        "max_frames": "output.max_frames",
        "backend": "inference.backend",
        "threads": "inference.threads",
        "calibration": "inference.calibration",
    }
    for flag, key in run_flags.items():
        if getattr(arguments, flag, None) is not None:
            overrides[key] = getattr(arguments, flag)
    run_sources = getattr(arguments, "run_sources", None) or []
    if len(run_sources) == 1:
        overrides["source.uri"] = run_sources[0]
    elif run_sources:  # several: they replace any sources: list of the config file
        overrides["sources"] = [{"uri": uri} for uri in run_sources]
    if getattr(arguments, "no_display", False):
        overrides["output.display"] = False
    if getattr(arguments, "realtime", False):
        overrides["source.realtime"] = True
    config = load_config(arguments.config, overrides)
    if config.model.bundle is not None and arguments.weights is not None:
        raise ConfigError(
            "--weights: a bundle carries its own weights; drop --weights, or use --model imagenet"
        )
    return config


def _model_info(arguments: argparse.Namespace) -> int:
    config = _config_from(arguments)
    from streamcls.model.info import describe
    from streamcls.model.load import load_model

    description = describe(load_model(config.model))
    if arguments.json:
        print(json.dumps(description, indent=2))
        return 0
    classes = description["classes"]
    shown = ", ".join(classes[:8]) + (f", ... ({len(classes)} in all)" if len(classes) > 8 else "")
    rows = [
        ("backbone", description["backbone"]),
        ("alpha", description["alpha"]),
        ("input size", f"{description['input_size']} (height x width)"),
        ("head", description["head"]),
        ("classes", shown),
        (
            "parameters",
            f"{description['parameters']:,} ({description['trainable_parameters']:,} trainable)",
        ),
        ("MACs", f"{description['macs'] / 1e6:,.1f} M per image at this size"),
        ("preprocess", description["preprocess"]),
        ("weights", description["weights"]),
    ]
    for name, value in rows:
        print(f"{name:<11} {value}")
    return 0


def _model_bench(arguments: argparse.Namespace) -> int:
    from dataclasses import replace

    from streamcls.config import parse_input_size

    sizes = [parse_input_size(size.strip(), "--sizes") for size in arguments.sizes.split(",")]
    batch_sizes = _parse_counts(arguments.batch_sizes, "--batch-sizes")
    config = _config_from(arguments)
    model_config = config.model
    if arguments.model is None and arguments.config is None and arguments.weights is None:
        # Speed does not depend on weight values: measure without needing a download.
        model_config = replace(model_config, weights="none")
    from streamcls.benchmark.model_speed import bench_model

    print(
        f"{'input':>9} {'batch':>5} {'compiled img/s':>15} {'spread':>7} "
        f"{'predict img/s':>14} {'speed-up':>8}"
    )
    points = bench_model(
        model_config,
        sizes,
        batch_sizes,
        repeats=arguments.repeats,
        seconds_per_repeat=arguments.seconds,
        device=config.inference.device,
    )
    for point in points:
        print(
            f"{str(point.input_size):>9} {point.batch_size:>5} "
            f"{point.compiled_images_per_second:>15.1f} {point.compiled_spread:>6.0%} "
            f"{point.predict_images_per_second:>14.1f} {point.speedup:>7.2f}x"
        )
    return 0


def _train(arguments: argparse.Namespace) -> int:
    from streamcls.commands.train import train_command

    return train_command(arguments, _config_from(arguments))


def _evaluate(arguments: argparse.Namespace) -> int:
    from streamcls.commands.train import evaluate_command

    if arguments.model is not None:
        raise ConfigError("evaluate takes the bundle as its first argument; drop --model")
    arguments.model = arguments.model_path
    return evaluate_command(arguments, _config_from(arguments))


def _demo(arguments: argparse.Namespace) -> int:
    from streamcls.commands.train import demo_command

    return demo_command(arguments)


def _export(arguments: argparse.Namespace) -> int:
    if arguments.model is not None:
        raise ConfigError("export takes the model as its first argument (BUNDLE or imagenet); drop --model")
    arguments.model = arguments.model_path
    config = _config_from(arguments)
    from streamcls.model.export import export_model
    from streamcls.model.load import load_model

    if arguments.export_format == "saved_model" and arguments.quantize != "float32":
        raise ConfigError("--quantize applies to --format tflite; a SavedModel keeps float32 weights")
    calibration = None
    if arguments.quantize == "int8":
        if not arguments.calibration:
            raise ConfigError("--quantize int8 needs --calibration VIDEO|IMAGE_FOLDER with frames like the real ones")
        from streamcls.model.backends import sample_frames
        from streamcls.model.convert import split_calibration

        calibration, _ = split_calibration(sample_frames(arguments.calibration, arguments.calibration_frames))
    loaded = load_model(config.model)
    path = export_model(loaded, arguments.output, arguments.export_format, arguments.quantize, calibration)
    print(f"wrote {path} ({arguments.export_format}, {arguments.quantize}, input {loaded.spec.input_size}, "
          f"{loaded.spec.num_classes} classes) with labels.txt and streamcls-export.json")
    return 0


def _bench(arguments: argparse.Namespace) -> int:
    from streamcls.commands.bench import bench

    config = _config_from(arguments)
    return bench(arguments, config)


def _doctor(arguments: argparse.Namespace) -> int:
    from streamcls.doctor import doctor_command

    text, exit_code = doctor_command(arguments)
    print(text)
    return exit_code


def _parse_counts(text: str, flag: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"{flag}: received {text!r}; expected whole numbers such as 1,8") from None
    if not counts or any(count < 1 or count > 1024 for count in counts):
        raise ConfigError(f"{flag}: received {text!r}; expected numbers from 1 to 1024")
    return counts


def _run(arguments: argparse.Namespace) -> int:
    config = _config_from(arguments)
    if not arguments.run_sources and arguments.config is None:
        raise ConfigError("--source: missing; pass a camera index (0), a video file, an rtsp:// URL or an image folder")
    from streamcls.pipeline import Pipeline
    from streamcls.commands.progress import Progress

    pipeline = Pipeline(config)
    error: StreamclsError | None = None
    interrupted = False
    with pipeline:
        is_file = pipeline.offline
        progress = Progress(pipeline.frame_count_hint if is_file else None,
                            "frames", enabled=config.output.progress)
        try:
            for _prediction in pipeline:
                progress.update(pipeline.fps)
        except StreamclsError as caught:
            error = caught
        except KeyboardInterrupt:
            interrupted = True
        finally:
            progress.close()
    summary = pipeline.summary()
    _print_summary(summary, interrupted)
    if arguments.json_summary:
        _write_json_summary(summary, arguments.json_summary)
    if error is not None:
        raise error
    return 130 if interrupted else 0


def _print_summary(summary: Any, interrupted: bool) -> None:
    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f} ms"

    stages = ", ".join(f"{name} {value:.2f}" for name, value in sorted(summary.stage_ms.items()))
    lines = [
        f"source      {summary.source_id} ({summary.policy} policy, device {summary.device})"
        + (" - interrupted" if interrupted else ""),
        f"frames      {summary.frames_read} read, {summary.frames_processed} processed, "
        f"{summary.frames_dropped} dropped",
        f"throughput  {summary.throughput_fps:.1f} frames/s over {summary.elapsed_s:.1f} s "
        f"({summary.batches} batches"
        + (f", {summary.mean_batch_size:.1f} frames each)" if summary.mean_batch_size else ")"),
        f"latency     mean {ms(summary.latency_mean_ms)}, p95 {ms(summary.latency_p95_ms)}",
        f"stages (ms) {stages}",
    ]
    if summary.video_codec:
        lines.append(f"video codec {summary.video_codec}")
    if summary.reconnects or summary.gaps:
        lines.append(f"reconnects  {summary.reconnects}; gaps: " + "; ".join(
            f"after frame {gap.last_index_before}: "
            + (f"{gap.seconds:.1f} s" + (f", about {gap.frames_missed} frames missed"
                                         if gap.frames_missed is not None else "")
               if gap.ended_at else "never came back")
            for gap in summary.gaps))
    if len(summary.sources) > 1:
        for source in summary.sources:
            lines.append(
                f"  {source.source_id}: {source.state}, {source.policy} policy, {source.frames_read} read, "
                f"{source.frames_processed} processed, {source.frames_dropped} dropped, "
                f"{source.throughput_fps:.1f} frames/s, latency p95 {ms(source.latency_p95_ms)}"
                + (f", {source.reconnects} reconnects" if source.reconnects else "")
                + (f" - {source.error}" if source.error else ""))
    if summary.segments is not None:
        lines.append(f"segments    {summary.segments} runs of one label")
    if summary.skipped_files:
        lines.append(f"skipped     {len(summary.skipped_files)} non-image files")
    for line in lines:
        print(line)


def _write_json_summary(summary: Any, path: str) -> None:
    from dataclasses import asdict

    with open(path, "w", encoding="utf-8") as handle:
        json.dump(redact_data(asdict(summary)), handle, indent=2, default=str)
