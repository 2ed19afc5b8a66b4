"""The floor plan holds: no import cycles, no private seams, modules one can read in a sitting,
and the package docstring maps every module.

Read statically (``ast``), so a cycle hidden behind a lazy ``__getattr__`` or an
import inside a function still shows as what it is: module-level imports only
count, which is what Python executes at import time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import fouryousee_data

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fouryousee_data"
TESTS = ROOT / "tests"

#: The most lines a package module may have; the simulator's data generator reads as one piece.
MAX_LINES = 500
LONG_ON_PURPOSE = {"fouryousee_data.simulator.data": 650}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports executed when the module is imported (not inside functions or classes,
    not under ``if TYPE_CHECKING``)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.append(node)
            elif isinstance(node, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(tree.body)
    return found


def imported_modules(node: ast.Import | ast.ImportFrom) -> set[str]:
    """The package modules an import statement loads (``from pkg import submodule`` included)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in MODULES}
    base = node.module or ""
    submodules = {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES}
    names_from_base = len(submodules) < len(node.names)  # `from pkg import submodule` is not
    return submodules | ({base} if base in MODULES and names_from_base else set())


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets: set[str] = set()
        for node in top_level_imports(tree):
            targets |= imported_modules(node)
        edges[name] = targets - {name}
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None (depth-first search, colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := dfs(node)):
            return cycle
    return None


def test_no_import_cycle_among_package_modules() -> None:
    assert find_cycle(graph()) is None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def private_imports(path: Path) -> list[str]:
    """``from fouryousee_data.x import _name`` / ``x._name`` reaching into another module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = module_name(path) if path.is_relative_to(PACKAGE) else None
    bad: list[str] = []
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fouryousee_data"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in MODULES:
                    aliases[alias.asname or alias.name] = full
                elif alias.name.startswith("_") and node.module != own:
                    bad.append(f"line {node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            bad.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return bad


@pytest.mark.parametrize(
    "path",
    [*MODULES.values(), *sorted(TESTS.glob("*.py"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_module_reaches_into_another_modules_private_names(path: Path) -> None:
    assert private_imports(path) == []


@pytest.mark.parametrize("name", sorted(MODULES), ids=str)
def test_modules_are_short_enough_to_read_in_one_sitting(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= LONG_ON_PURPOSE.get(name, MAX_LINES), f"{name}: {lines} lines"


@pytest.mark.parametrize(
    "name", sorted(n for n in MODULES if n.count(".") == 1 and not n.endswith("__main__"))
)
def test_the_package_docstring_maps_every_module(name: str) -> None:
    path = MODULES[name]
    entry = f"{path.parent.name}/" if path.name == "__init__.py" else path.name
    assert fouryousee_data.__doc__ is not None
    assert f" {entry} " in fouryousee_data.__doc__, f"{entry} is missing from the module map"
