"""The layout keeps its promises: no import cycle, each layer imports only those below it,
no module grows past what one person reads in a sitting.

The graph is read from the source (``ast``), type-only imports included: a cycle hidden
behind ``TYPE_CHECKING`` is still a cycle in the design.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "app"
MAX_LINES = 400

# Bottom to top. A module may import from its own layer (without a cycle) or any below it.
# README's "Architecture" section describes the same stages.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("app", "app.settings", "app.observe"),
    ("app.github",),
    ("app.config",),
    ("app.workflows", "app.store", "app.linking.text", "app.linking.scoring",
     "app.linking.index", "app.linking.index_sql", "app.linking.lexical", "app.linking.embeddings",
     "app.linking.vectors", "app.linking.meaning", "app.linking.upgrade",
     "app.linking.decisions"),
    ("app.plan",),
    ("app.linking", "app.slash", "app.handlers"),
    ("app.intake",),
    ("app.dashboard", "app.service", "app.cli", "app.__main__"),
)  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    name = ".".join(parts)
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in ROOT.rglob("*.py")}


def imported(name: str, path: Path, known: set[str]) -> Iterator[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                full = f"{source}.{alias.name}"
                if full in known:
                    yield full
                elif source in known:
                    yield source
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name in known)


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {
        name: {dep for dep in imported(name, path, known) if dep != name}
        for name, path in found.items()
    }


def layer_of(name: str) -> int:
    best, best_len = -1, -1
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = level, len(prefix)
    return best


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(edges.get(node, ())):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_finds_a_cycle_when_there_is_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, " → ".join(cycle or [])


def test_every_module_has_a_layer() -> None:
    assert [name for name in modules() if layer_of(name) < 0] == []


def test_no_layer_imports_a_higher_one() -> None:
    upward = [
        f"{name} (layer {layer_of(name)}) imports {dep} (layer {layer_of(dep)})"
        for name, deps in graph().items()
        for dep in deps
        if layer_of(dep) > layer_of(name)
    ]
    assert upward == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_is_short_enough_to_read(name: str) -> None:
    lines = len(modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by concern"


def test_imports_as_python_sees_them() -> None:
    """The source graph is the real one: every module imports on its own, in a fresh order."""
    import importlib

    for name in sorted(modules(), reverse=True):
        importlib.import_module(name)
