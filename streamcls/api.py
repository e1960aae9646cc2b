"""The short way in: classify a list of pictures, or stream predictions from a source.

Example::

    import streamcls

    for prediction in streamcls.stream("clip.mp4", model="my-bundle"):
        print(prediction.frame_index, prediction.shown_label, prediction.shown_score)

    model = streamcls.load("imagenet", input_size="160x160")
    for prediction in model.classify(["cat.jpg", frame_bgr]):
        print(prediction.source_id, prediction.label, prediction.score)

Everything else (several sources, sinks, summaries, queue depths) is
:class:`streamcls.pipeline.Pipeline`, which these build on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from streamcls.config import Config, load_config
from streamcls.errors import FrameError
from streamcls.frames import Classified, Event, Frame, Prediction
from streamcls.outputs.sink import Sink

Picture = np.ndarray | str | Path


class Model:
    """A classifier loaded once, for classifying pictures and for streams.

    Build it with :func:`load`. ``classify`` gives one :class:`Prediction` per
    picture (its ``source_id`` is the picture's path, or ``frames`` for an array).
    """

    def __init__(self, config: Config, classifier: Any, config_path: str | Path | None = None):
        self.config = config
        self.config_path = config_path
        self.classifier = classifier
        self.labels: tuple[str, ...] = classifier.spec.classes

    def classify(self, pictures: Iterable[Picture]) -> list[Prediction]:
        """Classify BGR uint8 arrays (as OpenCV reads them) and/or picture files, in batches.

        Raises:
            FrameError: a file that is not a readable picture, or an array that is not an image.
        """
        from streamcls.postprocess import Postprocessor

        items = list(pictures)
        images = [_read_picture(item) for item in items]
        postprocessor = Postprocessor(
            self.labels,
            replace(
                self.config.postprocess,
                smoothing="none",
                hysteresis=replace(self.config.postprocess.hysteresis, margin=0.0, frames=1),
            ),
        )
        predictions = []
        batch_size = self.classifier.batch_size
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            probabilities = self.classifier.classify_frames(chunk)
            for offset, (image, row) in enumerate(zip(chunk, probabilities)):
                index = start + offset
                item = items[index]
                source_id = "frames" if isinstance(item, np.ndarray) else str(item)
                frame = Frame(image, source_id, index, captured_at=0.0)
                predictions.append(postprocessor.predict(Classified(frame, row, 0.0, 0.0, 0.0, len(chunk))))
        return [replace(prediction, latency_ms=0.0) for prediction in predictions]


def load(
    model: str = "imagenet",
    *,
    config: str | Path | None = None,
    input_size: str | None = None,
    batch_size: int | None = None,
    backend: str | None = None,
    device: str | None = None,
) -> Model:
    """Load a classifier: ``"imagenet"`` (MobileNet's own classes) or a bundle folder.

    Args:
        model: ``imagenet`` or the path of a bundle written by ``streamcls train``.
        config: a YAML config file; the other arguments override it.
        input_size: ``"160x160"``, ``"240x320"`` (height x width), or None for the model's own.
        batch_size, backend, device: as ``inference.*`` in the config.

    Raises:
        ConfigError, ModelError: as ``streamcls run`` would report them.
    """
    from streamcls.model.backends import build_classifier_for
    from streamcls.model.load import load_model

    settings = _config(model, config, input_size=input_size, batch_size=batch_size, backend=backend, device=device)
    classifier, _agreement = build_classifier_for(load_model(settings.model), settings.inference)
    return Model(settings, classifier, config)


def stream(
    source: str | int | Sequence[str | int],
    model: str | Model = "imagenet",
    *,
    config: str | Path | None = None,
    sinks: Sequence[Sink] = (),
    realtime: bool = False,
    max_frames: int | None = None,
    on_event: Callable[[Event], object] | None = None,
) -> Iterator[Prediction]:
    """Predictions from a camera index, video file, stream URL or image folder, as they come.

    Several sources (a list) share one model; each prediction names its source.
    Leaving the loop early stops the pipeline and closes everything it opened.

    Args:
        source: ``0`` (a camera), ``"clip.mp4"``, ``"rtsp://..."``, ``"photos/"``, or a list of them.
        model: ``imagenet``, a bundle folder, or a :class:`Model` from :func:`load` (loaded once, reused).
        config: a YAML config file for everything else (smoothing, outputs...); with a loaded
            :class:`Model`, the one it was loaded with by default.
        sinks: sinks of your own (see ``streamcls.outputs.sink``), beside the configured ones.
        realtime: play a file at its native rate, dropping stale frames like a camera.
        max_frames: stop after this many frames of each source.
        on_event: called with each event (a change of a source's shown label that passes the
            config's ``events:`` rules), just before the prediction that completed it is yielded.
    """
    from streamcls.pipeline import Pipeline

    uris = [str(item) for item in source] if isinstance(source, (list, tuple)) else [str(source)]
    overrides: dict[str, Any] = {"output.display": False, "output.progress": False}
    if len(uris) == 1:
        overrides["source.uri"] = uris[0]
    else:
        overrides["sources"] = [{"uri": uri} for uri in uris]
    if realtime:
        overrides["source.realtime"] = True
    if max_frames is not None:
        overrides["output.max_frames"] = max_frames
    loaded = model if isinstance(model, Model) else None
    if loaded is not None:
        settings = _config(None, config if config is not None else loaded.config_path, **overrides)
    else:
        settings = _config(model, config, **overrides)  # type: ignore[arg-type]
    with Pipeline(
        settings, classifier=loaded.classifier if loaded else None, sinks=list(sinks), on_event=on_event
    ) as pipeline:
        yield from pipeline


def _config(model: str | Path | None, config: str | Path | None, **overrides: Any) -> Config:
    """The config file (or the defaults) with these settings on top, validated like CLI flags."""
    flags = {
        "input_size": "model.input_size",
        "batch_size": "inference.batch_size",
        "backend": "inference.backend",
        "device": "inference.device",
    }
    dotted = {flags.get(key, key): value for key, value in overrides.items() if value is not None}
    if model is not None and str(model).lower() == "imagenet":
        dotted.update({"model.head.kind": "imagenet", "model.bundle": None})
    elif model is not None:
        dotted["model.bundle"] = str(model)
    return load_config(config, dotted)


def _read_picture(item: Picture) -> np.ndarray:
    if isinstance(item, np.ndarray):
        return item
    import cv2

    image = cv2.imread(str(item), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameError(
            f"picture {str(item)!r} cannot be read; expected a JPEG, PNG, BMP, TIFF or WebP file that exists"
        )
    return image


def classify(pictures: Iterable[Picture], model: str = "imagenet", **settings: Any) -> list[Prediction]:
    """Classify pictures (BGR arrays and/or files) with a model loaded for this call.

    ``settings`` are those of :func:`load`. To classify many times, ``load`` once
    and call ``Model.classify``.
    """
    return load(model, **settings).classify(pictures)
