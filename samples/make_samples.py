"""Make the labelled sample set and the sample clips, deterministically (numpy + OpenCV only).

Three classes of shapes - circle, square, triangle - each in its own family of
colours, in varied sizes and angles, drifting over varied greyed backgrounds
(gradients, noise textures, stripes).
Same seed, same pixels: the demo bundle in this folder was trained on exactly
what this script writes.

    python samples/make_samples.py --output /tmp/streamcls-samples
        images/<class>/*.png     labelled pictures (training data)
        clips/train.avi          a clip for training from segments
        clips/test.avi           a clip with different scenes, for checking
        clips/train.csv          video,start_frame,end_frame,label of train.avi
        clips/test.csv           the same for test.avi (keep it out of training)
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np

CLASSES = ("circle", "square", "triangle")


def background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    kind = rng.integers(3)
    low, high = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    if kind == 0:  # a diagonal gradient between two colours
        ramp = (np.add.outer(np.arange(height) / height, np.arange(width) / width) / 2)[..., None]
        image = low + (high - low) * ramp
    elif kind == 1:  # a blurred noise texture
        noise = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3)).astype(np.uint8)
        image = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float64)
    else:  # stripes at a random angle
        angle = rng.uniform(0, np.pi)
        y, x = np.mgrid[0:height, 0:width]
        wave = (np.sin((x * np.cos(angle) + y * np.sin(angle)) / rng.uniform(4, 12)) > 0)[..., None]
        image = np.where(wave, low, high)
    # Greyed and calmer than the shapes drawn on it: the task is the shape, not finding it in clutter.
    grey = image.mean(axis=2, keepdims=True)
    return np.clip(0.35 * image + 0.25 * grey + 50, 0, 255).astype(np.uint8)


def draw_shape(image: np.ndarray, label: str, center: tuple[float, float], size: float,
               color: tuple[int, int, int], angle: float) -> None:
    x, y = center
    if label == "circle":
        cv2.circle(image, (int(x), int(y)), int(size), color, -1, cv2.LINE_AA)
        return
    corners = 4 if label == "square" else 3
    turns = angle + np.arange(corners) * 2 * np.pi / corners
    points = np.stack([x + size * np.cos(turns), y + size * np.sin(turns)], axis=1)
    cv2.fillPoly(image, [points.astype(np.int32)], color, cv2.LINE_AA)


# Each class keeps to its own family of hues (OpenCV hue, 0-180): with colour and shape
# both telling the classes apart, a small network trained from scratch on a CPU learns
# them in a minute. The demo is about the pipeline, not a hard vision problem.
HUES = {"circle": (0, 12), "square": (45, 75), "triangle": (100, 125)}


def shape_color(rng: np.random.Generator, label: str) -> tuple[int, int, int]:
    low, high = HUES[label]
    hsv = np.uint8([[[rng.integers(low, high), rng.integers(170, 256), rng.integers(170, 256)]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def picture(rng: np.random.Generator, label: str, height: int = 128, width: int = 128) -> np.ndarray:
    image = background(rng, height, width)
    size = rng.uniform(0.25, 0.4) * min(height, width)
    center = (rng.uniform(size, width - size), rng.uniform(size, height - size))
    draw_shape(image, label, center, size, shape_color(rng, label), rng.uniform(0, 2 * np.pi))
    return image


def write_images(folder: Path, per_class: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for label in CLASSES:
        (folder / label).mkdir(parents=True, exist_ok=True)
    for index in range(per_class):
        for label in CLASSES:
            cv2.imwrite(str(folder / label / f"{index:04d}.png"), picture(rng, label))


def write_clip(path: Path, scenes: list[str], seed: int, frames_per_scene: int = 40,
               size: tuple[int, int] = (320, 240), fps: float = 25.0) -> list[tuple[int, int, str]]:
    """One scene per label: a shape drifting and turning over its own background. Returns the segments."""
    rng = np.random.default_rng(seed)
    width, height = size
    codec = "mp4v" if path.suffix == ".mp4" else "MJPG"  # .mp4 is ten times smaller, for the repo
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, size)
    if not writer.isOpened():
        raise SystemExit(f"OpenCV cannot write {codec} to {path}")
    segments = []
    for number, label in enumerate(scenes):
        backdrop = background(rng, height, width)
        color = shape_color(rng, label)
        shape_size = rng.uniform(0.25, 0.38) * height
        start = np.array([rng.uniform(shape_size, width - shape_size), rng.uniform(shape_size, height - shape_size)])
        velocity = rng.uniform(-2.5, 2.5, 2)
        spin = rng.uniform(-0.05, 0.05)
        for step in range(frames_per_scene):
            position = start + velocity * step
            # bounce inside the frame, so the shape never leaves it
            for axis, limit in ((0, width), (1, height)):
                span = limit - 2 * shape_size
                offset = (position[axis] - shape_size) % (2 * span)
                position[axis] = shape_size + (offset if offset <= span else 2 * span - offset)
            image = backdrop.copy()
            draw_shape(image, label, tuple(position), shape_size, color, spin * step)
            writer.write(image)
        segments.append((number * frames_per_scene, (number + 1) * frames_per_scene, label))
    writer.release()
    return segments


TEST_SCENES = ["triangle", "circle", "square", "circle", "triangle", "square"]


def make(output: Path, per_class: int = 80) -> None:
    write_images(output / "images", per_class, seed=1)
    (output / "clips").mkdir(parents=True, exist_ok=True)
    train_scenes = [CLASSES[index % 3] for index in range(9)]
    for name, scenes, seed in (("train", train_scenes, 2), ("test", TEST_SCENES, 3)):
        segments = write_clip(output / "clips" / f"{name}.avi", scenes, seed)
        write_segments(output / "clips" / f"{name}.csv", f"{name}.avi", segments)


def write_segments(path: Path, video: str, segments: list[tuple[int, int, str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "start_frame", "end_frame", "label"])
        writer.writerows((video, start, end, label) for start, end, label in segments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="the folder to write (created)")
    parser.add_argument("--per-class", type=int, default=80, help="pictures per class (default 80)")
    parser.add_argument("--demo-clip", help="write only the test clip here (.mp4), and its segments beside it (.csv)")
    arguments = parser.parse_args()
    if arguments.demo_clip:
        clip = Path(arguments.demo_clip)
        write_segments(clip.with_suffix(".csv"), clip.name, write_clip(clip, TEST_SCENES, seed=3))
        print(f"wrote {clip} and {clip.with_suffix('.csv')}")
        return
    if not arguments.output:
        parser.error("pass --output FOLDER (or --demo-clip PATH.mp4)")
    make(Path(arguments.output), arguments.per_class)
    print(f"wrote {arguments.output}/images/<class>/*.png and {arguments.output}/clips/{{train,test}}.{{avi,csv}}")


if __name__ == "__main__":
    main()
