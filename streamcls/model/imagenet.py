"""ImageNet weights through Keras' own download cache, and the ImageNet class names.

Keras publishes MobileNet weights for alpha 0.25/0.5/0.75/1.0 at 128, 160, 192
and 224 px, with and without the 1000-class top. The resolution-matched file is
preferred; when it cannot be had but the 224 px one can, the 224 px weights are
carried over (every MobileNet weight is independent of the input size). The
class names ship with streamcls, so nothing is fetched to decode predictions.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from streamcls.config import InputSize
from streamcls.errors import WeightsError
from streamcls.model.runtime import import_keras

logger = logging.getLogger(__name__)

PUBLISHED_SIZES = (128, 160, 192, 224)
DEFAULT_SIZE = 224
BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
_ALPHA_TEXT = {0.25: "2_5", 0.5: "5_0", 0.75: "7_5", 1.0: "1_0"}


@dataclass(frozen=True)
class ImagenetWeights:
    """A located ImageNet weight file and how it was chosen."""

    path: Path
    trained_size: int
    note: str  # one line for the user; empty when the file matches the build


def weight_file_name(alpha: float, size: int, include_top: bool) -> str:
    """Keras' published file name, e.g. ``mobilenet_1_0_224_tf_no_top.h5``."""
    suffix = "" if include_top else "_no_top"
    return f"mobilenet_{_ALPHA_TEXT[alpha]}_{size}_tf{suffix}.h5"


def keras_cache_root() -> Path:
    """Where Keras keeps downloads: ``$KERAS_HOME`` or ``~/.keras``."""
    return Path(os.environ.get("KERAS_HOME") or Path("~", ".keras")).expanduser()


def models_cache_dir() -> Path:
    return keras_cache_root() / "models"


def weight_candidates(alpha: float, input_size: InputSize, include_top: bool) -> list[tuple[int, list[str]]]:
    """(size, file names best first) to look for, best size first: the resolution-matched
    file when one is published, then the 224 px one (carried over). A file with the top
    also serves a backbone-only build."""
    matched = input_size.height == input_size.width and input_size.height in PUBLISHED_SIZES
    sizes = [input_size.height] if matched and input_size.height != DEFAULT_SIZE else []
    sizes.append(DEFAULT_SIZE)
    candidates = []
    for size in sizes:
        names = [weight_file_name(alpha, size, include_top)]
        if not include_top:
            names.append(weight_file_name(alpha, size, include_top=True))
        candidates.append((size, names))
    return candidates


def find_imagenet_weights(alpha: float, input_size: InputSize, include_top: bool) -> ImagenetWeights:
    """Find (in the cache) or download the ImageNet weights for this build.

    A file with the top also serves a backbone-only build, so it counts as a
    candidate when the no-top file is not cached.

    Raises:
        WeightsError: no candidate is cached and none can be downloaded; the
            message names the file, the cache folder and the local-file option.
    """
    matched = input_size.height == input_size.width and input_size.height in PUBLISHED_SIZES
    candidates = weight_candidates(alpha, input_size, include_top)
    sizes = [size for size, _ in candidates]
    failures: list[str] = []
    for size, names in candidates:
        cached = [models_cache_dir() / name for name in names if (models_cache_dir() / name).is_file()]
        path = cached[0] if cached else _download(names[0], failures)
        if path is not None:
            return ImagenetWeights(path, size, _carry_note(input_size, size, matched, failures))
    wanted = weight_file_name(alpha, sizes[0], include_top)
    fallback = weight_file_name(alpha, DEFAULT_SIZE, include_top)
    also = f" (or, carried over, the {DEFAULT_SIZE} px {fallback})" if fallback != wanted else ""
    raise WeightsError(
        f"ImageNet weights for MobileNet alpha {alpha} at {input_size} need {wanted}{also}: "
        f"it is not in the Keras cache {models_cache_dir()} and could not be downloaded "
        f"({failures[-1]}); put the file in that folder (or set "
        f"KERAS_HOME to a folder whose models/ holds it), or pass a local file with "
        f"--weights PATH / model.weights: PATH, or use weights: none"
    )


def _download(name: str, failures: list[str]) -> Path | None:
    keras = import_keras()
    logger.info("downloading %s into %s", name, models_cache_dir())
    try:
        path = keras.utils.get_file(name, BASE_URL + name, cache_subdir="models", cache_dir=str(keras_cache_root()))
    except Exception as error:  # noqa: BLE001 - Keras raises a bare Exception for network failures
        reason = str(error).split(" -- ")[-1].strip() or type(error).__name__
        failures.append(f"{name}: {reason}")
        return None
    return Path(path)


def _carry_note(input_size: InputSize, trained_size: int, matched: bool, failures: list[str]) -> str:
    if trained_size == input_size.height == input_size.width:
        return ""
    if matched:  # a published size whose own file could not be had
        return (
            f"carrying the {trained_size} px ImageNet weights over to {input_size} "
            f"(the {input_size.height} px file could not be had: {failures[0]})"
        )
    return f"carrying the {trained_size} px ImageNet weights over to {input_size} (no file is published for that size)"


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet class names in Keras' index order (``tench``, ``goldfish``, ...)."""
    text = resources.files("streamcls").joinpath("data/imagenet_class_index.json").read_text()
    index = json.loads(text)
    return tuple(index[str(i)][1] for i in range(len(index)))
