"""How a config field states its own check, beside it: a range, a choice, a registry name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, field
from typing import Any, TypeVar

# Keys of a field's metadata that ``coerce`` acts on.
RANGE = "streamcls.range"  # (low, high): the value, unless None, lies in [low, high]
CHOICES = "streamcls.choices"  # a tuple of the texts allowed
EXTENSION = "streamcls.extension"  # (registry, lookup): a registry name or 'module:attribute'

T = TypeVar("T")


def bounded(default: T, low: float, high: float) -> T:
    """A field whose value, unless None, must lie in [low, high] when a config is loaded."""
    result: T = field(default=default, metadata={RANGE: (low, high)})
    return result


def one_of(default: str, choices: tuple[str, ...]) -> str:
    """A text field that must be one of ``choices`` (one of the lists in ``names``)."""
    result: str = field(default=default, metadata={CHOICES: choices})
    return result


def named(registry: Mapping[str, Any], lookup: Callable[[str, str], Any], default: Any = MISSING) -> str:
    """A text field naming an entry of ``registry``, or a ``module:attribute`` of the user's own.

    ``lookup(value, key)`` (``names.backend``, ``names.sink_kind``) refuses an
    unknown name; a ``module:attribute`` is imported when the config is loaded.
    """
    result: str = field(default=default, metadata={EXTENSION: (registry, lookup)})
    return result


def key_path(path: str, key: str) -> str:
    """``key`` below the dotted ``path`` (``""`` is the top of the file)."""
    return f"{path}.{key}" if path else key
