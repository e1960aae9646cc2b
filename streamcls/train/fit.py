"""Train a classifier: head first with the backbone frozen, then optionally the top backbone blocks.

Early stopping watches the validation loss. The best epoch of either phase is
also checkpointed on disk (beside the output, replaced atomically at each
improvement), so the bundle written is the best epoch, not the last one, and an
interrupted run (Ctrl-C, SIGTERM) still writes a bundle from the best epoch so
far instead of losing hours of training.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from streamcls.config import Config, HeadConfig
from streamcls.errors import ConfigError, StreamclsError
from streamcls.preprocess import PreprocessSpec
from streamcls.train import examples as gather
from streamcls.train.load import dataset, load_arrays
from streamcls.train.metrics import Metrics, measure

logger = logging.getLogger(__name__)
BLOCKS = 13  # MobileNet's depthwise-separable blocks, conv_dw_1 ... conv_dw_13


class TrainingInterrupted(StreamclsError):
    """Training was stopped by a signal; what was written (if anything) is in the message."""

    exit_code = 130


@dataclass
class BestEpoch:
    """The best monitored value so far, across both phases, and where it was reached."""

    path: Path
    monitor: str
    value: float = math.inf
    where: str | None = None  # "head epoch 3"

    def describe(self) -> str:
        return f"{self.where}, {self.monitor} {self.value:.4f}"


@dataclass(frozen=True)
class TrainResult:
    bundle: Path
    metrics: Metrics
    history: dict[str, list[float]]
    train_examples: int
    validation_examples: int
    unreadable: int
    seconds: float


def gather_examples(config: Config, data: str | None, segments: str | None) -> tuple[list, list, tuple[str, ...]]:
    """(train, validation, classes) from the folder and/or segments, split as configured."""
    settings = config.train
    if not data and not segments:
        raise ConfigError("train: no data; pass --data FOLDER (one sub-folder per class) and/or --segments FILE.csv")
    examples = (gather.from_folder(data) if data else []) + (
        gather.from_segments(segments, settings.sample_fps) if segments else []
    )
    if settings.validation_data:
        train, validation = examples, gather.from_folder(settings.validation_data)
    else:
        train, validation = gather.split(examples, settings.validation_fraction, settings.seed)
    return train, validation, gather.check_classes(train, validation)


def train(config: Config, data: str | None, segments: str | None, output: str | Path) -> TrainResult:
    """Train, save the bundle at ``output`` with its training report, and return the result."""
    from streamcls.model.bundle import save_bundle
    from streamcls.model.load import load_model
    from streamcls.model.runtime import import_keras

    started = time.monotonic()
    keras = import_keras()
    settings = config.train
    train_examples, validation_examples, classes = gather_examples(config, data, segments)
    model_config = replace(
        config.model,
        bundle=None,
        freeze_backbone=True,
        head=replace(config.model.head, kind="dense", classes=classes)
        if config.model.head.kind == "dense"
        else HeadConfig(kind="dense", classes=classes),
    )
    loaded = load_model(model_config)
    spec = PreprocessSpec(loaded.spec.input_size, loaded.spec.preprocess)
    train_inputs, train_labels, unreadable = load_arrays(train_examples, classes, spec, "training")
    validation = None
    if validation_examples:
        validation_inputs, validation_labels, more = load_arrays(validation_examples, classes, spec, "validation")
        unreadable += more
        validation = dataset(validation_inputs, validation_labels, settings.batch_size, None, settings.seed)
    missing = [name for index, name in enumerate(classes) if not (train_labels == index).any()]
    if missing:
        raise ConfigError(f"no readable training examples for {', '.join(missing)}; add pictures to those classes")
    keras.utils.set_random_seed(settings.seed)
    # Same seed, same data: the same model, run after run (multi-threaded kernels would
    # otherwise sum in varying order, and a small from-scratch run can land anywhere).
    from streamcls.model.runtime import import_tensorflow

    import_tensorflow().config.experimental.enable_op_determinism()
    training = dataset(train_inputs, train_labels, settings.batch_size, settings.augment, settings.seed)
    weights = _class_weights(train_labels, len(classes)) if settings.class_weights else None
    model = loaded.model
    history: dict[str, list[float]] = {}
    output = Path(output)
    best = BestEpoch(
        output.parent / f".{output.name}.best.weights.h5", "val_loss" if validation is not None else "loss"
    )
    logger.info(
        "training %d classes on %d examples (%d for validation) at %s",
        len(classes),
        len(train_labels),
        len(validation_examples),
        loaded.spec.input_size,
    )
    best.path.unlink(missing_ok=True)  # left by a run killed outright (SIGKILL, power): not this run's
    random_backbone = config.model.weights == "none"
    fine_tuned = False

    def settle_batch_norm() -> None:
        if random_backbone and fine_tuned:
            # Trained from scratch for a few epochs, batch norm's moving averages still lag
            # (momentum 0.99): re-estimate them on the training pictures for inference.
            reestimate_batch_norm(keras, model.get_layer("backbone"), train_inputs)

    try:
        _fit(
            keras,
            model,
            training,
            validation,
            settings.epochs,
            settings.learning_rate,
            weights,
            settings.patience,
            history,
            "head",
            best,
        )
        if settings.fine_tune_blocks and settings.fine_tune_epochs:
            _unfreeze_top_blocks(model.get_layer("backbone"), settings.fine_tune_blocks, random_backbone)
            fine_tuned = True
            _fit(
                keras,
                model,
                training,
                validation,
                settings.fine_tune_epochs,
                settings.fine_tune_learning_rate,
                weights,
                settings.patience,
                history,
                "fine-tune",
                best,
            )
    except KeyboardInterrupt:
        _save_interrupted(model, loaded.spec, output, best, history, (data, segments), settle_batch_norm)
    if best.path.is_file():
        model.load_weights(best.path)  # the best epoch of either phase, not the last one
        logger.info("keeping the best epoch: %s", best.describe())
    settle_batch_norm()
    inputs, labels = (validation_inputs, validation_labels) if validation is not None else (train_inputs, train_labels)
    predicted = np.asarray(model.predict(inputs, batch_size=64, verbose=0)).argmax(axis=1)
    metrics = measure(classes, labels, predicted)
    metadata = {
        "trained": {
            "data": data,
            "segments": segments,
            "train_examples": int(len(train_labels)),
            "validation_examples": int(len(validation_examples)),
            "validation_accuracy": metrics.accuracy,
            "epochs_run": len(history.get("loss", [])),
            "best_epoch": best.where,
        }
    }
    bundle = save_bundle(model, loaded.spec, output, metadata)
    from streamcls.train.metrics import write_metrics

    (bundle / "training").mkdir(exist_ok=True)
    write_metrics(bundle / "training", metrics, history)
    best.path.unlink(missing_ok=True)
    return TrainResult(
        bundle, metrics, history, len(train_labels), len(validation_examples), unreadable, time.monotonic() - started
    )


def _fit(
    keras: Any,
    model: Any,
    training: Any,
    validation: Any,
    epochs: int,
    learning_rate: float,
    class_weights: dict[int, float] | None,
    patience: int,
    history: dict[str, list[float]],
    phase: str,
    best: BestEpoch,
) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    stopper = keras.callbacks.EarlyStopping(monitor=best.monitor, patience=patience, restore_best_weights=True)
    # The epoch lines record history as they go: an interrupted phase keeps its epochs.
    callbacks = [stopper, EpochLine(keras, phase, epochs, history), BestCheckpoint(keras, phase, best)]
    model.fit(
        training,
        validation_data=validation,
        epochs=epochs,
        class_weight=class_weights,
        callbacks=callbacks,
        shuffle=False,  # the dataset shuffles itself (train.load); Keras warns when told to on a tf.data input
        verbose=1 if sys.stderr.isatty() else 0,
    )


def BestCheckpoint(keras: Any, phase: str, best: BestEpoch) -> Any:  # noqa: N802 - a callback factory
    """Writes the weights whenever the monitored value improves on the best of any phase.

    Written beside the final file and renamed over it, so a signal mid-write never
    leaves a damaged checkpoint.
    """

    class Checkpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            value = (logs or {}).get(best.monitor)
            if value is None or not float(value) < best.value:
                return
            staging = best.path.with_name(best.path.name.replace(".best.", ".writing."))
            self.model.save_weights(staging)
            os.replace(staging, best.path)
            best.value, best.where = float(value), f"{phase} epoch {epoch + 1}"

    return Checkpoint()


def _save_interrupted(
    model: Any,
    spec: Any,
    output: Path,
    best: BestEpoch,
    history: dict[str, list[float]],
    sources: tuple[str | None, str | None],
    settle: Any,
) -> None:
    """Write the best epoch so far as the bundle, then raise ``TrainingInterrupted``."""
    from streamcls.model.bundle import save_bundle
    from streamcls.train.metrics import plot_history

    if not best.path.is_file():
        raise TrainingInterrupted("training interrupted before its first epoch ended; nothing was written") from None
    model.load_weights(best.path)
    settle()
    data, segments = sources
    metadata = {
        "trained": {
            "data": data,
            "segments": segments,
            "interrupted": True,
            "best_epoch": best.where,
            "epochs_run": len(history.get("loss", [])),
        }
    }
    bundle = save_bundle(model, spec, output, metadata)
    (bundle / "training").mkdir(exist_ok=True)
    (bundle / "training" / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    plot_history(bundle / "training", history)
    best.path.unlink(missing_ok=True)
    raise TrainingInterrupted(
        f"training interrupted; wrote bundle {bundle} from the best epoch so far ({best.describe()}); "
        f"run streamcls evaluate on it, or train again for the rest"
    ) from None


def EpochLine(keras: Any, phase: str, epochs: int, history: dict[str, list[float]]) -> Any:  # noqa: N802
    """A one-line summary per epoch, and the history (Keras is imported late, so the class is made here)."""

    class Line(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            for key, value in logs.items():
                if key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                    history.setdefault(key, []).append(float(value))
            parts = [
                f"{phase} epoch {epoch + 1}/{epochs}",
                f"loss {logs.get('loss', float('nan')):.4f}",
                f"accuracy {logs.get('accuracy', float('nan')):.1%}",
            ]
            if "val_loss" in logs:
                parts += [f"val_loss {logs['val_loss']:.4f}", f"val_accuracy {logs.get('val_accuracy', 0):.1%}"]
            logger.info("  ".join(parts))

    return Line()


def _class_weights(labels: np.ndarray, count: int) -> dict[int, float]:
    """Inverse frequency, normalised so a balanced set gets 1.0 everywhere."""
    counts = np.bincount(labels, minlength=count).astype(np.float64)
    return {index: float(len(labels) / (count * counts[index])) if counts[index] else 0.0 for index in range(count)}


def _unfreeze_top_blocks(backbone: Any, blocks: int, train_batch_norm: bool) -> None:
    """Make the top ``blocks`` depthwise blocks trainable (13: the whole backbone, stem included).

    Batch norm stays frozen over pretrained weights (its statistics are ImageNet's and a
    small batch would wreck them); over a random backbone it has to learn too.
    """
    backbone.trainable = True
    first = BLOCKS - blocks + 1
    for layer in backbone.layers:
        number = _block_number(layer.name)
        in_top = number >= first if number is not None else blocks == BLOCKS
        is_norm = type(layer).__name__ == "BatchNormalization"
        layer.trainable = in_top and (train_batch_norm or not is_norm)
        if is_norm and layer.trainable:
            # From scratch, 0.99 makes the moving statistics (what validation and inference
            # use) trail the weights by ~100 steps: validation loss looks flat and early
            # stopping ends a run that is learning.
            layer.momentum = 0.9


def _block_number(name: str) -> int | None:
    for prefix in ("conv_dw_", "conv_pw_", "conv_pad_"):
        if name.startswith(prefix):
            digits = name[len(prefix) :].split("_")[0]
            return int(digits) if digits.isdigit() else None
    return None


def reestimate_batch_norm(keras: Any, backbone: Any, inputs: np.ndarray, limit: int = 512) -> None:
    """Set each batch norm's moving mean and variance to those of ``inputs``, layer by layer."""
    sample = inputs[:limit]
    for layer in backbone.layers:
        if type(layer).__name__ != "BatchNormalization":
            continue
        probe = keras.Model(backbone.input, layer.input)
        activations = np.concatenate(
            [np.asarray(probe(sample[start : start + 64], training=False)) for start in range(0, len(sample), 64)]
        )
        gamma, beta, _, _ = layer.get_weights()
        layer.set_weights([gamma, beta, activations.mean(axis=(0, 1, 2)), activations.var(axis=(0, 1, 2))])
