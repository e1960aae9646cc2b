"""The package's shape: no import cycles, and no module importing a layer above its own.

Every import counts, also those inside functions (they run later, but they are
still a dependency). Layers, lowest first; a module may import its own layer
and those below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "streamcls"

LAYERS = [
    # the types and helpers every stage shares
    {"errors", "frames", "redact", "quiet", "queues", "ground_truth", "version"},
    {"config"},
    # the stages
    {"preprocess", "sources", "postprocess"},
    {"model", "outputs"},
    {"pipeline"},
    # what is built from the pipeline
    {"benchmark", "train", "doctor", "service", "cluster"},
    {"commands", "api"},
    {"cli", "__main__", "__init__"},
]


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    for number, names in enumerate(LAYERS):
        if top in names:
            return number
    raise AssertionError(f"streamcls.{top} is in no layer of {__file__}; add it to LAYERS")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _resolve(name: str, known: set[str]) -> str | None:
    """The longest known module that ``name`` is or lies in (``streamcls.x.y.Name`` -> ``streamcls.x.y``)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """Module -> the streamcls modules it imports (``from a import b`` counts b when b is a module)."""
    files = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets: set[str] = set()
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from its package
                    anchor = module.split(".")
                    anchor = anchor if is_package else anchor[:-1]
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                names = [f"{base}.{alias.name}" for alias in node.names] + [base]
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                continue
            for name in names:
                target = _resolve(name, known) if name.startswith("streamcls") else None
                if target and target != module:
                    targets.add(target)
        graph[module] = targets
    return graph


def _is_type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _type_checking_imports() -> set[tuple[str, str]]:
    """(module, target) pairs imported only under ``if TYPE_CHECKING:`` (annotations, never run)."""
    pairs = set()
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and inner.module:
                        pairs.add((module, inner.module))
    return pairs


def _edges() -> dict[str, set[str]]:
    graph = import_graph()
    for module, target in _type_checking_imports():
        graph[module].discard(target)
    # A package's __init__ re-exporting its own modules is not a dependency of those modules.
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, state, stack = [], {}, []

    def visit(module: str) -> None:
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return cycles


def _package_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Drop the edges from a package's ``__init__`` to its own modules (re-exports)."""
    return {module: {target for target in targets if not target.startswith(module + ".")}
            for module, targets in graph.items()}


def test_no_import_cycles():
    cycles = _cycles(_package_edges(_edges()))
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_no_module_imports_a_layer_above_its_own():
    upward = sorted(f"{module} (layer {_layer(module)}) imports {target} (layer {_layer(target)})"
                    for module, targets in _edges().items() for target in targets
                    if _layer(target) > _layer(module))
    assert upward == [], "upward imports:\n" + "\n".join(upward)


def test_the_graph_sees_imports_inside_functions():
    """The walk must see lazy imports, or a cycle through one would pass unnoticed."""
    graph = import_graph()
    assert "streamcls.model.load" in graph["streamcls.pipeline.runner"]  # imported inside _load_classifier
    assert "streamcls.config" in graph["streamcls.sources.open"]


@pytest.mark.parametrize("layers, expected", [
    ({"a": {"b"}, "b": {"a"}}, [["a", "b", "a"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
])
def test_the_cycle_finder_finds_cycles(layers, expected):
    assert _cycles(layers) == expected
