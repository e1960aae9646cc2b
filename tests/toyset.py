"""A small learnable picture set: coloured shapes on noisy backgrounds, in BGR uint8."""

from __future__ import annotations

import cv2
import numpy as np

CLASSES = ("red_disc", "green_square", "blue_bar")


def toy_images(count: int, seed: int, height: int = 120, width: int = 160):
    """``count`` frames (BGR uint8) and their class indices, deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for index in range(count):
        label = index % len(CLASSES)
        image = rng.integers(40, 200, (height, width, 3), dtype=np.uint8)
        image = cv2.GaussianBlur(image, (0, 0), 3)
        size = int(rng.integers(min(height, width) // 4, min(height, width) // 2))
        x = int(rng.integers(size, width - size))
        y = int(rng.integers(size, height - size))
        if label == 0:
            cv2.circle(image, (x, y), size, (30, 30, 230), -1)
        elif label == 1:
            cv2.rectangle(image, (x - size, y - size), (x + size, y + size), (30, 220, 30), -1)
        else:
            cv2.rectangle(image, (x - size // 3, 0), (x + size // 3, height), (230, 40, 30), -1)
        images.append(image)
        labels.append(label)
    return images, np.array(labels)
