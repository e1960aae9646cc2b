"""``streamcls batch``: classify every video of an archive on Ray (local by default, or a cluster)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from streamcls.commands.options import add_backend_flags, add_device_flag, add_model_flags, config_from
from streamcls.errors import ConfigError, SourceError


def add_parser(subcommands: Any) -> None:
    """Add ``batch`` to the CLI's sub-commands."""
    batch = subcommands.add_parser(
        "batch",
        help="classify every video of a folder, glob or list on Ray: local by default, or a cluster",
        description="Writes, per video, the predictions and segments streamcls run would write for it, and "
        "manifest.json; run it again with the same --output to resume.",
    )
    add_model_flags(batch)
    batch.add_argument("--input", required=True, help="a folder of videos, a glob ('archive/**/*.mp4') or a .txt list")
    batch.add_argument("--output", required=True, help="the folder for the results and manifest.json")
    batch.add_argument("--address", help="a Ray cluster to join (HOST:PORT, ray://HOST:PORT, or $RAY_ADDRESS)")
    batch.add_argument("--actors", type=int, default=1, help="model copies classifying at once (default 1)")
    batch.add_argument("--actor-cpus", type=float, default=0.5, help="CPUs each actor reserves (default 0.5)")
    batch.add_argument("--actor-gpus", type=float, default=0.0, help="GPUs each actor reserves (GPU nodes)")
    batch.add_argument("--decode-cpus", type=float, default=0.5, help="CPUs each decoding task reserves")
    batch.add_argument("--batch-size", type=int, help="frames per inference call (default 8)")
    batch.add_argument(
        "--format", dest="predictions_format", choices=["jsonl", "csv"], default="jsonl", help="predictions format"
    )
    batch.add_argument("--retry-failed", action="store_true", help="redo videos the manifest lists as failed")
    add_device_flag(batch)
    add_backend_flags(batch)
    batch.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Run the job, print the summary.

    Returns:
        0 when every video was classified; 5 when some failed (each named); 130 when interrupted.
    """
    for flag, value, low in (("--actors", arguments.actors, 1), ("--actor-cpus", arguments.actor_cpus, 0.0)):
        if value < low or (flag == "--actor-cpus" and value <= 0):
            raise ConfigError(f"{flag}: received {value}; expected a number above {low}")
    config = config_from(arguments, {"output.display": False})
    from streamcls.cluster.job import BatchSettings, run_batch

    settings = BatchSettings(
        input=arguments.input,
        output=Path(arguments.output),
        address=arguments.address,
        actors=arguments.actors,
        actor_cpus=arguments.actor_cpus,
        actor_gpus=arguments.actor_gpus,
        decode_cpus=arguments.decode_cpus,
        predictions_format=arguments.predictions_format,
        retry_failed=arguments.retry_failed,
    )
    progress = _Progress(config.output.progress)
    try:
        summary = run_batch(config, settings, progress.update)
    finally:
        progress.close()
    print(
        f"videos      {summary.videos}: {summary.done} done, {summary.failed} failed, "
        f"{summary.skipped} skipped (finished before)"
    )
    print(f"frames      {summary.frames} in {summary.seconds:.1f} s ({summary.frames_per_second:.1f} frames/s)")
    stages = summary.mean_stage_ms()
    if stages:
        print("stages (ms) " + ", ".join(f"{stage} {value:.2f}" for stage, value in stages.items()) + " per frame")
    for node, frames in sorted(summary.frames_per_node.items()):
        print(f"  actor {node}: {frames} frames")
    for name, error in summary.errors.items():
        print(f"failed      {name}: {error}", file=sys.stderr)
    for name, error in summary.failed_before.items():
        print(f"failed      {name} (in an earlier run; --retry-failed tries again): {error}", file=sys.stderr)
    print(f"manifest    {settings.output / 'manifest.json'}")
    if summary.interrupted:
        print("interrupted: finished videos are kept; run again with the same --output to resume", file=sys.stderr)
        return 130
    failed = summary.failed + len(summary.failed_before)
    if failed:
        raise SourceError(f"{failed} of {summary.videos} videos failed (listed above and in the manifest)")
    return 0


class _Progress:
    """Videos done of all (with the ETA) and frames/s: a tqdm bar on a terminal, a log line every 5 s otherwise."""

    def __init__(self, enabled: bool):
        import logging
        import time

        self._enabled, self._time = enabled, time.monotonic
        self._bar: Any = None
        self._started = self._last_log = time.monotonic()
        self._logger = logging.getLogger("streamcls")

    def update(self, finished: int, total: int, frames: int) -> None:
        if not self._enabled:
            return
        now = self._time()
        rate = frames / max(1e-9, now - self._started)
        if sys.stderr.isatty():
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=total, desc="videos", unit="video", dynamic_ncols=True)
            self._bar.update(finished - self._bar.n)
            self._bar.set_postfix_str(f"{frames} frames, {rate:.1f} frames/s")
        elif now - self._last_log >= 5.0 or finished == total:
            self._last_log = now
            self._logger.info("%d/%d videos, %d frames, %.1f frames/s", finished, total, frames, rate)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
