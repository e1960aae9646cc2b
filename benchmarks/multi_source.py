"""Four sources, three ways: cross-stream batching in one process, four processes, one after another.

Every mode classifies the same frames (N copies of one recording, every frame,
offline policy, overlay drawn, no files written) with the same model
(MobileNet 1.0 at 160x160, random weights: speed does not depend on their
values), and the modes run one after the other in one invocation so their
ratios hold on a shared, noisy machine:

* ``batched``: one process, one ``Pipeline`` with N sources, its defaults
  (two inference threads) batching frames across them;
* ``processes``: N single-source processes started together (what running one
  ``streamcls run`` per camera gives);
* ``sequential``: one process, one model, the N sources one after the other.

``--realtime`` plays every source at its native rate under the live policy,
as N cameras would deliver (a source alone then rarely fills a batch, and a
model that cannot keep up drops frames): frames/s is then what was
classified, and the drop share says how much of what the cameras sent was
lost.

Each mode runs in fresh child processes, which report their frames, the wall
time of the work and their peak resident memory (``VmHWM``); for ``processes``
the memory is the sum over the four.

    python benchmarks/multi_source.py --video ../shared/media/walkers-720p.avi [--sources 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

SHARED_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "media" / "walkers-720p.avi"


def config_for(uris: list[str], input_size: int, batch_size: int, realtime: bool = False,  # noqa: ANN201
               workers: int | None = None):
    from streamcls.config import Config, InferenceConfig, InputSize, ModelConfig, OutputConfig, SourceConfig

    policy = "latest" if realtime else "block"
    sources = tuple(SourceConfig(uri=uri, id=f"source{number}", policy=policy, realtime=realtime)
                    for number, uri in enumerate(uris))
    return Config(
        model=ModelConfig(weights="none", input_size=InputSize(input_size, input_size)),
        inference=InferenceConfig(batch_size=batch_size, workers=workers),
        source=sources[0],
        sources=sources if len(sources) > 1 else (),
        output=OutputConfig(display=False, progress=False),
    )


def peak_memory_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(mode: str, uris: list[str], input_size: int, batch_size: int, realtime: bool = False,
          workers: int | None = None) -> dict:
    """Runs in a child process: load the model, then time the work alone."""
    from streamcls.model.backends.keras import Classifier
    from streamcls.model.load import load_model
    from streamcls.pipeline import Pipeline

    first = config_for(uris[:1], input_size, batch_size)
    classifier = Classifier.from_loaded(load_model(first.model), batch_size=batch_size)
    classifier.warm_up()  # every bucket traced before the clock starts
    started, cpu_started = time.perf_counter(), time.process_time()
    frames = batches = read = 0
    groups = [uris] if mode == "batched" else [[uri] for uri in uris]
    for group in groups:
        with Pipeline(config_for(group, input_size, batch_size, realtime, workers), classifier=classifier,
                      render_overlay=True) as pipeline:
            for _prediction in pipeline:
                frames += 1
        summary = pipeline.summary()
        batches += summary.batches
        read += summary.frames_read
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"frames": frames, "read": read, "seconds": seconds, "cpu_s": cpu, "batches": batches,
            "peak_mb": peak_memory_mb()}


def launch(mode: str, uris: list[str], input_size: int, batch_size: int, realtime: bool) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--child", mode, "--input-size", str(input_size),
                             "--batch-size", str(batch_size), *(["--realtime"] if realtime else []), *uris],
                            stdout=subprocess.PIPE, text=True)


def measure(mode: str, video: str, count: int, input_size: int, batch_size: int, realtime: bool) -> dict:
    """One repeat of one mode: throughput over every frame of every source, and memory."""
    uris = [video] * count
    if mode == "processes":
        children = [launch("sequential", [uri], input_size, batch_size, realtime) for uri in uris]
    else:
        children = [launch(mode, uris, input_size, batch_size, realtime)]
    reports = []
    for process in children:
        output, _ = process.communicate(timeout=1800)
        if process.returncode != 0:
            raise SystemExit(f"{mode}: a child failed with status {process.returncode}")
        reports.append(json.loads(output.strip().splitlines()[-1]))
    frames = sum(report["frames"] for report in reports)
    read = sum(report["read"] for report in reports)
    # The processes ran at once: the work took as long as the slowest of them.
    seconds = max(report["seconds"] for report in reports)
    cpu = sum(report["cpu_s"] for report in reports)
    return {"fps": frames / seconds, "frames": frames, "peak_mb": sum(report["peak_mb"] for report in reports),
            "batch": frames / max(1, sum(report["batches"] for report in reports)),
            "cpu_ms": cpu * 1000 / max(1, frames), "cores": cpu / seconds, "dropped": 1 - frames / max(1, read)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=str(SHARED_VIDEO))
    parser.add_argument("--sources", type=int, default=4)
    parser.add_argument("--input-size", type=int, default=160)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; medians are printed")
    parser.add_argument("--realtime", action="store_true", help="sources at their native rate, live policy")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("uris", nargs="*", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(child(arguments.child, arguments.uris, arguments.input_size, arguments.batch_size,
                               arguments.realtime)))
        return 0
    if not Path(arguments.video).is_file():
        raise SystemExit(f"--video {arguments.video!r} does not exist; pass a recording")
    modes = ("batched", "processes", "sequential")
    results: dict[str, list[dict]] = {mode: [] for mode in modes}
    for repeat in range(arguments.repeats):
        for mode in modes:
            result = measure(mode, arguments.video, arguments.sources, arguments.input_size, arguments.batch_size,
                             arguments.realtime)
            results[mode].append(result)
            print(f"repeat {repeat + 1}: {mode:<10} {result['fps']:7.1f} frames/s  {result['peak_mb']:7.0f} MB",
                  file=sys.stderr)
    print(f"{arguments.sources} sources of {Path(arguments.video).name}"
          f"{' at their native rate (live policy)' if arguments.realtime else ' (every frame)'}, MobileNet 1.0 at "
          f"{arguments.input_size}x{arguments.input_size}, batch {arguments.batch_size}, medians of "
          f"{arguments.repeats} interleaved repeats")
    print(f"{'mode':<12} {'frames/s':>9} {'vs batched':>10} {'dropped':>8} {'frames/batch':>12} "
          f"{'CPU ms/frame':>12} {'cores busy':>10} {'peak memory':>12}")
    best = statistics.median(result["fps"] for result in results["batched"])
    for mode in modes:
        def median(key: str, mode: str = mode) -> float:
            return statistics.median(result[key] for result in results[mode])

        print(f"{mode:<12} {median('fps'):9.1f} {median('fps') / best:9.2f}x {median('dropped'):8.0%} "
              f"{median('batch'):12.1f} {median('cpu_ms'):12.2f} {median('cores'):10.2f} "
              f"{median('peak_mb'):9.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
