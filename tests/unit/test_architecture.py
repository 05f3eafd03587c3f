"""The library's import graph: no module imports itself back through others (no cycles).

import-linter (pyproject ``[tool.importlinter]``, run by CI as ``lint-imports``) keeps the stages
layered; this test covers cycles inside one stage and among the top-level modules too.
"""

import grimp


def _cycles(graph) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.find_modules_directly_imported_by(m)):
            if state.get(n) == 1:
                found.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph.modules):
        if m not in state:
            visit(m)
    return found


def test_cycle_finder_sees_a_planted_cycle():
    graph = grimp.ImportGraph()
    for m in ("p.a", "p.b", "p.c"):
        graph.add_module(m)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.c")
    assert _cycles(graph) == []
    graph.add_import(importer="p.c", imported="p.a")
    assert _cycles(graph) == [["p.a", "p.b", "p.c", "p.a"]]


def test_library_has_no_import_cycle():
    graph = grimp.build_graph("vvae_pipeline")
    assert _cycles(graph) == []
