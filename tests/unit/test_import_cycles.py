"""No import cycles in app/: every module's imports form a DAG, so any module can be read,
tested and moved without dragging in the ones that import it.

Imports under ``if TYPE_CHECKING:`` are left out (they never run); imports inside
functions count (they run, and a cycle hidden in a function is still a cycle)."""

from __future__ import annotations

import sys
from pathlib import Path

import grimp
import pytest


def import_cycles(package: str) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative),
    each as one shortest cycle through its first module, e.g. ``[a, b, a]``."""
    graph = grimp.build_graph(package, exclude_type_checking_imports=True)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, []))))
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
                    components.append(sorted(component))
    cycles = []
    for component in components:
        first = component[0]
        # In a component someone imports ``first``; the way there stays inside it.
        last = next(m for m in component[1:] if first in edges[m])
        chain = graph.find_shortest_chain(first, last)
        assert chain is not None
        cycles.append([*chain, first])
    return cycles


def test_app_has_no_import_cycle() -> None:
    cycles = import_cycles("app")
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: a two-module package importing each other (one of them inside
    a function, as app's cycles were) is reported; a TYPE_CHECKING import is not."""
    pkg = tmp_path / "cyclepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclepkg import b\n")
    (pkg / "b.py").write_text("def late():\n    from cyclepkg import a\n    return a\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from cyclepkg import d\n")
    (pkg / "d.py").write_text("from cyclepkg import c\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("cyclepkg", None)
    assert import_cycles("cyclepkg") == [["cyclepkg.a", "cyclepkg.b", "cyclepkg.a"]]
