"""Pipeline throughput against the model alone and against the classic naive loop.

All three run in one process, one after the other, on the same model, so the
ratios hold on a shared, noisy machine even when absolute figures wander:

* model only: the compiled classifier on a synthetic batch (warm-up excluded);
* pipeline: ``Pipeline`` over every frame of a recorded file (decode, resize,
  batched inference, postprocess, overlay drawn; no sinks), offline policy;
* naive: the tutorial loop - read a frame, resize, ``model.predict`` on that one
  frame, draw - over the same file.

    python benchmarks/pipeline_vs_model.py --video ../shared/media/walkers-720p.avi
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np

from streamcls.config import Config, InferenceConfig, InputSize, ModelConfig, OutputConfig, SourceConfig
from streamcls.model.classify import Classifier
from streamcls.model.load import load_model
from streamcls.pipeline import Pipeline


def model_only(classifier: Classifier, seconds: float) -> float:
    batch = np.random.default_rng(0).uniform(-1, 1, (classifier.batch_size, *classifier.spec.input_size.shape))
    batch = batch.astype(np.float32)
    for _ in range(3):
        classifier.classify(batch)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        classifier.classify(batch)
        calls += 1
    return calls * classifier.batch_size / (time.perf_counter() - start)


def pipeline(classifier: Classifier, config: Config) -> float:
    with Pipeline(config, classifier=classifier, render_overlay=True) as running:
        for _ in running:
            pass
    return running.summary().throughput_fps


def naive(model, video: str, size: InputSize, frames: int) -> float:
    from keras.applications.mobilenet import preprocess_input

    capture = cv2.VideoCapture(video)
    done, start = 0, time.perf_counter()
    while done < frames:
        ok, frame = capture.read()
        if not ok:
            break
        image = cv2.cvtColor(cv2.resize(frame, (size.width, size.height)), cv2.COLOR_BGR2RGB)
        probabilities = model.predict(preprocess_input(image.astype("float32"))[None], verbose=0)
        cv2.putText(frame, str(int(probabilities.argmax())), (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
        done += 1
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", required=True)
    parser.add_argument("--size", default="160x160")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-frames", type=int, default=120)
    arguments = parser.parse_args()
    from streamcls.config import parse_input_size

    size = parse_input_size(arguments.size)
    model_config = ModelConfig(alpha=arguments.alpha, input_size=size, weights="none")
    loaded = load_model(model_config)
    classifier = Classifier.from_loaded(loaded, batch_size=arguments.batch_size, device="cpu")
    classifier.warm_up()
    config = Config(model=model_config, inference=InferenceConfig(batch_size=arguments.batch_size),
                    source=SourceConfig(uri=arguments.video), output=OutputConfig(display=False, progress=False))
    model_rates, pipeline_rates = [], []
    for _ in range(arguments.repeats):  # interleaved, so drift hits both alike
        model_rates.append(model_only(classifier, 3.0))
        pipeline_rates.append(pipeline(classifier, config))
    naive_rate = naive(loaded.model, arguments.video, size, arguments.naive_frames)
    model_rate, pipeline_rate = statistics.median(model_rates), statistics.median(pipeline_rates)
    print(f"MobileNet alpha {arguments.alpha} at {size}, batch {arguments.batch_size}, video {arguments.video}")
    print(f"model only      {model_rate:8.1f} frames/s   (repeats: {', '.join(f'{r:.1f}' for r in model_rates)})")
    print(f"pipeline        {pipeline_rate:8.1f} frames/s   (repeats: {', '.join(f'{r:.1f}' for r in pipeline_rates)})")
    print(f"naive loop      {naive_rate:8.1f} frames/s   ({arguments.naive_frames} frames)")
    print(f"pipeline / model only = {pipeline_rate / model_rate:.1%}   (goal >= 85%)")
    print(f"pipeline / naive      = {pipeline_rate / naive_rate:.1f}x   (goal >= 5x)")


if __name__ == "__main__":
    main()
