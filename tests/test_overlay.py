"""The overlay reads on bright and dark video, scales with the frame, and touches only its panel."""

from __future__ import annotations

import cv2
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


def darkened(frame: np.ndarray) -> np.ndarray:
    """The frame as the panel shows it: darkened to 30 %, not painted over."""
    return (frame.astype(np.uint16) * 3 // 10).astype(np.uint8)


def text_lines(original: np.ndarray, drawn: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) of each line of text: the runs of panel rows with glyph pixels.

    A glyph pixel is one of the panel that is not the frame darkened; the panel is what changed.
    """
    height, width = panel_box(original, drawn)
    ink = np.any(drawn[:height, :width] != darkened(original)[:height, :width], axis=2)
    lines, top = [], None
    for row, inked in enumerate([*ink.any(axis=1), False]):
        if inked and top is None:
            top = row
        elif not inked and top is not None:
            columns = np.flatnonzero(ink[top:row].any(axis=0))
            lines.append((top, row, int(columns[0]), int(columns[-1]) + 1))
            top = None
    return lines


def assert_lines_read(original: np.ndarray, drawn: np.ndarray, texts: list[str]) -> list[tuple[int, int, int, int]]:
    """One line of glyphs per text, top to bottom, each as wide as that text is in the overlay's font.

    Widths are compared relative to one another (the scale follows the frame height), so a
    line with other text, a missing part ("29.7 fps") or a missing line fails.
    """
    lines = text_lines(original, drawn)
    assert len(lines) == len(texts), f"{len(lines)} lines of text drawn, expected {texts}"
    per_unit = [(right - left) / cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)[0][0]
                for (_, _, left, right), text in zip(lines, texts)]
    typical = float(np.median(per_unit))
    for text, value in zip(texts, per_unit):
        assert value == pytest.approx(typical, rel=0.06), \
            f"the line that should read {text!r} is {value / typical:.0%} as wide as that text"
    return lines


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
    # Every line, the coloured headline included, not only the brightest one.
    lines = text_lines(frame, drawn)
    assert len(lines) == 5
    for number, (top, bottom, left, right) in enumerate(lines):
        strokes = luminance(drawn[top:bottom, left:right]).max()
        contrast = (strokes + 0.05) / (background + 0.05)
        assert contrast >= 4.5, f"line {number} on a {value} frame has contrast {contrast:.1f}:1"


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


def test_every_line_carries_its_text():
    """The steady label leads, then this frame's top-k, then fps and latency; a title heads them all."""
    frame = np.full((720, 1280, 3), 128, np.uint8)
    lines = ["tabby cat 78%", "frame: tabby cat 81%", "tiger cat 12%", "lynx 3%", "29.7 fps  42 ms"]
    assert_lines_read(frame, render(frame, PREDICTION, fps=29.7), lines)
    assert_lines_read(frame, render(frame, PREDICTION, fps=29.7, title="front door"), ["front door", *lines])
    unsmoothed = Prediction("cam", 0, None, (("tabby cat", 0.81), ("tiger cat", 0.12)), "unknown", 0.81,
                            None, None, 7.4)
    assert_lines_read(frame, render(frame, unsmoothed, fps=None), ["unknown 81%", "tiger cat 12%", "7 ms"])


def test_fps_appears_only_when_given():
    frame = np.full((720, 1280, 3), 128, np.uint8)
    with_fps, without = render(frame, PREDICTION, fps=29.7), render(frame, PREDICTION, fps=None)
    lines = ["tabby cat 78%", "frame: tabby cat 81%", "tiger cat 12%", "lynx 3%"]
    top, bottom, left, right = assert_lines_read(frame, with_fps, [*lines, "29.7 fps  42 ms"])[-1]
    plain_top, plain_bottom, plain_left, plain_right = assert_lines_read(frame, without, [*lines, "42 ms"])[-1]
    assert top <= plain_top and plain_bottom <= bottom and abs(left - plain_left) <= 2  # the same line
    assert plain_right - plain_left < (right - left) / 2
    # Only the last line differs: the lines above it are the same pixels.
    np.testing.assert_array_equal(with_fps[:top], without[:top])


def test_different_labels_draw_different_text():
    frame = np.full((240, 320, 3), 90, np.uint8)
    other = Prediction("cam", 0, None, (("lynx", 0.9),), "lynx", 0.9, None, None, 42.0)
    drawn, other_drawn = render(frame, PREDICTION, 10.0), render(frame, other, 10.0)
    assert not np.array_equal(drawn, other_drawn)
    assert_lines_read(frame, drawn, ["tabby cat 78%", "frame: tabby cat 81%", "tiger cat 12%", "lynx 3%",
                                     "10.0 fps  42 ms"])
    (label_top, label_bottom, _, _), (latency_top, _, _, _) = assert_lines_read(frame, other_drawn,
                                                                                 ["lynx 90%", "10.0 fps  42 ms"])
    tiger = Prediction("cam", 0, None, (("tiger cat", 0.9),), "tiger cat", 0.9, None, None, 42.0)
    tiger_drawn = render(frame, tiger, 10.0)
    (tiger_top, tiger_bottom, _, _), _ = assert_lines_read(frame, tiger_drawn, ["tiger cat 90%", "10.0 fps  42 ms"])
    # Another label changes the label's line, where its glyphs are drawn, and nothing else:
    # the latency line is the same pixels, and the panel around the text is the frame darkened.
    height, width = panel_box(frame, other_drawn)
    changed = np.argwhere(np.any(other_drawn != tiger_drawn, axis=2))
    assert changed.size, "two labels drew the same pixels"
    assert min(label_top, tiger_top) <= changed[:, 0].min() and changed[:, 0].max() < max(label_bottom, tiger_bottom)
    np.testing.assert_array_equal(other_drawn[latency_top:height, :width], tiger_drawn[latency_top:height, :width])
    glyphs = np.any(other_drawn[:height, :width] != darkened(frame)[:height, :width], axis=2)
    assert glyphs[label_top:label_bottom].any() and not glyphs[:label_top].any()
    assert not glyphs[label_bottom:latency_top].any()
    np.testing.assert_array_equal(other_drawn[:height, width:], frame[:height, width:])
    np.testing.assert_array_equal(other_drawn[height:], frame[height:])
