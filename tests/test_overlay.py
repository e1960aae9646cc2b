"""The overlay reads on bright and dark video, scales with the frame, and touches only its panel."""

from __future__ import annotations

import numpy as np
import pytest

from streamcls.frames import Prediction
from streamcls.outputs.overlay import render

PREDICTION = Prediction("cam", 0, None, (("tabby cat", 0.81), ("tiger cat", 0.12), ("lynx", 0.03)),
                        "tabby cat", 0.81, "tabby cat", 0.78, 42.0)


def luminance(bgr: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of sRGB pixels."""
    channels = bgr[..., ::-1].astype(np.float64) / 255
    linear = np.where(channels <= 0.03928, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    return linear @ np.array([0.2126, 0.7152, 0.0722])


def panel_box(original: np.ndarray, drawn: np.ndarray) -> tuple[int, int]:
    changed = np.argwhere(np.any(original != drawn, axis=2))
    return int(changed[:, 0].max()) + 1, int(changed[:, 1].max()) + 1


@pytest.mark.parametrize("value", [0, 128, 255])
def test_text_contrast_meets_wcag_on_any_background(value):
    frame = np.full((720, 1280, 3), value, np.uint8)
    drawn = render(frame, PREDICTION, fps=29.7)
    height, width = panel_box(frame, drawn)
    panel = drawn[:height, :width]
    background = luminance(np.median(panel.reshape(-1, 3), axis=0))
    text = luminance(panel).max()  # the brightest strokes: the glyphs
    contrast = (text + 0.05) / (background + 0.05)
    assert contrast >= 4.5, f"text on a {value} frame has contrast {contrast:.1f}:1"
    glyph_pixels = (luminance(panel) > background + 0.3).sum()
    assert glyph_pixels > 500  # several lines of text were drawn, not an empty panel


def test_only_the_panel_changes_and_the_input_is_untouched():
    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    before = frame.copy()
    drawn = render(frame, PREDICTION, fps=10.0)
    np.testing.assert_array_equal(frame, before)
    height, width = panel_box(frame, drawn)
    assert height < 480 // 2 and width < 640
    np.testing.assert_array_equal(drawn[height:], frame[height:])
    np.testing.assert_array_equal(drawn[:, width:], frame[:, width:])


def test_panel_scales_with_the_frame_and_fits_small_frames():
    heights = {}
    for rows, columns in ((360, 640), (720, 1280), (1080, 1920)):
        frame = np.zeros((rows, columns, 3), np.uint8)
        heights[rows] = panel_box(frame, render(frame, PREDICTION, fps=30.0))[0]
    assert heights[360] < heights[720] < heights[1080]
    assert heights[1080] / heights[720] == pytest.approx(1.5, rel=0.15)
    long_label = Prediction("cam", 0, None, (("a very long label " * 4, 0.9),), "a very long label " * 4,
                            0.9, None, None, 5.0)
    small = np.full((120, 160, 3), 200, np.uint8)
    drawn = render(small, long_label, fps=None)
    # The text shrank to fit: the rightmost column still shows the frame's own pixels.
    assert drawn.shape == small.shape and (drawn[:, -1] == 200).all()


def test_different_labels_draw_different_text():
    frame = np.zeros((240, 320, 3), np.uint8)
    other = Prediction("cam", 0, None, (("lynx", 0.9),), "lynx", 0.9, None, None, 42.0)
    assert not np.array_equal(render(frame, PREDICTION, 10.0), render(frame, other, 10.0))
