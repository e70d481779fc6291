"""The house flows one way: no module of the core or of any plugin imports another in a circle (lazy
imports included), and low layers load no high layer when imported alone."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOTS = [REPO / "sdk", *sorted(p / "src" for p in (REPO / "plugins").glob("*") if (p / "src").is_dir())]


def module_graph() -> dict[str, set[str]]:
    """{module: modules of the repo it imports anywhere in its body (function-level imports too)}."""
    files = {}
    for root in ROOTS:
        for f in root.rglob("*.py"):
            name = ".".join(f.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
            files[name] = f
    graph: dict[str, set[str]] = {}
    for mod, f in files.items():
        deps: set[str] = set()
        package = mod.split(".") if f.name == "__init__.py" else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                while name and name not in files:
                    name = name.rpartition(".")[0]
                if name and name != mod and not mod.startswith(name + "."):
                    deps.add(name)
        graph[mod] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_in_the_core_or_any_plugin():
    graph = module_graph()
    assert len([m for m in graph if m.startswith("embedspec.")]) > 40, "the scan found too few modules"
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize(("module", "must_not_load"), [
    ("embedspec.errors", ["embedspec.registry", "embedspec.plugins", "embedspec.base"]),
    ("embedspec.registry", ["embedspec.plugins", "embedspec.base", "embedspec.spec", "embedspec.pipeline"]),
    ("embedspec.base", ["embedspec.plugins", "embedspec.spec", "embedspec.pipeline", "embedspec.builtin.exact"]),
    ("embedspec.builtin.exact", ["embedspec.plugins", "embedspec.spec", "embedspec.pipeline"]),
    ("embedspec.spec", ["embedspec.pipeline", "embedspec.eval", "embedspec.serve"]),
    ("embedspec.pipeline", ["embedspec.eval", "embedspec.serve", "embedspec.cli"]),
])
def test_a_low_layer_imported_alone_loads_no_higher_layer(module, must_not_load):
    code = f"import json, sys, {module}; print(json.dumps(sorted(m for m in sys.modules if m.startswith('embedspec'))))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert [m for m in must_not_load if m in loaded] == [], loaded
