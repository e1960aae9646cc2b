"""BGR uint8 frame -> MobileNet input. One function for training, offline and live runs.

The contract: frames arrive as OpenCV gives them (BGR, uint8, HxWx3; grey HxW
and BGRA HxWx4 are accepted too). They are resized to the model's input size by
``resize_mode`` with ``interpolation``, turned to RGB, and scaled to [-1, 1]
exactly as ``keras.applications.mobilenet.preprocess_input`` does
(``x / 127.5 - 1``), so the result matches the plain Keras recipe bit for bit.

Colour conversion happens after the resize: on a 720p frame going to 160x160
that touches 25k pixels instead of 920k.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from streamcls.config import InputSize, PreprocessConfig
from streamcls.errors import FrameError

_INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "cubic": cv2.INTER_CUBIC,
}


@dataclass(frozen=True)
class PreprocessSpec:
    """Everything preprocessing needs: the target size and how to get there."""

    input_size: InputSize
    config: PreprocessConfig = PreprocessConfig()


def preprocess(image: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Turn one OpenCV frame into a float32 (height, width, 3) array in [-1, 1].

    Raises:
        FrameError: the image is not uint8 with 1, 3 or 4 channels.
    """
    output = np.empty(spec.input_size.shape, dtype=np.float32)
    preprocess_into(image, spec, output)
    return output


def preprocess_batch(images: list[np.ndarray], spec: PreprocessSpec) -> np.ndarray:
    """Preprocess several frames into one (n, height, width, 3) float32 batch."""
    batch = np.empty((len(images), *spec.input_size.shape), dtype=np.float32)
    for image, slot in zip(images, batch):
        preprocess_into(image, spec, slot)
    return batch


def preprocess_into(image: np.ndarray, spec: PreprocessSpec, output: np.ndarray) -> None:
    """Like :func:`preprocess`, writing into ``output`` (a slot of a batch array)."""
    bgr = _as_bgr(image)
    height, width = spec.input_size.height, spec.input_size.width
    interpolation = _INTERPOLATIONS[spec.config.interpolation]
    mode = spec.config.resize_mode
    if mode == "center_crop":
        bgr = _center_crop(bgr, height / width)
    if mode == "letterbox":
        scale = min(height / bgr.shape[0], width / bgr.shape[1])
        inner_height = max(1, round(bgr.shape[0] * scale))
        inner_width = max(1, round(bgr.shape[1] * scale))
        top, left = (height - inner_height) // 2, (width - inner_width) // 2
        output.fill(0.0)  # 0 is mid grey after scaling: neutral for the network
        target = output[top : top + inner_height, left : left + inner_width]
        _resize_scaled(bgr, (inner_width, inner_height), interpolation, target)
    else:
        _resize_scaled(bgr, (width, height), interpolation, output)


def _resize_scaled(bgr: np.ndarray, size: tuple[int, int], interpolation: int, output: np.ndarray) -> None:
    if (bgr.shape[1], bgr.shape[0]) != size:
        bgr = cv2.resize(bgr, size, interpolation=interpolation)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    # Same arithmetic, in the same order, as keras' mobilenet.preprocess_input.
    np.divide(rgb, np.float32(127.5), out=output, dtype=np.float32)
    output -= np.float32(1.0)


def _center_crop(image: np.ndarray, aspect: float) -> np.ndarray:
    """The largest centred region of ``image`` whose height/width is ``aspect``."""
    image_height, image_width = image.shape[:2]
    if image_height / image_width > aspect:
        crop_height = max(1, round(image_width * aspect))
        top = (image_height - crop_height) // 2
        return image[top : top + crop_height]
    crop_width = max(1, round(image_height / aspect))
    left = (image_width - crop_width) // 2
    return image[:, left : left + crop_width]


def _as_bgr(image: object) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise FrameError(
            f"received a {type(image).__name__} as a frame; expected a numpy uint8 image "
            f"as cv2.imread or cv2.VideoCapture.read give"
        )
    if image.dtype != np.uint8:
        raise FrameError(
            f"received a frame of dtype {image.dtype}; expected uint8 (0-255) BGR; "
            f"convert with image.astype(np.uint8) after scaling to 0-255"
        )
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    raise FrameError(
        f"received a frame of shape {image.shape}; expected (height, width, 3) BGR, "
        f"(height, width) grey or (height, width, 4) BGRA"
    )
