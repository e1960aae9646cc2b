"""Weight files made by the tests themselves, in the layouts Keras publishes.

``keras.applications`` publishes MobileNet weights as Keras 2 HDF5 files
(``mobilenet_1_0_224_tf_no_top.h5``); Keras 3 still ships the writer for that
layout, which is what these helpers use, so the files are the real format.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def keras_mobilenet(alpha: float, size: int | tuple[int, int], include_top: bool, seed: int = 7):
    """A plain ``keras.applications.MobileNet`` with random but non-trivial weights."""
    import keras

    height, width = (size, size) if isinstance(size, int) else size
    keras.utils.set_random_seed(seed)
    model = keras.applications.MobileNet(
        input_shape=(height, width, 3),
        alpha=alpha,
        include_top=include_top,
        weights=None,
        pooling=None if include_top else "avg",
    )
    # Batch-norm statistics start at 0/1; make them distinct so a mix-up would show.
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights(
                [
                    gamma * rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                    beta + rng.normal(0, 0.1, beta.shape).astype("float32"),
                    rng.normal(0, 0.1, mean.shape).astype("float32"),
                    rng.uniform(0.5, 1.5, variance.shape).astype("float32"),
                ]
            )
    return model


def save_legacy_h5(model, path: Path) -> Path:
    """Write ``model``'s weights in the Keras 2 layout (as ``model.save_weights`` did in Keras 2)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)
    return path


def published_name(alpha: float, size: int, include_top: bool) -> str:
    text = {0.25: "2_5", 0.5: "5_0", 0.75: "7_5", 1.0: "1_0"}[alpha]
    return f"mobilenet_{text}_{size}_tf{'' if include_top else '_no_top'}.h5"


def weights_by_layer(model) -> dict[str, list[np.ndarray]]:
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


def assert_layers_equal(source, target) -> int:
    """Every weighted layer of ``source`` equals the same-named layer of ``target``, exactly."""
    compared = 0
    target_layers = {layer.name: layer for layer in target.layers}
    for name, arrays in weights_by_layer(source).items():
        if name not in target_layers:
            continue
        for expected, actual in zip(arrays, target_layers[name].get_weights(), strict=True):
            np.testing.assert_array_equal(actual, expected, err_msg=name)
        compared += 1
    return compared


def calibrate_batch_norm(backbone, images: np.ndarray) -> None:
    """Set every batch norm's moving statistics to those of ``images``, layer by layer.

    A toy network trained for a few dozen steps has moving averages still
    dominated by their 0/1 start (momentum 0.99); taking the statistics from
    the training pictures themselves gives the network that inference mode
    would see after a long training, in one pass.
    """
    import keras

    for layer in backbone.layers:
        if type(layer).__name__ != "BatchNormalization":
            continue
        probe = keras.Model(backbone.input, layer.input)
        activations = np.asarray(probe(images, training=False))
        gamma, beta, _, _ = layer.get_weights()
        mean = activations.mean(axis=(0, 1, 2))
        variance = activations.var(axis=(0, 1, 2))
        layer.set_weights([gamma, beta, mean, variance])
