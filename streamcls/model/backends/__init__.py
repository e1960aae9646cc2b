"""Inference backends: one registry (``config/names.py``), one factory per backend module.

A backend module exposes ``build(loaded, inference, calibration, **options)``
returning a classifier — an object with ``batch_size``, ``preprocess_spec``,
``spec``, ``device``, ``classify(images)``, ``classify_frames(frames)`` and
``warm_up()`` (``keras.BucketedClassifier`` gives all but one method) — and may
expose ``missing_runtime() -> str | None`` for ``doctor``. ``calibration`` is a
list of BGR frames from a recording (empty when none was supplied); the caller
supplies them, the model code never opens a source. Adding a backend is one
module plus one line in ``config/names.py``; ``docs/architecture.md`` shows one.

Every backend that converts the model (``compare_with_keras``) is measured
against Keras float32 on held-out frames: top-1 agreement and the largest
probability difference.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamcls.config import InferenceConfig
from streamcls.config.names import backend as backend_entry
from streamcls.errors import ConfigError
from streamcls.model.build import LoadedModel
from streamcls.model.convert import split_calibration

logger = logging.getLogger(__name__)

FrameSupply = Callable[[int], list[np.ndarray]]  # up to N frames from a recording


@dataclass(frozen=True)
class Agreement:
    """How a converted model's outputs compare with the Keras model's on held-out frames."""

    frames: int
    top1: float  # fraction of frames with the same top-1 class
    max_probability_difference: float


def measure_agreement(reference: Any, candidate: Any, frames: list[np.ndarray]) -> Agreement:
    """Compare two classifiers' probabilities on the same frames."""
    expected = reference.classify_frames(frames)
    actual = candidate.classify_frames(frames)
    same = expected.argmax(axis=1) == actual.argmax(axis=1)
    return Agreement(len(frames), float(same.mean()), float(np.abs(expected - actual).max()))


def build_classifier_for(
    loaded: LoadedModel, inference: InferenceConfig, calibration: FrameSupply | None = None
) -> tuple[Any, Agreement | None]:
    """The classifier for ``inference.backend``, warmed up, and (converted backends) its agreement.

    ``calibration`` gives up to N frames of a recording, read only when the backend
    needs them (int8 calibration, the agreement check).

    Raises:
        ConfigError: an unknown backend; a CPU-only one on ``device: gpu``; one that
            needs calibration frames without any.
        DeviceError: a GPU asked for and absent (Keras backend).
    """
    entry = backend_entry(inference.backend)
    if entry.cpu_only and inference.device == "gpu":
        raise ConfigError(
            f"inference.backend {inference.backend} runs on the CPU; use --device cpu or auto, "
            f"or --backend keras for the GPU"
        )
    wants_frames = entry.needs_calibration or entry.compare_with_keras
    frames = calibration(inference.calibration_frames) if calibration is not None and wants_frames else []
    calibrate, held_out = split_calibration(frames)
    if entry.needs_calibration and not calibrate:
        raise ConfigError(
            f"inference.backend {inference.backend} needs calibration frames and the source is live: pass "
            f"--calibration VIDEO|IMAGE_FOLDER with frames like the camera's"
        )
    factory = entry.load("inference.backend")
    classifier = factory(loaded, inference, calibrate, **entry.options)
    classifier.warm_up()
    if not entry.compare_with_keras or not held_out:
        return classifier, None
    from streamcls.model.backends.keras import Classifier

    reference = Classifier.from_loaded(loaded, batch_size=inference.batch_size, device=inference.device)
    agreement = measure_agreement(reference, classifier, held_out)
    logger.info(
        "%s agrees with Keras float32 on %.1f%% of %d held-out frames (max probability difference %.4f)",
        inference.backend,
        100 * agreement.top1,
        agreement.frames,
        agreement.max_probability_difference,
    )
    return classifier, agreement
