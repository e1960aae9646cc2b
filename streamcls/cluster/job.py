"""The driver of ``streamcls batch``: list, skip what is finished, run Ray Data, write each video.

Ray Data's plan::

    from_items(one row per video) ─flat_map(decode_video)→ preprocessed frames (CPU tasks)
        ─map_batches(Classify, concurrency=actors)→ probabilities (one model per actor)
        ─iter_batches on the driver→ VideoResults per video (postprocess, outputs, rename)

Order is kept (``preserve_order``), so each video's rows reach the driver in
frame order, videos one after another in the listed order, and the driver
holds one video's state at a time. A task that Ray retries repeats frames the
driver already wrote: ``VideoResults.take`` drops them by index, so each
frame is written exactly once. A killed actor is restarted by Ray.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamcls.cluster.listing import Video, list_videos
from streamcls.cluster.manifest import Manifest, model_hash
from streamcls.cluster.write import VideoResults
from streamcls.config import Config
from streamcls.errors import ConfigError, StreamclsError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 30.0


@dataclass
class BatchSummary:
    """What a batch job did."""

    videos: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    frames: int = 0
    seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)
    frames_per_node: dict[str, int] = field(default_factory=dict)  # actor (host:pid) -> frames it classified
    stage_ms: dict[str, float] = field(default_factory=dict)  # summed over frames: decode, preprocess, ...
    interrupted: bool = False
    failed_before: dict[str, str] = field(default_factory=dict)  # skipped: an earlier run found them broken

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    def mean_stage_ms(self) -> dict[str, float]:
        """CPU milliseconds per frame of each stage (decode, preprocess: tasks; inference: actors; write: driver)."""
        return {stage: total / self.frames for stage, total in self.stage_ms.items()} if self.frames else {}


@dataclass(frozen=True)
class BatchSettings:
    input: str
    output: Path
    address: str | None = None
    actors: int = 1
    actor_cpus: float = 0.5
    actor_gpus: float = 0.0
    decode_cpus: float = 0.5
    predictions_format: str = "jsonl"
    retry_failed: bool = False


def run_batch(
    config: Config, settings: BatchSettings, on_frames: Callable[[int, int, int], object] | None = None
) -> BatchSummary:
    """Classify every video ``settings.input`` names into ``settings.output``; resumes a run stopped before.

    ``on_frames(videos finished, videos in all, frames)`` is called as results arrive (progress).

    Raises:
        ConfigError: no videos, a model that cannot be described, an address that cannot be reached.
    """
    from streamcls.model.load import describe_model

    videos = list_videos(settings.input)
    spec = describe_model(config.model)
    settings.output.mkdir(parents=True, exist_ok=True)
    manifest = Manifest.open(settings.output, model_hash(config))
    todo = [video for video in videos if not manifest.finished(video.name, video.path, settings.retry_failed)]
    summary = BatchSummary(videos=len(videos), skipped=len(videos) - len(todo))
    for video in videos:
        entry = manifest.videos.get(video.name)
        if video not in todo and entry is not None and entry.status == "failed":
            summary.failed_before[video.name] = entry.error or "failed"
    started = time.monotonic()
    if not todo:
        return summary
    from streamcls.preprocess import PreprocessSpec

    preprocess_spec = PreprocessSpec(spec.input_size, spec.preprocess)
    current: VideoResults | None = None
    finished = 0
    try:
        with ray_session(settings.address) as ray:
            completed: set[int] = set()
            for row in _results(ray, config, settings, todo, preprocess_spec):
                if int(row["video_index"]) in completed:  # a retried task repeating a finished video
                    continue
                video = todo[int(row["video_index"])]
                if current is None or current.video is not video:
                    if current is not None:  # a video with no end row: impossible unless Ray lost it
                        raise StreamclsError(f"{current.video.name}: its results stopped before its end")
                    current = VideoResults(video, config, settings.output, spec.classes, settings.predictions_format)
                if not row["end"]:
                    writing = time.perf_counter()
                    if current.take(int(row["frame_index"]), float(row["position_ms"]), row["probabilities"]):
                        summary.frames += 1
                        node = str(row["node"])
                        summary.frames_per_node[node] = summary.frames_per_node.get(node, 0) + 1
                        _add_stage_times(summary, row, (time.perf_counter() - writing) * 1000)
                    if on_frames is not None and summary.frames % 50 == 0:
                        on_frames(finished, len(todo), summary.frames)
                    continue
                error = str(row["error"]) or None
                if error is None and int(row["frames"]) != current.frames:
                    error = f"decoded {int(row['frames'])} frames but {current.frames} reached the driver"
                entry = current.finish(error)
                manifest.record(video.name, entry)
                completed.add(int(row["video_index"]))
                current, finished = None, finished + 1
                if entry.error:
                    summary.failed += 1
                    summary.errors[video.name] = entry.error
                    logger.error("%s: %s", video.name, entry.error)
                else:
                    summary.done += 1
                if on_frames is not None:
                    on_frames(finished, len(todo), summary.frames)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        if current is not None:
            current.abandon()
        summary.seconds = time.monotonic() - started
    return summary


def _add_stage_times(summary: BatchSummary, row: dict[str, Any], write_ms: float) -> None:
    for stage, milliseconds in (
        ("decode", float(row["decode_ms"])),
        ("preprocess", float(row["preprocess_ms"])),
        ("inference", float(row["inference_ms"])),
        ("write", write_ms),
    ):
        summary.stage_ms[stage] = summary.stage_ms.get(stage, 0.0) + milliseconds


def _results(
    ray: Any, config: Config, settings: BatchSettings, todo: list[Video], preprocess_spec: Any
) -> Iterator[Any]:
    """Every result row, in order, as plain values."""
    from streamcls.cluster.work import Classify, decode_video, pack_bundle

    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    packed = pack_bundle(config.model.bundle) if config.model.bundle is not None else None
    items = [{"video_index": index, "path": str(video.path)} for index, video in enumerate(todo)]
    dataset = (
        ray.data.from_items(items, override_num_blocks=len(items))
        .flat_map(decode_video, fn_kwargs={"spec": preprocess_spec}, num_cpus=settings.decode_cpus)
        .map_batches(
            Classify,
            # The reference inside a list: the actor fetches it itself (a restarted one too, while
            # the driver holds it), rather than Ray resolving it as a constructor argument.
            fn_constructor_kwargs={"config": config, "packed_bundle": [ray.put(packed)] if packed else None},
            batch_size=config.inference.batch_size,
            compute=ray.data.ActorPoolStrategy(size=settings.actors),
            num_cpus=settings.actor_cpus,
            num_gpus=settings.actor_gpus or None,
            max_restarts=-1,
            max_task_retries=-1,
        )
    )
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=2):
        for index in range(len(batch["video_index"])):
            yield {key: values[index] for key, values in batch.items()}


@contextmanager
def ray_session(address: str | None) -> Iterator[Any]:
    """Ray, connected: a local one started in this process (no address), or the cluster at ``address``.

    Raises:
        ConfigError: ``address`` cannot be reached within 30 s, or Ray is not installed.
    """
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # a local Ray stays on 127.0.0.1
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data itself, not only Ray core
    except ImportError as error:
        raise ConfigError(
            'streamcls batch needs Ray Data: pip install "ray[data]" (or pip install "streamcls[cluster]")'
        ) from error
    address = address or os.environ.get("RAY_ADDRESS") or None
    # Ray's own chatter (plans, progress, deprecations) stays in Ray's logs; streamcls says what matters.
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # ray.init makes SIGTERM exit at once (status 15); the CLI's own handler stops cleanly instead.
    kept = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    try:
        if address is None:
            ray.init(
                num_cpus=os.cpu_count(),
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
                configure_logging=False,
            )
        else:
            _check_reachable(address)
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR, configure_logging=False)
    except (ConnectionError, TimeoutError, RuntimeError) as error:
        raise ConfigError(
            f"--address {address}: Ray cannot connect ({error}); check the address and the cluster"
        ) from error
    if kept is not None:
        signal.signal(signal.SIGTERM, kept)
    try:
        yield ray
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """A plain TCP connect first: ``ray.init`` to a dead address can hang far longer than anyone waits."""
    import socket

    host_port = address.split("://", 1)[-1]
    if address == "auto":
        return
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--address {address}: expected HOST:PORT or ray://HOST:PORT (or 'auto')")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S / 3).close()
    except OSError as error:
        raise ConfigError(
            f"--address {address}: nothing answers there ({error.strerror or error}); start the cluster "
            f"(ray start --head) or fix the address"
        ) from error
