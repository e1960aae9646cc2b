"""Reading a config: the YAML file, then command-line overrides, then ``sources:`` defaults.

The YAML is read with a ``SafeLoader`` (plain values only) that refuses a key
given twice and reads numbers as YAML 1.2 does. PyYAML is imported inside the
functions that read, so importing the config package costs nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

from streamcls.config.coerce import _describe, from_mapping
from streamcls.config.schema import Config
from streamcls.errors import ConfigError


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Load and validate a YAML config; ``None`` gives the defaults.

    Args:
        path: the YAML file, or ``None``.
        overrides: dotted keys to values, applied on top of the file, for
            command-line flags (``{"model.input_size": "160x160"}``).

    Raises:
        ConfigError: the file is missing, not YAML, or any key is wrong.
    """
    data: dict[str, Any] = {}
    if path is not None:
        data = _read_yaml(Path(path))
    for dotted_key, value in (overrides or {}).items():
        _set_dotted(data, dotted_key, value)
    _inherit_source_defaults(data)
    return from_mapping(Config, data, "")


def _inherit_source_defaults(data: dict[str, Any]) -> None:
    """Each ``sources:`` entry takes the keys it leaves out from ``source:`` (not its uri or id)."""
    entries, defaults = data.get("sources"), data.get("source")
    if not isinstance(entries, list):
        return
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict) or "uri" not in entry:
            raise ConfigError(
                f"sources[{number}]: received {_describe(entry)}; expected a mapping with at "
                f"least uri: (a camera index, file, URL or image folder)"
            )
    if isinstance(defaults, dict):
        inherited = {key: value for key, value in defaults.items() if key not in ("uri", "id")}
        data["sources"] = [_merged(inherited, entry) for entry in entries]


def _merged(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        merged[key] = (
            _merged(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml  # a small import; kept here so importing config stays free of side effects

    if path.is_dir():
        raise ConfigError(
            f"config file {str(path)!r} is a folder; expected a YAML file: pass one such as {str(path / 'run.yaml')!r}"
        )
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist; pass an existing YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"config file {str(path)!r} is not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset "
            f"{error.start}); expected a YAML text file: save it as UTF-8"
        ) from None
    except OSError as error:
        raise ConfigError(
            f"config file {str(path)!r} cannot be read ({error.strerror}); check its permissions"
        ) from None
    try:
        data = yaml.load(text, Loader=_config_loader())  # safe: the loader derives from SafeLoader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid syntax"
        context, opened = getattr(error, "context", None), getattr(error, "context_mark", None)
        if context and opened and mark and opened.line != mark.line:  # where an unclosed bracket began
            problem += f" ({context} that starts at line {opened.line + 1})"
        fix = "fix the syntax there"
        if "'\\t'" in problem:
            fix = "indent with spaces, not tabs"
        elif "constructor for the tag" in problem:
            fix = "remove the tag: a config holds plain values only"
        raise ConfigError(f"config file {str(path)!r} is not valid YAML{where}: {problem}; {fix}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {str(path)!r} holds a {_KINDS.get(type(data).__name__, type(data).__name__)}; "
            f"expected a mapping with sections such as 'model:' and 'inference:', each on its own line"
        )
    return data


_KINDS = MappingProxyType(
    {"str": "single string", "int": "single number", "float": "single number", "bool": "single true/false"}
)


def _config_loader() -> type:
    """PyYAML's ``SafeLoader`` (no Python objects) with two surprises of YAML 1.1 removed.

    A key given twice in one mapping is refused with its key path: PyYAML silently
    keeps the last, so the first value would be ignored without a word. Numbers
    follow YAML 1.2: integers are decimal only (``0x100`` is text, so an input
    size typed as ``0x100`` is refused rather than read as hex 256, and ``0160``
    is 160, not octal 112), and ``1e-3`` is a float rather than text.
    """
    import yaml

    int_tag, float_tag = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"

    class ConfigLoader(yaml.SafeLoader):
        def construct_document(self, node: yaml.Node) -> Any:
            _refuse_duplicate_keys(node, "")
            return super().construct_document(node)

    ConfigLoader.yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag not in (int_tag, float_tag)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    ConfigLoader.add_implicit_resolver(int_tag, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
    ConfigLoader.add_implicit_resolver(
        float_tag,
        re.compile(
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+0123456789."),
    )
    ConfigLoader.add_constructor(int_tag, _construct_int)
    return ConfigLoader


def _construct_int(loader: Any, node: Any) -> int:
    return int(loader.construct_scalar(node))


def _refuse_duplicate_keys(node: Any, path: str, visited: set[int] | None = None) -> None:
    import yaml

    visited = set() if visited is None else visited
    if id(node) in visited:  # an alias of a node already checked (or of its own parent)
        return
    visited.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicate_keys(item, f"{path}[{index}]", visited)
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
            continue  # '<<: *defaults' merges; explicit keys beside it override, as YAML says
        key_path = f"{path}.{key_node.value}" if path else str(key_node.value)
        line = key_node.start_mark.line + 1
        if key_node.value in seen:
            raise ConfigError(
                f"{key_path}: given twice (lines {seen[key_node.value]} and {line}); expected once "
                f"(YAML would silently keep the last): delete one, or merge the two"
            )
        seen[key_node.value] = line
        _refuse_duplicate_keys(value_node, key_path, visited)


def _set_dotted(data: dict[str, Any], dotted_key: str, value: Any) -> None:
    *parents, leaf = dotted_key.split(".")
    node = data
    for depth, part in enumerate(parents):
        child = node.get(part)
        if child is not None and not isinstance(child, dict):
            # Replacing it would hide the file's mistake behind the flag's value.
            raise ConfigError(
                f"{'.'.join(parents[: depth + 1])}: received {_describe(child)}; expected a mapping of keys"
            )
        if child is None:
            child = {}
            node[part] = child
        node = child
    node[leaf] = value
