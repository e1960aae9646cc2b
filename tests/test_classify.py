"""The compiled classifier: equal to model.predict, order kept, never retraced."""

from __future__ import annotations

import numpy as np
import pytest
from weightfiles import calibrate_batch_norm

from streamcls.config import HeadConfig, InputSize, ModelConfig
from streamcls.errors import DeviceError, ModelError
from streamcls.model.backends.keras import Classifier, bucket_sizes
from streamcls.model.load import load_model


@pytest.fixture(scope="module")
def loaded():
    config = ModelConfig(alpha=0.25, input_size=InputSize(64, 96), weights="none",
                         head=HeadConfig(kind="dense", classes=tuple("abcde")))
    loaded = load_model(config)
    # A random backbone's features vanish (~1e-17): every row would be the same and a
    # shuffle could not show. Batch-norm statistics from pictures make outputs input-dependent.
    images = np.random.default_rng(9).uniform(-1, 1, (16, 64, 96, 3)).astype("float32")
    calibrate_batch_norm(loaded.model.get_layer("backbone"), images)
    return loaded


@pytest.mark.parametrize("batch_size, expected", [(1, (1,)), (4, (1, 2, 4)), (8, (1, 2, 4, 8)), (6, (1, 2, 4, 6))])
def test_bucket_sizes(batch_size, expected):
    assert bucket_sizes(batch_size) == expected


@pytest.mark.parametrize("count", [1, 3, 4, 5, 11])
def test_equals_model_predict_in_order(loaded, count):
    classifier = Classifier.from_loaded(loaded, batch_size=4, device="cpu")
    images = np.random.default_rng(count).uniform(-1, 1, (count, 64, 96, 3)).astype("float32")
    expected = loaded.model.predict(images, verbose=0)
    actual = classifier.classify(images)
    assert actual.shape == (count, 5) and actual.dtype == np.float32
    # Row by row against predict on distinct inputs: a shuffled or dropped row fails here.
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    if count > 1:
        assert np.abs(actual[0] - actual[-1]).max() > 1e-3


def test_short_batches_never_retrace(loaded):
    classifier = Classifier.from_loaded(loaded, batch_size=8, device="cpu")
    classifier.warm_up()
    traces = {size: function.graph for size, function in classifier._functions.items()}
    for count in (1, 2, 3, 5, 7, 8, 9, 13, 16):
        classifier.classify(np.zeros((count, 64, 96, 3), np.float32))
    assert sorted(traces) == [1, 2, 4, 8]
    assert {size: f.graph for size, f in classifier._functions.items()} == traces
    assert classifier._traced.experimental_get_tracing_count() == 4


def test_classify_frames_uses_the_model_preprocessing(loaded):
    from streamcls.preprocess import preprocess_batch

    classifier = Classifier.from_loaded(loaded, batch_size=2, device="cpu")
    frames = [np.random.default_rng(i).integers(0, 256, (480, 640, 3), dtype=np.uint8) for i in range(3)]
    expected = classifier.classify(preprocess_batch(frames, classifier.preprocess_spec))
    np.testing.assert_array_equal(classifier.classify_frames(frames), expected)


def test_empty_batch(loaded):
    classifier = Classifier.from_loaded(loaded, batch_size=2, device="cpu")
    assert classifier.classify(np.zeros((0, 64, 96, 3), np.float32)).shape == (0, 5)


def test_wrong_shape_is_refused(loaded):
    classifier = Classifier.from_loaded(loaded, batch_size=2, device="cpu")
    with pytest.raises(ModelError, match=r"received a batch of shape \(1, 96, 64, 3\); expected \(n, 64, 96, 3\)"):
        classifier.classify(np.zeros((1, 96, 64, 3), np.float32))


def test_gpu_request_without_gpu_is_a_clear_error(loaded):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    with pytest.raises(DeviceError, match="device 'gpu' was requested but TensorFlow sees no GPU"):
        Classifier.from_loaded(loaded, device="gpu")
    assert Classifier.from_loaded(loaded, device="auto").device == "/CPU:0"
