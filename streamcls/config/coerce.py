"""Plain YAML values -> the schema's dataclasses, every key and type checked.

Each refusal is one line: the key's path, what was received, what was
expected. After the types, the checks the schema keeps beside its fields run:
a field's range or choices (its metadata) and the dataclass's own ``check``.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Literal, Union

from streamcls.config.fields import CHOICES, EXTENSION, RANGE, key_path
from streamcls.config.schema import InputSize, parse_input_size
from streamcls.errors import ConfigError


def from_mapping(cls: type, data: object, path: str) -> Any:
    """Build dataclass ``cls`` from ``data``, checking every key and type.

    ``path`` is the dotted key of ``data`` in the file, used in messages.

    Raises:
        ConfigError: an unknown key, a wrong type or a value out of range.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'config'}: received {_describe(data)}; expected a mapping of keys")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    names = list(fields)
    values: dict[str, Any] = {}
    for key, value in data.items():
        field_path = key_path(path, str(key))
        if key not in fields:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"{field_path}: unknown key; {hint}valid keys here are {', '.join(names)}")
        values[key] = _coerce_field(value, hints[key], fields[key].metadata, field_path)
    for name, spec in fields.items():
        if name not in values and _required(spec):
            raise ConfigError(f"{key_path(path, name)}: missing; expected {_expected(spec)}")
    return _check(cls(**values), path)


def _coerce_field(value: object, hint: Any, metadata: typing.Mapping[str, Any], path: str) -> Any:
    """One field's value: a choice or a registry name per its metadata, else by its type."""
    if CHOICES in metadata:
        return _one_of(value, metadata[CHOICES], path)
    if EXTENSION in metadata:
        registry, lookup = metadata[EXTENSION]
        if not isinstance(value, str):
            _one_of(value, tuple(registry), path)
        entry = lookup(value, path)  # refuses an unknown name, listing the valid ones
        if value not in registry:  # 'module:attribute' of the user's own: import it now, so a
            entry.load(path)  # typo fails here with its key path, not once the run has started
        return value
    return _coerce(value, hint, path)


def _coerce(value: object, hint: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if hint is InputSize:
        return parse_input_size(value, path)
    if dataclasses.is_dataclass(hint):
        # 'model:' with every key below it commented out is an empty section: its defaults.
        return from_mapping(typing.cast(type, hint), {} if value is None else value, path)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return _coerce(value, inner, path)
    if origin is Literal:
        return _one_of(value, typing.get_args(hint), path)
    if origin is tuple:
        (item_hint, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: received {_describe(value)}; expected a list")
        return tuple(_coerce(item, item_hint, f"{path}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        return _mapping(value, path)
    if hint is object:  # a plain YAML value, handed on as it is
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: received {_describe(value)}; expected true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: received {_describe(value)}; expected a whole number")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: received {_describe(value)}; expected a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: received {_describe(value)}; expected text")
        return value
    raise TypeError(f"config type {hint!r} at {path} has no reader")  # a bug in this module


def _one_of(value: object, allowed: tuple[Any, ...], path: str) -> Any:
    if value not in allowed:
        raise ConfigError(f"{path}: received {value!r}; expected one of {', '.join(map(str, allowed))}")
    return value


def _mapping(value: object, path: str) -> dict[str, object]:
    """A ``dict[str, object]`` field: names to plain values; empty (``options:``) is ``{}``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: received {_describe(value)}; expected a mapping of names to values")
    for key in value:
        if not isinstance(key, str):
            raise ConfigError(f"{path}: key {_describe(key)} is not text; expected a mapping of names to values")
    return dict(value)


def _required(spec: dataclasses.Field[Any]) -> bool:
    return spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING


def _expected(spec: dataclasses.Field[Any]) -> str:
    """What a required key takes, for the message that says it is missing."""
    if EXTENSION in spec.metadata:
        registry, _lookup = spec.metadata[EXTENSION]
        return f"one of {', '.join(registry)} (or 'module:attribute' of your own)"
    return "a value; this key has no default"


def _describe(value: object) -> str:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{shown} ({type(value).__name__})"


def _check(instance: Any, path: str) -> Any:
    """The checks a type alone cannot say: each field's range, then the dataclass's ``check``."""
    for spec in dataclasses.fields(instance):
        if RANGE not in spec.metadata:
            continue
        value, (low, high) = getattr(instance, spec.name), spec.metadata[RANGE]
        if value is not None and not low <= value <= high:
            raise ConfigError(f"{key_path(path, spec.name)}: received {value}; expected {low} to {high}")
    check = getattr(instance, "check", None)
    if check is not None:
        check(path)
    return instance
