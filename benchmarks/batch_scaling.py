"""``streamcls batch`` against the single-process pipeline, on one folder, at equal cores.

    python benchmarks/batch_scaling.py [--copies 8] [--video samples/demo-clip.mp4] [--model samples/demo-bundle]

Modes, one after another on the same folder (``--copies`` copies of the video):

1. ``pipeline``: one process, the model loaded once, each file through
   ``Pipeline`` one after another (what ``streamcls run`` does per file);
2. ``ray-1``, ``ray-2``: ``streamcls batch`` on a local Ray with 1 and 2 actors;
3. ``cluster-1``, ``cluster-2``: ``streamcls batch --actors 2`` on a 2-node Ray
   cluster on 127.0.0.1 (``ray.cluster_utils.Cluster``) with 1 and with 2 CPUs
   per node, on the same 2 physical cores (Ray's CPUs are scheduling slots).

Per mode: frames, wall time, frames/s over the whole job and after its first
video (Ray's start-up and the actors' model load excluded), the machine's
busy cores (``/proc/stat``) and the peak RSS of each kind of process (driver,
Ray worker, Ray's own daemons), sampled every 0.2 s. The overhead of Ray
against the pipeline is printed from the steady rates.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _busy_jiffies() -> tuple[int, int]:
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class PeakMemory(threading.Thread):
    """Peak RSS (MB) per kind of process, sampled from /proc."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            for proc in Path("/proc").iterdir():
                if not proc.name.isdigit():
                    continue
                try:
                    command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    rss = int((proc / "statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
                except OSError:
                    continue
                kind = _kind(command)
                if kind:
                    self.peaks[kind] = max(self.peaks.get(kind, 0.0), rss)


def _kind(command: str) -> str | None:
    if "ray::" in command or "default_worker.py" in command:
        return "ray worker"
    if "raylet" in command or "gcs_server" in command or "dashboard" in command or "log_monitor" in command:
        return "ray daemons (largest)"
    if "streamcls batch" in command or "batch_scaling.py" in command:
        return "driver"
    return None


def _measure(run) -> dict[str, object]:
    memory = PeakMemory()
    memory.start()
    busy_before, total_before = _busy_jiffies()
    started = time.monotonic()
    frames, first_video_at = run()
    wall = time.monotonic() - started
    busy_after, total_after = _busy_jiffies()
    memory.stop.set()
    memory.join()
    cores = len(os.sched_getaffinity(0))
    steady = wall - (first_video_at - started) if first_video_at else wall
    return {
        "frames": frames,
        "wall_s": round(wall, 1),
        "fps": round(frames / wall, 1),
        "steady_fps": round(frames * (1 - 1 / max(1, _videos)) / max(1e-9, steady), 1),
        "busy_cores": round(cores * (busy_after - busy_before) / max(1, total_after - total_before), 2),
        "peak_rss_mb": {kind: round(value) for kind, value in sorted(memory.peaks.items())},
    }


_videos = 1


def _pipeline(folder: Path, model: str) -> tuple[int, float | None]:
    from streamcls.config import load_config
    from streamcls.model.backends import build_classifier_for
    from streamcls.model.load import load_model
    from streamcls.pipeline import Pipeline

    config = load_config(None, {"model.bundle": model, "output.display": False})
    classifier, _ = build_classifier_for(load_model(config.model), config.inference, None)
    frames, first = 0, None
    for path in sorted(folder.iterdir()):
        file_config = load_config(None, {"model.bundle": model, "output.display": False, "source.uri": str(path)})
        with Pipeline(file_config, classifier=classifier) as pipeline:
            frames += sum(1 for _ in pipeline)
        first = first or time.monotonic()
    return frames, first


def _batch(folder: Path, model: str, out: Path, *extra: str, env: dict[str, str] | None = None):
    def run() -> tuple[int, float | None]:
        command = [sys.executable, "-m", "streamcls", "batch", "--input", str(folder), "--output", str(out),
                   "--model", model, *extra]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                   env={**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", **(env or {})})
        first = None
        while process.poll() is None:
            if first is None and (out / "manifest.json").exists():
                first = time.monotonic()
            time.sleep(0.1)
        if process.returncode != 0:
            raise SystemExit(f"batch {extra} failed: {process.stdout.read() if process.stdout else ''}")
        manifest = json.loads((out / "manifest.json").read_text())
        return sum(entry["frames"] for entry in manifest["videos"].values()), first
    return run


def main() -> int:
    global _videos
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--video", default=str(ROOT / "samples" / "demo-clip.mp4"))
    parser.add_argument("--model", default=str(ROOT / "samples" / "demo-bundle"))
    parser.add_argument("--json", help="write the figures here")
    arguments = parser.parse_args()
    _videos = arguments.copies
    work = Path(tempfile.mkdtemp(prefix="batch-scaling-"))
    folder = work / "in"
    folder.mkdir()
    suffix = Path(arguments.video).suffix
    for number in range(arguments.copies):
        shutil.copy(arguments.video, folder / f"copy{number:02d}{suffix}")
    results: dict[str, dict[str, object]] = {}
    try:
        results["pipeline"] = _measure(lambda: _pipeline(folder, arguments.model))
        results["ray-1"] = _measure(_batch(folder, arguments.model, work / "out1", "--actors", "1",
                                           "--actor-cpus", "0.5"))
        results["ray-2"] = _measure(_batch(folder, arguments.model, work / "out2", "--actors", "2",
                                           "--actor-cpus", "0.5"))
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        from ray.cluster_utils import Cluster

        for cpus in (1, 2):
            cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": cpus})
            try:
                cluster.add_node(num_cpus=cpus)
                cluster.wait_for_nodes()
                results[f"cluster-{cpus}"] = _measure(_batch(folder, arguments.model, work / f"out-cluster{cpus}",
                                                             "--actors", "2", "--address", cluster.address))
            finally:
                cluster.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{arguments.copies} copies of {Path(arguments.video).name}, model {Path(arguments.model).name}, "
          f"{len(os.sched_getaffinity(0))} cores")
    print(f"{'mode':<9} {'frames':>7} {'wall s':>7} {'fps':>7} {'steady fps':>11} {'busy cores':>11}  peak RSS MB")
    for mode, figures in results.items():
        print(f"{mode:<9} {figures['frames']:>7} {figures['wall_s']:>7} {figures['fps']:>7} "
              f"{figures['steady_fps']:>11} {figures['busy_cores']:>11}  {figures['peak_rss_mb']}")
    base = float(results["pipeline"]["steady_fps"])  # type: ignore[arg-type]
    for mode in ("ray-1", "ray-2", "cluster-1", "cluster-2"):
        rate = float(results[mode]["steady_fps"])  # type: ignore[arg-type]
        print(f"{mode}: steady rate {rate / base:.2f} x the pipeline's (overhead {100 * (1 - rate / base):.0f} %)")
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
