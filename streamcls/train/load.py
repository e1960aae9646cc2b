"""Decode and preprocess examples once, with the same code inference uses; then a ``tf.data`` pipeline.

Decoding goes through OpenCV and ``streamcls.preprocess``, exactly as frames
do at inference, so training sees bit-identical inputs (TensorFlow's own JPEG
decoder and resize differ by a few grey levels). The decoded set is held in
memory as float32 at the input size: 10,000 pictures at 160x160 take 3 GB.
"""

from __future__ import annotations

import logging
import typing
from collections import defaultdict
from typing import Any

import cv2
import numpy as np

from streamcls.config import AugmentConfig
from streamcls.errors import ConfigError
from streamcls.preprocess import PreprocessSpec, preprocess
from streamcls.train.examples import Example

logger = logging.getLogger(__name__)


def load_arrays(
    examples: list[Example], classes: tuple[str, ...], spec: PreprocessSpec, what: str = "training"
) -> tuple[np.ndarray, np.ndarray, int]:
    """(inputs, class indices, unreadable count). Unreadable pictures are skipped and counted.

    Raises:
        ConfigError: every example was unreadable.
    """
    inputs = np.empty((len(examples), *spec.input_size.shape), dtype=np.float32)
    labels = np.empty(len(examples), dtype=np.int32)
    kept = 0
    unread: list[str] = []  # what each unreadable example is: a picture's path, a video's frame
    by_video: dict[Any, list[int]] = defaultdict(list)
    for position, example in enumerate(examples):
        if example.frame_index is None:
            image = cv2.imread(str(example.path))
            if image is None:
                unread.append(str(example.path))
                continue
            preprocess_into_slot(image, spec, inputs, labels, kept, classes.index(example.label))
            kept += 1
        else:
            by_video[example.path].append(position)
    for video, positions in by_video.items():  # one sequential pass per video, no seeking
        # Video examples always have a frame index (pictures have none).
        wanted = {typing.cast(int, examples[position].frame_index): position for position in positions}
        capture = cv2.VideoCapture(str(video))
        index = 0
        while wanted and index <= max(wanted):
            ok, image = capture.read()
            if not ok:
                break
            if index in wanted:
                preprocess_into_slot(
                    image, spec, inputs, labels, kept, classes.index(examples[wanted.pop(index)].label)
                )
                kept += 1
            index += 1
        capture.release()
        unread += [f"{video} frame {index}" for index in sorted(wanted)]
    if kept == 0:
        raise ConfigError(f"none of the {len(examples)} {what} examples could be read; check the files")
    if unread:
        more = f" and {len(unread) - 3} more" if len(unread) > 3 else ""
        logger.warning(
            "%d of %d %s examples could not be read and were skipped: %s%s",
            len(unread),
            len(examples),
            what,
            ", ".join(unread[:3]),
            more,
        )
    return inputs[:kept], labels[:kept], len(unread)


def preprocess_into_slot(
    image: np.ndarray, spec: PreprocessSpec, inputs: np.ndarray, labels: np.ndarray, slot: int, label: int
) -> None:
    inputs[slot] = preprocess(image, spec)
    labels[slot] = label


def dataset(inputs: np.ndarray, labels: np.ndarray, batch_size: int, augment: AugmentConfig | None, seed: int) -> Any:
    """Shuffled (training) or ordered (validation), augmented when ``augment`` is given, batched, prefetched."""
    from streamcls.model.runtime import import_tensorflow

    tensorflow = import_tensorflow()
    data = tensorflow.data.Dataset.from_tensor_slices((inputs, labels))
    if augment is not None:
        data = data.shuffle(len(inputs), seed=seed, reshuffle_each_iteration=True)
        height, width = inputs.shape[1:3]

        def changed(image: Any, label: Any) -> tuple[Any, Any]:
            if augment.flip:
                image = tensorflow.image.random_flip_left_right(image)
            if augment.crop_scale < 1.0:
                scale = tensorflow.random.uniform((), augment.crop_scale, 1.0)
                crop_height = tensorflow.cast(scale * height, tensorflow.int32)
                crop_width = tensorflow.cast(scale * width, tensorflow.int32)
                image = tensorflow.image.random_crop(image, (crop_height, crop_width, 3))
                image = tensorflow.image.resize(image, (height, width))
            if augment.brightness:
                image = image + tensorflow.random.uniform((), -augment.brightness, augment.brightness) * 2
            if augment.contrast:
                image = tensorflow.image.random_contrast(image, 1 - augment.contrast, 1 + augment.contrast)
            return tensorflow.clip_by_value(image, -1.0, 1.0), label

        data = data.map(changed, num_parallel_calls=tensorflow.data.AUTOTUNE)
    return data.batch(batch_size).prefetch(tensorflow.data.AUTOTUNE)
