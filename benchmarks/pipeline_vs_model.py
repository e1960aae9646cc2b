"""Pipeline throughput against the model alone and against the classic naive loop.

All three run in one process, one after the other, on the same model, so the
ratios hold on a shared, noisy machine even when absolute figures wander:

* model only: the compiled classifier on a synthetic batch (warm-up excluded);
* pipeline: ``Pipeline`` over every frame of a recorded file (decode, resize,
  batched inference, postprocess, overlay drawn; no sinks), offline policy;
* naive: the tutorial loop - read a frame, resize, ``model.predict`` on that one
  frame, draw - over the same file.

    python benchmarks/pipeline_vs_model.py --video ../shared/media/walkers-720p.avi
    python benchmarks/pipeline_vs_model.py --video ../shared/media/walkers-720p.avi --transcode 640x360

``--transcode WxH`` first re-encodes the video at that size (OpenCV, mp4v) into a
temporary file: what a camera recording at that resolution costs to decode.

Besides frames/s it prints CPU milliseconds per frame (all threads) and how many
cores each mode kept busy. When the pipeline keeps every core busy, it is bound
by CPU, not by waiting on a stage, and cores / CPU-ms-per-frame is its ceiling.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import tempfile
import time

import cv2
import numpy as np

from streamcls.config import Config, InferenceConfig, InputSize, ModelConfig, OutputConfig, SourceConfig
from streamcls.model.backends.keras import Classifier
from streamcls.model.load import load_model
from streamcls.pipeline import Pipeline


class Rate:
    """Frames per wall-clock second, and CPU milliseconds spent per frame (all threads)."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self, frames: int) -> tuple[float, float]:
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        return frames / wall, cpu * 1000 / max(frames, 1)


def transcode(video: str, size: InputSize, folder: str) -> str:
    """Re-encode ``video`` at ``size`` (mp4v), keeping its frame rate."""
    capture = cv2.VideoCapture(video)
    target = os.path.join(folder, f"transcoded-{size}.mp4")
    writer = cv2.VideoWriter(target, cv2.VideoWriter_fourcc(*"mp4v"), capture.get(cv2.CAP_PROP_FPS) or 25,
                             (size.width, size.height))
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, (size.width, size.height), interpolation=cv2.INTER_AREA))
    writer.release()
    capture.release()
    return target


def decode_only(video: str) -> tuple[float, float]:
    capture, frames, rate = cv2.VideoCapture(video), 0, Rate()
    while capture.read()[0]:
        frames += 1
    capture.release()
    return rate.stop(frames)


def model_only(classifier: Classifier, seconds: float) -> tuple[float, float]:
    batch = np.random.default_rng(0).uniform(-1, 1, (classifier.batch_size, *classifier.spec.input_size.shape))
    batch = batch.astype(np.float32)
    for _ in range(3):
        classifier.classify(batch)
    calls, start, rate = 0, time.perf_counter(), Rate()
    while time.perf_counter() - start < seconds:
        classifier.classify(batch)
        calls += 1
    return rate.stop(calls * classifier.batch_size)


def pipeline(classifier: Classifier, config: Config) -> tuple[float, float]:
    frames, rate = 0, Rate()
    with Pipeline(config, classifier=classifier, render_overlay=True) as running:
        for _ in running:
            frames += 1
    return rate.stop(frames)


def naive(model, video: str, size: InputSize, frames: int) -> tuple[float, float]:
    from keras.applications.mobilenet import preprocess_input

    capture = cv2.VideoCapture(video)
    done, rate = 0, Rate()
    while done < frames:
        ok, frame = capture.read()
        if not ok:
            break
        image = cv2.cvtColor(cv2.resize(frame, (size.width, size.height)), cv2.COLOR_BGR2RGB)
        probabilities = model.predict(preprocess_input(image.astype("float32"))[None], verbose=0)
        cv2.putText(frame, str(int(probabilities.argmax())), (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
        done += 1
    return rate.stop(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", required=True)
    parser.add_argument("--size", default="160x160")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-frames", type=int, default=120)
    parser.add_argument("--transcode", metavar="WxH", help="first re-encode the video at this size")
    arguments = parser.parse_args()
    from streamcls.config import parse_input_size

    if arguments.transcode:
        width, height = arguments.transcode.split("x")
        folder = tempfile.mkdtemp(prefix="streamcls-bench-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        arguments.video = transcode(arguments.video, parse_input_size(f"{height}x{width}"), folder)

    size = parse_input_size(arguments.size)
    model_config = ModelConfig(alpha=arguments.alpha, input_size=size, weights="none")
    loaded = load_model(model_config)
    classifier = Classifier.from_loaded(loaded, batch_size=arguments.batch_size, device="cpu")
    classifier.warm_up()
    config = Config(model=model_config, inference=InferenceConfig(batch_size=arguments.batch_size),
                    source=SourceConfig(uri=arguments.video), output=OutputConfig(display=False, progress=False))
    model_runs, pipeline_runs = [], []
    for _ in range(arguments.repeats):  # interleaved, so drift hits both alike
        model_runs.append(model_only(classifier, 3.0))
        pipeline_runs.append(pipeline(classifier, config))
    decode_rate, decode_cpu = decode_only(arguments.video)
    naive_rate, naive_cpu = naive(loaded.model, arguments.video, size, arguments.naive_frames)
    (model_rate, model_cpu), (pipeline_rate, pipeline_cpu) = median_run(model_runs), median_run(pipeline_runs)
    cores = len(os.sched_getaffinity(0))
    print(f"MobileNet alpha {arguments.alpha} at {size}, batch {arguments.batch_size}, video {arguments.video}, {cores} cores")
    print("                  frames/s   CPU ms/frame   cores busy")
    for name, rate, cpu in (("model only", model_rate, model_cpu), ("pipeline", pipeline_rate, pipeline_cpu),
                            ("decode only", decode_rate, decode_cpu), ("naive loop", naive_rate, naive_cpu)):
        print(f"{name:<16}{rate:10.1f}{cpu:15.2f}{rate * cpu / 1000:13.2f}")
    print(f"repeats, frames/s: model only {', '.join(f'{r:.1f}' for r, _ in model_runs)}; "
          f"pipeline {', '.join(f'{r:.1f}' for r, _ in pipeline_runs)}")
    print(f"pipeline / model only = {pipeline_rate / model_rate:.1%}   (goal >= 85%)")
    print(f"pipeline / naive      = {pipeline_rate / naive_rate:.1f}x   (goal >= 5x)")
    # The pipeline does the model's work plus decode, resize and overlay. When its
    # threads already keep every core busy, no scheduling can beat cores / CPU-per-frame.
    print(f"CPU ceiling for the pipeline = {cores} cores / {pipeline_cpu:.2f} ms = {cores * 1000 / pipeline_cpu:.1f} frames/s "
          f"({cores * 1000 / pipeline_cpu / model_rate:.1%} of model only); "
          f"85% would need <= {cores * 1000 / (0.85 * model_rate):.2f} CPU ms/frame")


def median_run(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The run with the median frame rate, so its CPU figure belongs to the same run."""
    return sorted(runs)[len(runs) // 2]

if __name__ == "__main__":
    main()
