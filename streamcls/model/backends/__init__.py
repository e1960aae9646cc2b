"""Pick the inference backend a config asks for: Keras, or a converted LiteRT model.

Also the two things every converted backend needs: calibration frames sampled
from a real source, and a check of how far the conversion moved the results
(top-1 agreement and largest probability difference against Keras float32).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamcls.config import InferenceConfig, SourceConfig
from streamcls.errors import ConfigError, EndOfStream, SourceError
from streamcls.model.convert import BACKEND_QUANTIZATION, converted_model, split_calibration
from streamcls.model.load import LoadedModel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Agreement:
    """How a converted model's outputs compare with the Keras model's on held-out frames."""

    frames: int
    top1: float  # fraction of frames with the same top-1 class
    max_probability_difference: float


def sample_frames(uri: str, count: int) -> list[np.ndarray]:
    """Up to ``count`` frames spread evenly over a video file or image folder.

    Raises:
        ConfigError: the source is a camera or stream, or gives no frames.
    """
    from streamcls.sources import describe_source, open_source

    if describe_source(uri).live:  # checked before opening: a camera or stream is never waited on
        raise ConfigError(
            f"calibration source {uri!r} is a live source; pass a video file or an image folder "
            f"(--calibration) so the frames are the same on every run"
        )
    try:
        source = open_source(SourceConfig(uri=uri))
    except SourceError as error:
        raise ConfigError(f"calibration source: {error}") from None
    with source:
        stride = max(1, (source.frame_count_hint or count) // count)
        frames: list[np.ndarray] = []
        index = 0
        while len(frames) < count:
            try:
                image, _ = source.read()
            except (EndOfStream, SourceError):  # a damaged tail still leaves usable frames
                break
            if index % stride == 0:
                frames.append(image)
            index += 1
    if not frames:
        raise ConfigError(f"calibration source {uri!r} gave no frames; pass a video or folder with pictures")
    return frames


def measure_agreement(reference: Any, candidate: Any, frames: list[np.ndarray]) -> Agreement:
    """Compare two classifiers' probabilities on the same frames."""
    expected = reference.classify_frames(frames)
    actual = candidate.classify_frames(frames)
    same = expected.argmax(axis=1) == actual.argmax(axis=1)
    return Agreement(len(frames), float(same.mean()), float(np.abs(expected - actual).max()))


def build_classifier_for(loaded: LoadedModel, inference: InferenceConfig,
                         calibration_uri: str | None = None) -> tuple[Any, Agreement | None]:
    """The classifier for ``inference.backend``, warmed up, and (converted backends) its agreement.

    ``calibration_uri`` is used when ``inference.calibration`` is not set (the run's own file).

    Raises:
        ConfigError: int8 without a usable calibration source.
        DeviceError: a GPU asked for and absent (Keras backend).
    """
    from streamcls.model.backends.keras import Classifier

    keras_classifier = Classifier.from_loaded(loaded, batch_size=inference.batch_size, device=inference.device)
    if inference.backend == "keras":
        keras_classifier.warm_up()
        return keras_classifier, None
    if inference.device == "gpu":
        raise ConfigError(f"inference.backend {inference.backend} runs on the CPU; use --device cpu or auto, "
                          f"or --backend keras for the GPU")
    from streamcls.model.backends.litert import LiteClassifier

    quantization = BACKEND_QUANTIZATION[inference.backend]
    uri = inference.calibration or calibration_uri
    frames = sample_frames(uri, inference.calibration_frames) if uri else []
    calibrate, held_out = split_calibration(frames)
    if quantization == "int8" and not calibrate:
        raise ConfigError(
            f"inference.backend tflite-int8 needs calibration frames and the source is live: pass "
            f"--calibration VIDEO|IMAGE_FOLDER with frames like the camera's"
        )
    path = converted_model(loaded, quantization, calibrate if quantization == "int8" else None)
    lite = LiteClassifier(path, loaded.spec, batch_size=inference.batch_size, threads=inference.threads,
                          quantization=quantization)
    lite.warm_up()
    agreement = measure_agreement(keras_classifier, lite, held_out) if held_out else None
    if agreement is not None:
        logger.info("%s agrees with Keras float32 on %.1f%% of %d held-out frames (max probability difference %.4f)",
                    inference.backend, 100 * agreement.top1, agreement.frames, agreement.max_probability_difference)
    return lite, agreement
