"""No import circle in the package, type-only imports included.

The graph has an edge from module A to module B for every ``remoteviz.*`` import A writes,
wherever it writes it: at module level, under ``if TYPE_CHECKING:``, or inside a function.

- **Type-only imports count.** A module that names another's class in its annotations depends on
  it as much as one that calls it: to read, type-check or change one, you need the other. A circle
  through ``TYPE_CHECKING`` only hides that the two are one unit.
- **Function-level imports count too.** Importing inside a function is right for an optional
  third-party dependency (anywidget, PyAV, OpenGL: none of them is in this graph) or for keeping
  ``import remoteviz`` light, and such an import of a package module is an edge like any other: a
  lazy import that exists only to dodge a circle changes when the module loads, not who depends
  on whom, so it is still a circle.
- A package's ``__init__`` importing its own modules is how a package is made, not a circle; a
  module importing its own package's ``__init__`` back is one.

The one exception is :data:`DOUBLE_DISPATCH`: the scene graph's traversal, with its reason; each of
its edges must stay type-only and still exist (fix one, delete it from the list).
"""

from __future__ import annotations

import ast

from .package_modules import MODULES

Edges = dict[str, dict[str, list[tuple[int, str]]]]
"""importer -> imported -> [(line, how)], ``how`` being "module", "type" or "function"."""


def imports(name: str, source: str | None = None) -> dict[str, list[tuple[int, str]]]:
    """The package's modules that module ``name`` imports, anywhere, with where and how."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, list[tuple[int, str]]] = {}

    def add(target: str, line: int, how: str) -> None:
        if target in MODULES and target != name:
            found.setdefault(target, []).append((line, how))

    def visit(node: ast.AST, how: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            how = "function"
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                visit(child, "type" if how == "module" else how)
            for child in node.orelse:
                visit(child, how)
            return
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                add(submodule if submodule in MODULES else target, node.lineno, how)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno, how)
        for child in ast.iter_child_nodes(node):
            visit(child, how)

    visit(ast.parse(source if source is not None else path.read_text()), "module")
    return found


def graph() -> Edges:
    edges = {name: imports(name) for name in MODULES}
    for name, targets in edges.items():
        for target in [t for t in targets if t.rpartition(".")[0] == name]:
            del targets[target]  # a package's __init__ importing its own modules
    return edges


DOUBLE_DISPATCH = {
    ("remoteviz.rendering.nodes", "remoteviz.rendering.actions"),
    ("remoteviz.rendering.shapes", "remoteviz.rendering.actions"),
    ("remoteviz.rendering.texture", "remoteviz.rendering.actions"),
    ("remoteviz.rendering.text", "remoteviz.rendering.actions"),
    ("remoteviz.rendering.actions", "remoteviz.rendering.camera"),
    ("remoteviz.rendering.actions", "remoteviz.rendering.examiner"),
    ("remoteviz.rendering.actions", "remoteviz.rendering.picking"),
    ("remoteviz.rendering.actions", "remoteviz.rendering.shapes"),
    ("remoteviz.rendering.actions", "remoteviz.rendering.texture"),
}
"""The scene graph's traversal, Open Inventor's double dispatch: a node's ``traverse(action: Action)``
calls ``action.visit_<kind>(self)``, so the node modules name ``Action`` (and ``ShapeInstance``,
what an action records of a shape) and ``actions.py`` names the node classes it visits. Both
directions are type-only here, and at run time ``actions.py`` imports only ``nodes.py``. Removing
the circle means a different traversal (actions that dispatch on the node's class themselves, or
traversal state that names no node kind), a rewrite of the scene graph, not of the service."""

CONNECTION_AND_AREA = {
    ("remoteviz.connection", "remoteviz.render_area"),
}
"""A connection's ``render_area`` is typed ``RenderArea``, and ``render_area.py`` names ``Connection``
(an area's viewers, every ``RenderAreaListener`` method). Breaking it keeps neither the public types
(``Connection.render_area`` as a Protocol would narrow what users and ``scene_sync`` see of it) nor
one module per concern (merging the two): it goes with the service core, where the handles read
their records from the core instead of holding each other (issue 23)."""

KNOWN = DOUBLE_DISPATCH | CONNECTION_AND_AREA


def cycle_through(edges: Edges, start: str) -> list[str] | None:
    """The shortest circle from ``start`` back to it, as module names, or None."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        name = queue.pop(0)
        for other in sorted(edges.get(name, {})):
            if other == start:
                return paths[name] + [start]
            if other not in paths:
                paths[other] = paths[name] + [other]
                queue.append(other)
    return None


def circles(edges: Edges) -> list[str]:
    """Each circle once (by its set of modules), written ``a (line 12, type) -> b (line 3, module) -> a``."""
    seen: set[frozenset[str]] = set()
    found = []
    for name in sorted(edges):
        cycle = cycle_through(edges, name)
        if cycle is None or frozenset(cycle) in seen:
            continue
        seen.add(frozenset(cycle))
        steps = [f"{a} (line {edges[a][b][0][0]}, {edges[a][b][0][1]})" for a, b in zip(cycle, cycle[1:])]
        found.append(" -> ".join(steps + [cycle[-1]]))
    return found


def without(edges: Edges, removed: set[tuple[str, str]]) -> Edges:
    return {a: {b: uses for b, uses in targets.items() if (a, b) not in removed} for a, targets in edges.items()}


def test_no_module_imports_one_that_imports_it_back_even_for_types_or_in_a_function() -> None:
    found = circles(without(graph(), KNOWN))
    assert found == [], "import circles:\n" + "\n".join(found)


def test_each_known_circle_is_still_there_and_type_only() -> None:
    # A known edge that is gone must leave the list; one that became a run-time import is a new circle.
    edges = graph()
    for importer, imported in sorted(KNOWN):
        assert imported in edges[importer], f"{importer} no longer imports {imported}: remove it from the list"
        hows = {how for _, how in edges[importer][imported]}
        assert hows == {"type"}, (importer, imported, edges[importer][imported])


def test_the_check_sees_a_type_only_circle_and_a_function_level_one() -> None:
    # Planted: the lower module names the upper one for a type, then imports it in a function.
    source = MODULES["remoteviz.pipeline.sending"].read_text()
    for planted, how in [("\nif TYPE_CHECKING:\n    from ..connection import Connection\n", "type"),
                         ("\ndef _peek() -> None:\n    from ..connection import Connection\n", "function")]:
        edges = graph()
        edges["remoteviz.pipeline.sending"] = imports("remoteviz.pipeline.sending", source + planted)
        found = circles(without(edges, KNOWN))
        assert any(f"remoteviz.pipeline.sending (line {len(source.splitlines()) + 3}, {how}) -> remoteviz.connection"
                   in c for c in found), found
