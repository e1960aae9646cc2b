"""Pure drawing: (frame image, prediction, fps) -> annotated image. No I/O.

Text is white on a translucent dark panel, so it reads on bright and dark
video alike, and its size follows the frame height (720p gets scale 1).
"""

from __future__ import annotations

import unicodedata

import cv2
import numpy as np

from streamcls.frames import Prediction

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def render(image: np.ndarray, prediction: Prediction, fps: float | None, title: str | None = None) -> np.ndarray:
    """Draw labels, scores, smoothed label, FPS and latency on a copy of ``image``.

    ``title`` (the source id, in a multi-source run) heads the panel, so a tile or a
    per-source video says which camera it is; a picture of an image folder is named
    below it (``prediction.name``, shortened from the left to fit the frame).
    """
    canvas = image.copy()
    height = canvas.shape[0]
    scale = max(0.35, height / 720 * 0.8)
    thickness = max(1, round(scale * 2))
    lines = [f"{label} {score:.0%}" for label, score in prediction.top_k]
    lines[0] = f"{prediction.label} {prediction.score:.0%}"  # "unknown" below the threshold
    if prediction.smoothed_label is not None:
        # The steady label leads (it is what the segments record); this frame's own
        # top-k follows, so a flicker is still visible without taking over the display.
        lines = [f"{prediction.smoothed_label} {prediction.smoothed_score:.0%}"] + [f"frame: {lines[0]}"] + lines[1:]
    status = f"{fps:.1f} fps  " if fps else ""
    lines.append(f"{status}{prediction.latency_ms:.0f} ms")
    heading = [title] if title else []
    widest = max(cv2.getTextSize(line, _FONT, scale, thickness)[0][0] for line in heading + lines)
    margin = int(8 * scale) + 2
    if widest + 2 * margin > canvas.shape[1]:  # long labels on a small frame: shrink to fit
        shrink = max(0.4, (canvas.shape[1] - 2 * margin) / widest)
        scale, thickness = scale * shrink, max(1, round(scale * shrink * 2))
        widest = max(cv2.getTextSize(line, _FONT, scale, thickness)[0][0] for line in heading + lines)
        margin = int(8 * scale) + 2
    if prediction.name:  # fitted to the labels' scale, never shrinking them
        name = _fit(_drawable(prediction.name), canvas.shape[1] - 2 * margin, scale, thickness)
        widest = max(widest, cv2.getTextSize(name, _FONT, scale, thickness)[0][0])
        heading.append(name)
    lines = heading + lines
    line_height = int(30 * scale) + 4
    panel_width = min(canvas.shape[1], widest + 2 * margin)
    panel_height = min(height, line_height * len(lines) + margin)
    region = canvas[:panel_height, :panel_width]
    # Darken rather than paint over: the picture still shows through the panel. At 30 %
    # even a white frame leaves a panel the text beats by WCAG's 4.5:1 contrast.
    region[:] = (region.astype(np.uint16) * 3 // 10).astype(np.uint8)
    headline = len(heading)
    for number, line in enumerate(lines):
        baseline = margin + line_height * (number + 1) - int(8 * scale)
        color = (80, 255, 80) if number == headline else (255, 255, 255)
        cv2.putText(canvas, line, (margin, baseline), _FONT, scale, color, thickness, cv2.LINE_AA)
    return canvas


def _drawable(text: str) -> str:
    """``text`` in the ASCII OpenCV's fonts draw: accents dropped (é -> e), other characters '?'."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(character for character in decomposed if not unicodedata.combining(character))
    return plain.encode("ascii", "replace").decode("ascii")


def _fit(text: str, width: int, scale: float, thickness: int) -> str:
    """``text``, its start replaced by ``...`` until it is at most ``width`` pixels wide (the end names the file)."""
    if cv2.getTextSize(text, _FONT, scale, thickness)[0][0] <= width:
        return text
    for start in range(1, len(text)):
        shortened = "..." + text[start:]
        if cv2.getTextSize(shortened, _FONT, scale, thickness)[0][0] <= width:
            return shortened
    return "..." + text[-1:]
