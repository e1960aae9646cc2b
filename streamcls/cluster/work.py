"""What runs on Ray's workers: decoding tasks and classifying actors. Nothing here runs on the driver.

``decode_video`` (a ``flat_map`` task per video) reads every frame the way
``streamcls run`` reads a file (``sources.open_source``: the same decoder, the
same frame indices and positions) and preprocesses it to the model's input
(``preprocess.preprocess``), so only model-sized frames travel through the
object store. Its last row for a video says how many frames it had, or why
it stopped (``end``, ``frames``, ``error``).

``Classify`` (a ``map_batches`` callable class: one per actor) loads the
model once. The model reaches a worker without a shared file system: the
driver puts the bundle folder, packed, into the object store
(``pack_bundle``) and each actor unpacks it into a folder of its own.
"""

from __future__ import annotations

import io
import math
import os
import socket
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from streamcls.config import Config, SourceConfig
from streamcls.errors import EndOfStream, SourceError, StreamclsError
from streamcls.preprocess import PreprocessSpec, preprocess


def decode_video(row: dict[str, Any], spec: PreprocessSpec) -> Iterator[dict[str, Any]]:
    """Every frame of ``row["path"]``, preprocessed, then one ``end`` row."""
    from streamcls.sources import open_source

    video_index, path = int(row["video_index"]), str(row["path"])
    blank = np.zeros(spec.input_size.shape, np.float32)
    frames, error = 0, ""
    try:
        with open_source(SourceConfig(uri=path, id=path)) as source:
            while True:
                started = time.perf_counter()
                try:
                    decoded = source.read()
                except EndOfStream:
                    break
                read = time.perf_counter()
                image = preprocess(decoded.image, spec)
                done = time.perf_counter()
                position = math.nan if decoded.position_ms is None else float(decoded.position_ms)
                yield {
                    **_row(video_index, frames, position, image),
                    "decode_ms": (read - started) * 1000,
                    "preprocess_ms": (done - read) * 1000,
                }
                frames += 1
    except SourceError as failure:
        error = str(failure)
    except Exception as failure:  # noqa: BLE001 - one video fails alone, with its reason
        error = f"decoding failed at frame {frames}: {type(failure).__name__}: {failure}"
    yield {**_row(video_index, -1, math.nan, blank), "end": True, "frames": frames, "error": error}


def _row(video_index: int, frame_index: int, position_ms: float, image: np.ndarray) -> dict[str, Any]:
    return {
        "video_index": video_index,
        "frame_index": frame_index,
        "position_ms": position_ms,
        "image": image,
        "end": False,
        "frames": 0,
        "error": "",
        "decode_ms": 0.0,
        "preprocess_ms": 0.0,
    }


class Classify:
    """One actor's model: probabilities for a batch of preprocessed frames (``end`` rows pass through)."""

    def __init__(self, config: Config, packed_bundle: Any):
        from streamcls.model.backends import build_classifier_for
        from streamcls.model.load import load_model

        self._folder: tempfile.TemporaryDirectory[str] | None = None
        if packed_bundle is not None:
            if not isinstance(packed_bundle, bytes):  # [a reference to it in the object store]
                import ray

                packed_bundle = ray.get(packed_bundle[0])
            self._folder = tempfile.TemporaryDirectory(prefix="streamcls-bundle-")
            bundle = unpack_bundle(packed_bundle, Path(self._folder.name))
            config = replace(config, model=replace(config.model, bundle=str(bundle)))
        self.classifier, _agreement = build_classifier_for(load_model(config.model), config.inference, None)
        self.node = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ends = batch["end"].astype(bool)
        frames = ~ends
        count = len(ends)
        classes = len(self.classifier.spec.classes)
        probabilities = np.zeros((count, classes), np.float32)
        inference_ms = np.zeros(count, np.float64)
        if frames.any():
            started = time.perf_counter()
            probabilities[frames] = self.classifier.classify(np.asarray(batch["image"])[frames])
            inference_ms[frames] = (time.perf_counter() - started) * 1000 / int(frames.sum())
        return {
            "video_index": batch["video_index"],
            "frame_index": batch["frame_index"],
            "position_ms": batch["position_ms"],
            "probabilities": probabilities,
            "end": ends,
            "frames": batch["frames"],
            "error": batch["error"],
            "decode_ms": batch["decode_ms"],
            "preprocess_ms": batch["preprocess_ms"],
            "inference_ms": inference_ms,
            "node": np.array([self.node] * count),
        }


def pack_bundle(folder: str | Path) -> bytes:
    """A bundle folder as one tar archive in memory (to ``ray.put`` it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(str(folder), arcname="bundle")
    return buffer.getvalue()


def unpack_bundle(packed: bytes, into: Path) -> Path:
    """The bundle folder unpacked under ``into`` (only regular files and folders, inside ``into``)."""
    with tarfile.open(fileobj=io.BytesIO(packed), mode="r") as archive:
        for member in archive.getmembers():
            if not (member.isfile() or member.isdir()) or member.name.startswith(("/", "..")) or ".." in member.name:
                raise StreamclsError(f"the packed bundle holds {member.name!r}, which is not a plain file of it")
        archive.extractall(into, filter="data")
    return into / "bundle"
