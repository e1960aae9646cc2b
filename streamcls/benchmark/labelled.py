"""Labelled frames for accuracy: a folder of class sub-folders, or a video with a segments file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from streamcls.errors import ConfigError
from streamcls.ground_truth import label_at, read_segments


def frames_from_folder(folder: str | Path, limit: int) -> tuple[list[np.ndarray], list[str]]:
    """Up to ``limit`` pictures from ``folder/<class>/*`` (spread over the classes), and their classes.

    The folder is read the way ``streamcls train`` reads it, so the same data scores the same.
    """
    from streamcls.train.examples import from_folder

    if not Path(folder).is_dir():
        raise ConfigError(f"--labelled: {str(folder)!r} is not a folder; pass a folder with one sub-folder per class")
    per_class: dict[str, list[Path]] = {}
    for example in from_folder(folder):
        per_class.setdefault(example.label, []).append(example.path)
    if not per_class:
        raise ConfigError(
            f"--labelled: {folder} has no class sub-folders with pictures; expected {folder}/<class>/*.jpg"
        )
    share = max(1, limit // len(per_class))
    frames, labels = [], []
    for name, paths in per_class.items():
        for path in paths[:: max(1, len(paths) // share)][:share]:
            image = cv2.imread(str(path))
            if image is not None:  # unreadable pictures are left out of the score
                frames.append(image)
                labels.append(name)
    return frames, labels


def frames_from_segments(video: str, segments_path: str, limit: int) -> tuple[list[np.ndarray], list[str]]:
    """Frames of ``video`` that a segment covers (up to ``limit``, spread evenly), and their labels."""
    segments = read_segments(segments_path)
    resolved = Path(video).resolve()
    if not any(segment.video.resolve() == resolved for segment in segments):
        raise ConfigError(
            f"--segments: {segments_path} has no segment for {video}; "
            f"its rows name {sorted({s.video.name for s in segments})}"
        )
    from streamcls.config import SourceConfig
    from streamcls.errors import EndOfStream, SourceError
    from streamcls.sources import open_source

    labelled = []
    with open_source(SourceConfig(uri=video)) as source:  # its frame rate is checked against timestamps
        index = 0
        while True:
            try:
                image = source.read().image
            except (EndOfStream, SourceError):
                break
            label = label_at(segments, resolved, index, source.fps)
            if label is not None:
                labelled.append((image, label))
            index += 1
    kept = labelled[:: max(1, len(labelled) // limit)][:limit]
    return [image for image, _ in kept], [label for _, label in kept]


def top1_accuracy(classifier: Any, frames: list[np.ndarray], labels: list[str]) -> float:
    """Fraction of ``frames`` whose top class is their label.

    Raises:
        ConfigError: a label is not one of the classifier's classes.
    """
    unknown = sorted(set(labels) - set(classifier.labels))
    if unknown:
        raise ConfigError(
            f"labels {', '.join(unknown)} are not classes of this model (it knows "
            f"{', '.join(classifier.labels[:10])}{', ...' if len(classifier.labels) > 10 else ''})"
        )
    correct = 0
    for start in range(0, len(frames), 64):
        probabilities = classifier.classify_frames(frames[start : start + 64])
        predicted = [classifier.labels[int(index)] for index in probabilities.argmax(axis=1)]
        correct += sum(p == t for p, t in zip(predicted, labels[start : start + 64]))
    return correct / len(frames) if frames else 0.0
