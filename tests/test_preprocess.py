"""Preprocessing: the BGR uint8 -> [-1, 1] RGB contract, resize modes, refusals."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from streamcls.config import InputSize, PreprocessConfig
from streamcls.errors import FrameError
from streamcls.preprocess import PreprocessSpec, preprocess, preprocess_batch


def spec(height, width, **options):
    return PreprocessSpec(InputSize(height, width), PreprocessConfig(**options))


def test_matches_the_plain_keras_recipe_exactly():
    from keras.applications.mobilenet import preprocess_input

    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
    # The classic tutorial: resize, BGR -> RGB, mobilenet.preprocess_input.
    expected = preprocess_input(
        cv2.cvtColor(cv2.resize(frame, (320, 240)), cv2.COLOR_BGR2RGB).astype("float32")
    )
    actual = preprocess(frame, spec(240, 320))
    assert actual.dtype == np.float32 and actual.shape == (240, 320, 3)
    np.testing.assert_array_equal(actual, expected)


def test_channels_become_rgb_and_scale_to_minus_one_one():
    blue_bgr = np.zeros((50, 80, 3), np.uint8)
    blue_bgr[..., 0] = 255
    result = preprocess(blue_bgr, spec(32, 48))
    np.testing.assert_array_equal(result[..., 2], 1.0)  # blue is last in RGB
    np.testing.assert_array_equal(result[..., 0], -1.0)
    np.testing.assert_array_equal(result[..., 1], -1.0)


def test_center_crop_keeps_the_middle():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[:, 50:150] = 255  # a white centre square between black side bands
    result = preprocess(frame, spec(40, 40, resize_mode="center_crop"))
    np.testing.assert_array_equal(result, 1.0)
    stretched = preprocess(frame, spec(40, 40, resize_mode="stretch"))
    assert stretched[:, 0].max() == -1.0  # stretching keeps the black bands


def test_letterbox_pads_with_neutral_grey():
    frame = np.full((100, 200, 3), 255, np.uint8)
    result = preprocess(frame, spec(64, 64, resize_mode="letterbox"))
    # 200x100 fits 64x32: 16 rows of padding above and below the picture.
    np.testing.assert_array_equal(result[:16], 0.0)
    np.testing.assert_array_equal(result[48:], 0.0)
    np.testing.assert_array_equal(result[16:48], 1.0)


@pytest.mark.parametrize("interpolation", ["nearest", "linear", "area", "cubic"])
def test_every_interpolation_gives_the_input_shape(interpolation):
    frame = np.random.default_rng(2).integers(0, 256, (72, 128, 3), dtype=np.uint8)
    result = preprocess(frame, spec(96, 128, interpolation=interpolation))
    assert result.shape == (96, 128, 3)
    assert -1.0 <= result.min() and result.max() <= 1.0


def test_grey_and_bgra_frames_are_accepted():
    grey = np.full((40, 40), 255, np.uint8)
    np.testing.assert_array_equal(preprocess(grey, spec(32, 32)), 1.0)
    bgra = np.zeros((40, 40, 4), np.uint8)
    bgra[..., 2] = 255  # red
    result = preprocess(bgra, spec(32, 32))
    np.testing.assert_array_equal(result[..., 0], 1.0)


def test_batch_keeps_order():
    frames = [np.full((20, 30, 3), value, np.uint8) for value in (0, 255, 51)]
    batch = preprocess_batch(frames, spec(32, 32))
    assert batch.shape == (3, 32, 32, 3)
    np.testing.assert_allclose(batch[:, 0, 0, 0], [-1.0, 1.0, 51 / 127.5 - 1], rtol=1e-6)


@pytest.mark.parametrize(
    "frame, message",
    [
        (np.zeros((10, 10, 3), np.float32), "dtype float32; expected uint8"),
        (np.zeros((10, 10, 2), np.uint8), r"shape \(10, 10, 2\); expected \(height, width, 3\)"),
        (np.zeros((10,), np.uint8), r"shape \(10,\)"),
        ([[0, 0, 0]], "received a list as a frame"),
    ],
)
def test_bad_frames_refused(frame, message):
    with pytest.raises(FrameError, match=message):
        preprocess(frame, spec(32, 32))
