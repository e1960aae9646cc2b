"""A small classifier that has really learned the toy set, saved as a bundle (for tests that need one)."""

from __future__ import annotations

from pathlib import Path

from toyset import CLASSES, toy_images
from weightfiles import calibrate_batch_norm

from streamcls.config import HeadConfig, InputSize, ModelConfig, PreprocessConfig
from streamcls.model.bundle import save_bundle
from streamcls.model.load import LoadedModel, load_model
from streamcls.preprocess import PreprocessSpec, preprocess_batch


def fresh(height: int = 96, width: int = 96, **changes) -> LoadedModel:
    config = ModelConfig(
        alpha=0.25,
        input_size=InputSize(height, width),
        weights="none",
        head=HeadConfig(kind="dense", classes=CLASSES),
        preprocess=PreprocessConfig(interpolation="area", resize_mode="center_crop"),
        **changes,
    )
    return load_model(config)


def train_toy_bundle(folder: Path) -> tuple[LoadedModel, Path]:
    """A classifier trained on the toy set at 96x96, saved as a bundle.

    No pretrained backbone can be had offline, and a random frozen one gives
    features too weak for a head, so the whole toy network is trained.
    """
    import keras
    import tensorflow as tf

    # The same model every session: the tests that use it compare accuracies against
    # fixed bars, and multi-threaded kernels otherwise sum in a varying order.
    keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()
    loaded = fresh(freeze_backbone=False)
    images, labels = toy_images(150, seed=0)
    inputs = preprocess_batch(images, PreprocessSpec(loaded.spec.input_size, loaded.spec.preprocess))
    loaded.model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
    loaded.model.fit(inputs, labels, epochs=15, batch_size=16, verbose=0)
    calibrate_batch_norm(loaded.model.get_layer("backbone"), inputs)
    path = save_bundle(loaded.model, loaded.spec, folder / "toy", {"note": "toy"})
    return loaded, path
