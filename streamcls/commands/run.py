"""``streamcls run``: classify a camera, video file, stream or image folder."""

from __future__ import annotations

import argparse
from typing import Any

from streamcls.commands.options import (
    add_backend_flags,
    add_device_flag,
    add_model_flags,
    add_output_flags,
    config_from,
)
from streamcls.errors import ConfigError, StreamclsError


def add_parser(subcommands: Any) -> None:
    """Add ``run`` to the CLI's sub-commands."""
    run = subcommands.add_parser("run", help="classify a camera, video file, stream or image folder")
    add_model_flags(run)
    run.add_argument(
        "--source",
        dest="run_sources",
        action="append",
        metavar="SOURCE",
        help="camera index (0), video file, rtsp:// or http(s):// URL, image folder or glob; "
        "repeat for several sources in one run (one model, batches across them)",
    )
    run.add_argument("--batch-size", type=int, help="frames per inference call (default 8)")
    run.add_argument("--output-video", help="write the annotated video here (.mp4, .avi)")
    add_output_flags(run)
    run.add_argument("--no-display", action="store_true", help="do not open a window")
    run.add_argument("--max-frames", type=int, help="stop after this many frames")
    run.add_argument(
        "--realtime",
        action="store_true",
        help="play a file at its native rate under the live (drop stale frames) policy",
    )
    add_device_flag(run)
    add_backend_flags(run)
    run.add_argument("--json-summary", help="also write the run summary as JSON here")
    run.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Run the pipeline to the end of its sources (or Ctrl-C), then print the summary.

    Returns:
        0, or 130 when interrupted.

    Raises:
        StreamclsError: what stopped the run, after the summary is printed.
    """
    config = config_from(arguments)
    if not arguments.run_sources and arguments.config is None:
        raise ConfigError("--source: missing; pass a camera index (0), a video file, an rtsp:// URL or an image folder")
    from streamcls.commands.console import print_summary, write_json_summary
    from streamcls.commands.progress import Progress
    from streamcls.pipeline import Pipeline

    pipeline = Pipeline(config)
    error: StreamclsError | None = None
    interrupted = False
    with pipeline:
        is_file = pipeline.offline
        progress = Progress(pipeline.frame_count_hint if is_file else None, "frames", enabled=config.output.progress)
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
    print_summary(summary, interrupted)
    if arguments.json_summary:
        write_json_summary(summary, arguments.json_summary)
    if error is not None:
        raise error
    return 130 if interrupted else 0
