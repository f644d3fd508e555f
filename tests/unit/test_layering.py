"""The package's import graph: no module imports another that imports it back when loaded, each loads
alone, the frame path's core (remoteviz/pipeline/) calls nothing up, not even for types, and nothing the
service owns (connections, render areas, HTTP, the launcher, routing, the frame path) names the service."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "remoteviz"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported(name: str, *, with_type_checking: bool) -> set[str]:
    """The package's modules that ``name`` imports when it is loaded (module level, not in functions)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return  # imported on first use, after every module is loaded
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) and not with_type_checking:
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return {m for m in found if m in MODULES and m != name}


def cycles(with_type_checking: bool) -> list[list[str]]:
    graph = {name: imported(name, with_type_checking=with_type_checking) for name in MODULES}
    found, state = [], {}

    def walk(name: str, stack: list[str]) -> None:
        state[name] = "open"
        for other in sorted(graph[name]):
            # A package's __init__ importing its own modules is how a package is made, not a circle.
            if name == other.rpartition(".")[0] or other == name.rpartition(".")[0]:
                continue
            if state.get(other) == "open":
                found.append(stack[stack.index(other):] + [other])
            elif other not in state:
                walk(other, stack + [other])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert cycles(with_type_checking=False) == []


def test_the_frame_path_core_imports_only_the_wire_format_the_back_off_and_itself() -> None:
    allowed = {"remoteviz.protocol", "remoteviz.events", "remoteviz.failures"}
    for name in MODULES:
        if name.startswith("remoteviz.pipeline"):
            outside = {m for m in imported(name, with_type_checking=True) if not m.startswith("remoteviz.pipeline")}
            assert outside <= allowed, (name, outside)


def test_each_service_module_imports_alone_in_a_fresh_interpreter() -> None:
    names = [n for n in MODULES if not n.startswith(("remoteviz.rendering", "remoteviz.sessions"))
             and n not in ("remoteviz.__main__", "remoteviz.notebook")]
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    for name in names:
        done = subprocess.run([sys.executable, "-c", code, name], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (name, done.stderr)


def service_cycles() -> list[list[str]]:
    """Circles through remoteviz.service, counting imports under TYPE_CHECKING too."""
    return [c for c in cycles(with_type_checking=True) if "remoteviz.service" in c]


def test_what_the_service_owns_never_names_the_service_even_for_types() -> None:
    # Connections, render areas, the HTTP side and the launcher get what they call on the service (or its
    # registry) as a Protocol or as callables: none of them imports it back, not even under TYPE_CHECKING.
    owned = [n for n in MODULES if n in ("remoteviz.connection", "remoteviz.render_area", "remoteviz.http",
                                          "remoteviz.launch", "remoteviz.listeners", "remoteviz.frame_path",
                                          "remoteviz.routing", "remoteviz.settings", "remoteviz.admission",
                                          "remoteviz.registry", "remoteviz.handshake", "remoteviz.tls",
                                          "remoteviz.openings")
             or n.startswith("remoteviz.pipeline")]
    assert len(owned) >= 17, owned
    for name in owned:
        assert "remoteviz.service" not in imported(name, with_type_checking=True), name


def test_no_module_the_service_imports_imports_it_back_even_for_types() -> None:
    assert service_cycles() == []


def test_the_circle_checks_see_a_back_import_under_type_checking(tmp_path, monkeypatch) -> None:
    # The two checks above can fail: a type-only back-import, as connection.py had, is a circle to them.
    source = MODULES["remoteviz.connection"].read_text()
    planted = tmp_path / "connection.py"
    planted.write_text(source + "\nif TYPE_CHECKING:\n    from .service import Service\n")
    monkeypatch.setitem(MODULES, "remoteviz.connection", planted)
    assert "remoteviz.service" in imported("remoteviz.connection", with_type_checking=True)
    assert any({"remoteviz.connection", "remoteviz.service"} <= set(c) for c in service_cycles()), service_cycles()
