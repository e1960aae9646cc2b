"""Read weight files by layer name and put them into a network, checking every shape.

Two on-disk layouts are read:

* the legacy Keras 2 HDF5 layout that ``keras.applications`` publishes
  (``mobilenet_1_0_224_tf_no_top.h5``): root attribute ``layer_names``, one group
  per layer with a ``weight_names`` attribute (also found under ``model_weights``
  in a whole-model ``.h5``);
* Keras 3 ``.weights.h5``: ``.../vars/0, 1, ...`` groups, the layer's name in the
  ``name`` attribute of ``vars`` (older Keras 3 releases used it as the group name).

Matching by name rather than by position is what lets a 224-px file fill a
network built at 160x160 or 240x320, and a full-model file fill only a backbone.

Only numeric arrays stored in the file itself are read: a dataset of objects,
variable-length or compound values, or one whose data lives elsewhere (an external
link, external raw storage, a virtual dataset) or needs a third-party filter plugin
(HDF5 would load native code for it) is refused. Nothing in a whole-model file
beyond its arrays (the model config, a Lambda layer's code) is ever looked at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from streamcls.errors import WeightsError

LayerWeights = dict[str, list[np.ndarray]]


def read_weight_file(path: str | Path) -> LayerWeights:
    """Return ``{layer name: [arrays in the layer's own weight order]}``.

    Raises:
        WeightsError: the file is missing, not HDF5, truncated, or holds no weights.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise WeightsError(
            f"weight file {str(path)!r} does not exist; pass the path of an existing .h5 or .weights.h5 file"
        )
    try:
        with h5py.File(path, "r") as handle:
            root = _child(handle, "model_weights") if "model_weights" in handle else handle
            if "layer_names" in root.attrs:
                weights = _read_legacy(root)
            else:
                weights = _read_keras3(handle)
    except (OSError, KeyError, ValueError) as error:
        reason = str(error).split("(")[0].strip() or type(error).__name__
        raise WeightsError(
            f"weight file {str(path)!r} cannot be read as HDF5 ({reason}); it may be "
            f"truncated or not a weight file: download or save it again"
        ) from None
    if not weights:
        raise WeightsError(
            f"weight file {str(path)!r} holds no layer weights; expected a Keras weight "
            f"file such as mobilenet_1_0_224_tf_no_top.h5 or a .weights.h5"
        )
    return weights


# HDF5's built-in filters (deflate, shuffle, fletcher32, szip, nbit, scaleoffset) and
# h5py's own LZF: any other filter id makes HDF5 search its plugin path and load a library.
BUILTIN_FILTERS = frozenset({1, 2, 3, 4, 5, 6, 32000})
NUMERIC_KINDS = "fiub"  # float, signed and unsigned integer, bool
_KIND_WORDS = {
    "O": "objects or variable-length values",
    "V": "compound or opaque values",
    "S": "byte strings",
    "U": "text",
    "M": "dates",
    "m": "durations",
    "c": "complex numbers",
}


def _child(group: Any, name: str) -> Any:
    """``group[name]``, refusing a link to another file (it would be opened silently)."""
    import h5py

    link = group.get(name, getlink=True)
    if isinstance(link, h5py.ExternalLink):
        raise _refused(
            group, name, f"an external link to {link.filename!r}", "weights are read only from the file given"
        )
    return group[name]


def _array(group: Any, name: str) -> np.ndarray:
    """The numeric array stored at ``group[name]``; WeightsError for anything else."""
    import h5py

    dataset = _child(group, name)
    if not isinstance(dataset, h5py.Dataset):
        raise _refused(group, name, "a group", "expected an array")
    if dataset.dtype.kind not in NUMERIC_KINDS:
        kind = _KIND_WORDS.get(dataset.dtype.kind, "not numbers")
        raise _refused(group, name, f"a dataset of {dataset.dtype} ({kind})", "expected numeric arrays only")
    if dataset.external or dataset.is_virtual:
        raise _refused(
            group, name, "a dataset whose data is stored in other files", "weights are read only from the file given"
        )
    plist = dataset.id.get_create_plist()
    filters = {plist.get_filter(index)[0] for index in range(plist.get_nfilters())}
    if filters - BUILTIN_FILTERS:
        plugins = sorted(filters - BUILTIN_FILTERS)
        raise _refused(
            group,
            name,
            f"compressed with plugin filter(s) {plugins}",
            "HDF5 would load native code for them; expected gzip or no compression",
        )
    return np.asarray(dataset)


def _refused(group: Any, name: str, what: str, expected: str) -> WeightsError:
    where = f"{group.name.rstrip('/')}/{name}"
    return WeightsError(
        f"weight file {group.file.filename!r}: {where} is {what}; {expected}: save the "
        f"weights again with streamcls or Keras (model.save_weights)"
    )


def _text(value: Any) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _read_legacy(root: Any) -> LayerWeights:
    weights: LayerWeights = {}
    for layer_name in (_text(name) for name in root.attrs["layer_names"]):
        group = _child(root, layer_name)
        names = [_text(name) for name in group.attrs.get("weight_names", [])]
        if names:
            weights[layer_name] = [_array(group, name) for name in names]
    return weights


def _read_keras3(handle: Any) -> LayerWeights:
    weights: LayerWeights = {}

    def visit(name: str, node: Any) -> None:
        if not name.endswith("vars") or not hasattr(node, "keys") or len(node) == 0:
            return
        layer_name = _text(node.attrs.get("name", name.split("/")[-2]))
        arrays = [_array(node, key) for key in sorted(node.keys(), key=int)]
        weights[layer_name] = arrays

    handle.visititems(visit)
    return weights


def assign_weights(layers: list[Any], weights: LayerWeights, source: str, strict: bool = True) -> int:
    """Copy ``weights`` into ``layers`` by layer name; return how many layers were filled.

    Every layer with weights must be found in the file and match in count and
    shape; the first that does not is named in the error with both shapes.
    With ``strict``, the file may hold nothing the layers do not want either.

    Raises:
        WeightsError: naming ``source``, the layer and both shapes.
    """
    pending: list[tuple[Any, list[np.ndarray]]] = []
    wanted = set()
    for layer in layers:
        if not layer.weights:
            continue
        wanted.add(layer.name)
        arrays = weights.get(layer.name)
        if arrays is None:
            raise WeightsError(
                f"weight file {source!r} has no weights for layer {layer.name!r} "
                f"(expected shapes {_shapes(layer.weights)}); it was saved from another "
                f"architecture: use a MobileNet weight file or weights: none"
            )
        expected = [tuple(variable.shape) for variable in layer.weights]
        found = [tuple(array.shape) for array in arrays]
        if expected != found:
            raise WeightsError(
                f"weight file {source!r} does not fit layer {layer.name!r}: the file has "
                f"shapes {found}, the network needs {expected}; the file was saved for "
                f"another alpha, class count or architecture"
            )
        pending.append((layer, arrays))
    extra = sorted(set(weights) - wanted)
    if strict and extra:
        raise WeightsError(
            f"weight file {source!r} holds layers this network does not have "
            f"({', '.join(extra[:3])}{', ...' if len(extra) > 3 else ''}); it was saved "
            f"from another architecture"
        )
    # Assign only after every layer checked, so a refused file leaves the network as it was.
    for layer, arrays in pending:
        layer.set_weights(arrays)
    return len(pending)


def _shapes(variables: list[Any]) -> list[tuple[int, ...]]:
    return [tuple(variable.shape) for variable in variables]


def write_weight_file(path: str | Path, layers: list[Any]) -> None:
    """Write ``layers``' weights in the Keras 2 HDF5 layout, one group per layer name.

    The layout is the one ``keras.applications`` publishes, so any Keras
    release (and :func:`read_weight_file`) reads it back by name.
    """
    import h5py

    names = [layer.name for layer in layers]
    if len(set(names)) != len(names):
        raise ValueError(f"layer names must be unique to be saved by name: {names}")
    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = [name.encode("utf8") for name in names]
        handle.attrs["backend"] = b"tensorflow"
        for layer in layers:
            group = handle.create_group(layer.name)
            weight_names = [f"{layer.name}/{index}" for index in range(len(layer.weights))]
            group.attrs["weight_names"] = [name.encode("utf8") for name in weight_names]
            for name, array in zip(weight_names, layer.get_weights()):
                group.create_dataset(name, data=array)
