"""A trained classifier as one folder on disk, loadable at any input size.

Layout (format version 1)::

    my-model/
      streamcls-bundle.json   what the network is: backbone, alpha, input size it
                              was trained at, pooling, head, class labels,
                              preprocessing, plus free-form metadata (training report)
      weights.h5              every weight, by layer name (Keras 2 HDF5 layout)

No code and no pickles: JSON and arrays only, so loading a bundle cannot run
anything. The network is rebuilt from the manifest's few named fields (never from
a Keras config or a ``.keras`` file, which can carry Lambda-layer code); keys this
streamcls does not read are refused rather than ignored, and ``metadata`` is stored
and shown, never interpreted. Both files are read only from inside the folder: a
link pointing out of it is refused. Loading at another ``input_size`` rebuilds the
network at that size and carries every weight over unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from streamcls.config import InputSize, PreprocessConfig, from_mapping
from streamcls.errors import BundleError, ConfigError
from streamcls.model.build import LoadedModel, ModelSpec, backbone_of, build_classifier, head_layers
from streamcls.model.weights import assign_weights, read_weight_file, write_weight_file

FORMAT_NAME = "streamcls-bundle"
FORMAT_VERSION = 1
MANIFEST = "streamcls-bundle.json"
WEIGHTS = "weights.h5"
MANIFEST_KEYS = frozenset({"format", "format_version", "created_by", "model", "metadata"})
MODEL_KEYS = frozenset(field.name for field in fields(ModelSpec))
CHOICES = {"head": ("dense", "imagenet"), "pooling": ("avg", "max"), "backbone": ("mobilenet",)}


def save_bundle(model: Any, spec: ModelSpec, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (built from ``spec``) as a bundle folder at ``path``.

    The folder is written beside its final place and renamed into it, so a
    crash never leaves a half-written bundle; an existing bundle is replaced.

    Raises:
        BundleError: ``path`` exists and is not a bundle (it is never overwritten).
    """
    from streamcls.version import __version__

    path = Path(path)
    if path.exists() and not (path / MANIFEST).is_file():
        raise BundleError(f"{str(path)!r} exists and is not a streamcls bundle; choose a new output path")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "created_by": f"streamcls {__version__}",
            "model": _spec_to_json(spec),
            "metadata": metadata or {},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        write_weight_file(staging / WEIGHTS, _all_weight_layers(model))
        if path.exists():
            shutil.rmtree(path)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read and check a bundle's manifest without building anything.

    Raises:
        BundleError: missing folder or files, unreadable JSON, or a format
            version this streamcls does not know.
    """
    path = Path(path)
    if not path.exists():
        raise BundleError(
            f"model bundle {str(path)!r} does not exist; pass a folder written by streamcls train, or --model imagenet"
        )
    manifest_path = _inside(path, MANIFEST)
    if not manifest_path.is_file():
        raise BundleError(
            f"{str(path)!r} is not a streamcls bundle: it has no {MANIFEST}; pass the bundle "
            f"folder itself (the one holding {MANIFEST} and {WEIGHTS})"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(
            f"{str(manifest_path)!r} is not valid JSON ({error}); the bundle is damaged: save it again"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise BundleError(f"{str(manifest_path)!r} is not a {FORMAT_NAME} manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise BundleError(
            f"bundle {str(path)!r} has format version {version!r}; this streamcls reads "
            f"version {FORMAT_VERSION} and older: upgrade streamcls (pip install -U streamcls)"
        )
    _refuse_unknown_keys(manifest, path)
    if not _inside(path, WEIGHTS).is_file():
        raise BundleError(
            f"bundle {str(path)!r} is missing its weights file {WEIGHTS}; copy the whole bundle folder again"
        )
    return manifest


def _inside(path: Path, name: str) -> Path:
    """``path / name``; BundleError when it is a link that leads out of the bundle folder."""
    file = path / name
    target = file.resolve()
    if file.is_symlink() and not target.is_relative_to(path.resolve()):
        raise BundleError(
            f"bundle {str(path)!r}: {name} is a link to {str(target)!r}, outside the bundle "
            f"folder, and is not followed; put the file itself in the folder "
            f"(cp --remove-destination {str(target)!r} {str(file)!r})"
        )
    return file


def _refuse_unknown_keys(manifest: dict[str, Any], path: Path) -> None:
    """A bundle is data this streamcls reads field by field: anything else is refused."""
    model = manifest.get("model")
    unknown = sorted(set(manifest) - MANIFEST_KEYS)
    if isinstance(model, dict):
        unknown += sorted(f"model.{key}" for key in set(model) - MODEL_KEYS)
    if unknown:
        raise BundleError(
            f"bundle {str(path)!r} has manifest keys this streamcls does not read "
            f"({', '.join(unknown[:5])}); a bundle holds named settings and weight arrays, "
            f"never code or objects: save it again with streamcls train (or remove them)"
        )


def bundle_spec(path: str | Path) -> ModelSpec:
    """The model a bundle holds, from its manifest alone (no weights read, nothing built)."""
    return _spec_from_json(read_manifest(path).get("model"), Path(path))


def load_bundle(path: str | Path, input_size: InputSize | None = None) -> LoadedModel:
    """Load a bundle, at the size it was saved with or at ``input_size``.

    Raises:
        BundleError: see :func:`read_manifest`; also a manifest whose model
            description is damaged, or weights that do not fit it.
    """
    path = Path(path)
    manifest = read_manifest(path)
    spec = _spec_from_json(manifest.get("model"), path)
    if input_size is not None:
        spec = spec.at_size(input_size)
    weights = read_weight_file(path / WEIGHTS)  # before the build: a bad file fails fast
    model = build_classifier(spec, freeze_backbone=True)
    assign_weights(_all_weight_layers(model), weights, str(path / WEIGHTS), strict=True)
    return LoadedModel(model, spec, f"bundle: {path}", bundle_path=path)


def _all_weight_layers(model: Any) -> list[Any]:
    return [layer for layer in backbone_of(model).layers if layer.weights] + head_layers(model)


def _spec_to_json(spec: ModelSpec) -> dict[str, Any]:
    data = asdict(spec)
    data["input_size"] = [spec.input_size.height, spec.input_size.width]
    data["classes"] = list(spec.classes)
    return data


def _spec_from_json(data: object, path: Path) -> ModelSpec:
    if not isinstance(data, dict):
        raise BundleError(f"bundle {str(path)!r} has no model description; save it again")
    for key, allowed in CHOICES.items():
        value = data.get(key, allowed[0])
        if value not in allowed:
            raise BundleError(
                f"bundle {str(path)!r} has a damaged model description ({key}: received "
                f"{str(value)[:40]!r}; expected {' or '.join(allowed)}); save it again"
            )
    try:
        return ModelSpec(
            alpha=float(data["alpha"]),
            input_size=InputSize(*map(int, data["input_size"])),
            classes=tuple(str(name) for name in data["classes"]),
            head=str(data["head"]),
            pooling=str(data["pooling"]),
            head_units=int(data["head_units"]),
            head_dropout=float(data["head_dropout"]),
            preprocess=from_mapping(PreprocessConfig, data.get("preprocess", {}), "preprocess"),
            seed=int(data.get("seed", 0)),
            backbone=str(data.get("backbone", "mobilenet")),
        )
    except (KeyError, TypeError, ValueError, ConfigError) as error:
        raise BundleError(f"bundle {str(path)!r} has a damaged model description ({error}); save it again") from None
