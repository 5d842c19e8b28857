"""No import cycles anywhere in the repository's packages, type-only imports included, and no
module named like a standard-library module.

Every ``import`` and ``from ... import`` statement counts, also those under ``if TYPE_CHECKING``
or inside functions: a cycle of any kind means two modules that should be one, or a shared piece
that belongs in a lower module.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Every top-level package of the repository (a folder with an __init__.py), found, not listed, so
#: a new package is checked from its first commit.
PACKAGES = tuple(sorted(p.parent.name for p in ROOT.glob("*/__init__.py")))


def module_files() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the repository modules it imports (a package's import counts as its __init__)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
                targets = [t if t in modules else node.module for t in targets]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            for target in targets:
                # Importing a.b.c runs a/__init__ and a/b/__init__ first.
                parts = target.split(".")
                for i in range(1, len(parts) + 1):
                    prefix = ".".join(parts[:i])
                    inside = name == prefix or name.startswith(prefix + ".")
                    if prefix in modules and not inside:
                        graph[name].add(prefix)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_checker_finds_a_cycle_it_is_shown() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_a_type_only_import_counts(tmp_path: Path) -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import X\n"
    tree = ast.parse(source)
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert "pkg.b" in imported  # ast.walk reaches imports under TYPE_CHECKING


def test_no_import_cycles_in_the_repository() -> None:
    modules = module_files()
    assert len(modules) > 50
    graph = import_graph(modules)
    assert "service.model.core" in graph["service.model.loading"]
    assert cycles(graph) == []


def test_every_package_is_checked() -> None:
    assert {"service", "train", "convert", "batch", "drift", "rollout", "ops"} <= set(PACKAGES)


def test_no_module_is_named_like_a_standard_library_module() -> None:
    """A module named ``http`` or ``profile`` shadows the standard library's for scripts run
    from its folder and misleads readers; ``__init__``/``__main__`` are the only shared names."""
    clashes = [
        name
        for name in module_files()
        if any(
            part in sys.stdlib_module_names and part not in ("__init__", "__main__")
            for part in name.split(".")
        )
    ]
    assert clashes == []
