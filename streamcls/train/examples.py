"""Gather labelled examples: pictures in class folders, and frames sampled from labelled video segments.

Each example carries a *group*: the picture itself, or the video segment it
came from. The validation split is drawn by group, so neighbouring frames of
one segment never sit on both sides of it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import cv2

from streamcls.errors import ConfigError
from streamcls.ground_truth import read_segments

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class Example:
    path: Path
    label: str
    group: str
    frame_index: int | None = None  # None: a picture


def from_folder(folder: str | Path) -> list[Example]:
    """One example per picture in ``folder/<class>/``.

    Raises:
        ConfigError: not a folder, no class folders, or an empty class folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"--data: {str(folder)!r} is not a folder; pass a folder with one sub-folder per class")
    classes = sorted(child for child in folder.iterdir() if child.is_dir() and not child.name.startswith("."))
    examples = []
    for child in classes:
        pictures = sorted(p for p in child.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not pictures:
            raise ConfigError(
                f"--data: class folder {child} holds no pictures ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                f"add some or remove the folder"
            )
        examples += [Example(path, child.name, str(path)) for path in pictures]
    return examples


def from_segments(segments_path: str | Path, sample_fps: float) -> list[Example]:
    """Frames sampled at ``sample_fps`` from every labelled segment.

    Raises:
        ConfigError: the file's own errors, or a segment past the end of its video.
    """
    examples = []
    lengths: dict[Path, tuple[int, float]] = {}
    for number, segment in enumerate(read_segments(segments_path)):
        if segment.video not in lengths:
            capture = cv2.VideoCapture(str(segment.video))
            frame_count, fps = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), capture.get(cv2.CAP_PROP_FPS) or 25.0
            capture.release()
            lengths[segment.video] = (frame_count, fps)
        frame_count, fps = lengths[segment.video]
        first, last = (
            (segment.start, segment.end) if segment.unit == "frame" else (segment.start * fps, segment.end * fps)
        )
        if frame_count > 0 and last > frame_count + 1:
            unit = "frame" if segment.unit == "frame" else "s"
            raise ConfigError(
                f"{segments_path}: segment {segment.start:g}-{segment.end:g} {unit} of {segment.video.name} "
                f"ends past the video ({frame_count} frames at {fps:g} fps); fix the time"
            )
        step = max(1.0, fps / sample_fps)
        index = float(first)
        while index < last:
            examples.append(Example(segment.video, segment.label, f"{segment.video}#{number}", int(index)))
            index += step
    return examples


def split(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """(train, validation): about ``fraction`` of each class's groups go to validation."""
    if fraction <= 0:
        return examples, []
    rng = random.Random(seed)
    validation_groups: set[str] = set()
    for label in sorted({example.label for example in examples}):
        groups = sorted({example.group for example in examples if example.label == label})
        rng.shuffle(groups)
        count = max(1, round(len(groups) * fraction)) if len(groups) > 1 else 0
        validation_groups.update(groups[:count])
    train = [example for example in examples if example.group not in validation_groups]
    validation = [example for example in examples if example.group in validation_groups]
    return train, validation


def check_classes(train: list[Example], validation: list[Example]) -> tuple[str, ...]:
    """The sorted class names, after checking there are at least two and both sides agree."""
    classes = tuple(sorted({example.label for example in train}))
    if len(classes) < 2:
        raise ConfigError(
            f"training data has {len(classes)} class ({', '.join(classes) or 'none'}); a classifier "
            f"needs at least two: add a folder per class"
        )
    if validation:
        extra = sorted({example.label for example in validation} - set(classes))
        if extra:
            raise ConfigError(
                f"validation labels {', '.join(extra)} do not occur in the training data "
                f"(training classes: {', '.join(classes)}); use the same class names on both sides"
            )
    return classes
