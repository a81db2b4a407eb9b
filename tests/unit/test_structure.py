"""Tests that guard the structure (docs/ARCHITECTURE.md): the core in
`assistant/` never imports Qt, and its packages import each other without cycles.

The import graph counts every import statement, function-local ones too. A
local import still makes one package depend on the other; putting it in a
function only defers the failure, and that is how the models ↔ speech cycle
hid. Third-party imports are not in the graph, only `assistant.*` ones.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "assistant"
QT_MODULES = ("PySide6", "shiboken6", "PyQt5", "PyQt6")

KNOWN_CYCLES: dict[frozenset[str], str] = {}
"""Cycles that exist and are being removed. The test fails when a new cycle
appears, and when one listed here is gone (so the entry is deleted with it)."""


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """(module, line) of every import in the file, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:  # relative: resolve against the importing package
                raise AssertionError(f"{path}:{node.lineno}: use absolute imports")
            if node.module == "assistant":  # `from assistant import paths`
                for alias in node.names:
                    yield f"assistant.{alias.name}", node.lineno
            else:
                yield node.module, node.lineno


def _package(module: str) -> str:
    """The graph node: `assistant.speech` for `assistant.speech.stt`; a top-level
    module (`assistant.events`) is a node of its own."""
    return ".".join(module.split(".")[:2])


def _graph() -> dict[str, dict[str, list[str]]]:
    """package -> {imported package: ["file:line", ...]}."""
    graph: dict[str, dict[str, list[str]]] = {}
    for module, path in _modules():
        src = _package(module)
        graph.setdefault(src, {})
        for imported, line in _imports(path):
            if imported.split(".")[0] != "assistant" or imported == "assistant":
                continue
            dst = _package(imported)
            if dst != src:
                where = f"{path.relative_to(REPO)}:{line}"
                graph[src].setdefault(dst, []).append(where)
    return graph


def _cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _describe(cycle: list[str], graph: dict[str, dict[str, list[str]]]) -> str:
    members = set(cycle)
    edges = [
        f"  {a} -> {b}: {', '.join(graph[a][b][:3])}"
        for a in cycle
        for b in sorted(graph[a])
        if b in members
    ]
    return " <-> ".join(cycle) + "\n" + "\n".join(edges)


def test_core_never_imports_qt_in_its_source() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{line} imports {name}"
        for _module, path in _modules()
        for name, line in _imports(path)
        if name.split(".")[0] in QT_MODULES
    ]
    assert offenders == []


def test_importing_the_core_does_not_load_qt(tmp_path: Path) -> None:
    # Every module under assistant/, imported in a fresh interpreter: catches Qt
    # arriving through a third-party package too, which the source check cannot see.
    code = (
        "import importlib, pkgutil, sys, assistant\n"
        "for m in pkgutil.walk_packages(assistant.__path__, 'assistant.'):\n"
        "    importlib.import_module(m.name)\n"
        f"print(sorted(k for k in sys.modules if k.split('.')[0] in {QT_MODULES!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PARLEY_HOME": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_graph_sees_function_local_imports() -> None:
    # The guard below is only as good as the graph: a local import must be an edge.
    graph = _graph()
    assert "assistant.speech" in graph["assistant.models"]  # builtin.py imports it in a function
    assert "assistant.audio" in graph["assistant.speech"]


def test_no_import_cycles_between_packages() -> None:
    graph = _graph()
    cycles = _cycles(graph)
    new = [c for c in cycles if frozenset(c) not in KNOWN_CYCLES]
    assert not new, "import cycles between packages:\n" + "\n".join(
        _describe(c, graph) for c in new
    )
    gone = [sorted(k) for k in KNOWN_CYCLES if list(sorted(k)) not in cycles]
    assert not gone, f"no longer cycles, delete them from KNOWN_CYCLES: {gone}"
