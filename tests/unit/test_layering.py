"""The package's layers: each module loads alone, the frame path's core (remoteviz/pipeline/) calls nothing
up, not even for types, and nothing the service owns (connections, render areas, HTTP, the launcher,
routing, the frame path) names the service; no object reaches into another's private fields. Import
circles (type-only and function-level imports included) are tests/unit/test_import_graph.py's."""

from __future__ import annotations

import ast
import subprocess
import sys

from .package_modules import MODULES, ROOT


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


def test_the_frame_path_core_imports_only_the_wire_format_the_back_off_and_itself() -> None:
    allowed = {"remoteviz.protocol", "remoteviz.events", "remoteviz.failures"}
    for name in MODULES:
        if name.startswith("remoteviz.pipeline"):
            outside = {m for m in imported(name, with_type_checking=True) if not m.startswith("remoteviz.pipeline")}
            assert outside <= allowed, (name, outside)


def test_each_service_module_imports_alone_in_a_fresh_interpreter() -> None:
    names = [n for n in MODULES if not n.startswith(("remoteviz.rendering", "remoteviz.sessions"))
             and n not in ("remoteviz.__main__", "remoteviz.notebook", "remoteviz.notebook_view")]
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    for name in names:
        done = subprocess.run([sys.executable, "-c", code, name], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (name, done.stderr)


def test_what_the_service_owns_never_names_the_service_even_for_types() -> None:
    # Connections, render areas, the HTTP side and the launcher get what they call on the service (or its
    # registry) as a Protocol or as callables: none of them imports it back, not even under TYPE_CHECKING.
    owned = [n for n in MODULES if n in ("remoteviz.connection", "remoteviz.render_area", "remoteviz.http",
                                          "remoteviz.launch", "remoteviz.listeners", "remoteviz.frame_path",
                                          "remoteviz.service_core", "remoteviz.settings", "remoteviz.admission",
                                          "remoteviz.tls", "remoteviz.openings")
             or n.startswith("remoteviz.pipeline")]
    assert len(owned) >= 15, owned
    for name in owned:
        assert "remoteviz.service" not in imported(name, with_type_checking=True), name


def test_nothing_outside_the_testing_package_imports_it() -> None:
    # The fuzzer and the attackers are test tooling: the service never loads them, not even in a function.
    from .test_import_graph import imports

    assert {"remoteviz.testing.fuzz", "remoteviz.testing.abuse"} <= set(MODULES)
    outside = [name for name in MODULES if not name.startswith("remoteviz.testing")]
    users = sorted(name for name in outside for target in imports(name) if target.startswith("remoteviz.testing"))
    assert users == [], users
    # It can fail: a lazy import of the fuzzer in the service is seen.
    planted = MODULES["remoteviz.service"].read_text() + "\n\ndef _f() -> None:\n    from .testing.fuzz import MESSAGE_TYPES\n"
    assert "remoteviz.testing.fuzz" in imports("remoteviz.service", planted)


# ---- no reaching into another object's private fields

NODE_LINKS = {
    "_add_parent": "a scene node that takes another as a child (a group, a camera, a texture) links it back",
    "_remove_parent": "and unlinks it when it lets it go: the scene graph's one way to know a node's parents",
}
"""The only private names used on another object across modules, with why (remoteviz/rendering/)."""


def is_private(name: str) -> bool:
    # Dunders are Python's protocols and _repr_*_ names IPython's display protocol: neither is private.
    return name.startswith("_") and not name.endswith("_")


def own_private_names(tree: ast.Module) -> set[str]:
    """The private names the module's own classes define (methods, class fields, ``self._x`` assignments).

    A Protocol's members are not counted: they are what another object implements, not this module's.
    """
    names: set[str] = set()
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        if any("Protocol" in ast.unparse(base) for base in cls.bases):
            continue
        for node in ast.walk(cls):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(node.name)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self" \
                    and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
    return {n for n in names if is_private(n)}


def reach_ins(source: str) -> list[str]:
    """``x._name`` in ``source`` where ``x`` is not ``self``/``cls`` and ``_name`` is not of its module's classes."""
    tree = ast.parse(source)
    own = own_private_names(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not is_private(node.attr):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        if node.attr not in own and node.attr not in NODE_LINKS:
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_reaches_into_the_private_fields_of_another_modules_objects() -> None:
    # An object owns its state: what others need of it is a public method or property (RenderArea.encoders,
    # Connection.link, ConnectionGroup.attach, ...). Private names are used on self, on cls, or on
    # objects of a class of the same module; the one exception across modules is NODE_LINKS.
    found = [f"{path.relative_to(ROOT)}:{line}" for path in sorted(MODULES.values())
             for line in reach_ins(path.read_text())]
    assert found == [], "\n".join(found)


def test_the_reach_in_check_sees_one_planted_in_the_frame_path() -> None:
    source = MODULES["remoteviz.frame_path"].read_text()
    assert reach_ins(source) == []
    planted = source + "\n\ndef _peek(area: RenderArea) -> object:\n    return area._preview\n"
    assert [line.split(": ", 1)[1] for line in reach_ins(planted)] == ["area._preview"]
    # The service's owner Protocols once had private members: calling one is a reach-in too.
    owner_call = MODULES["remoteviz.connection"].read_text().replace("self._owner.send(", "self._owner._send(")
    assert [line.split(": ", 1)[1] for line in reach_ins(owner_call)] == ["self._owner._send"]


# ---- the network side: each object uses its own private members only, within one module too

NETWORK_SIDE = ("remoteviz.transport", "remoteviz.link", "remoteviz.network_thread")
"""The server (Transport), one connection (Link) and their thread (NetworkThread): owners with public interfaces."""


def strict_reach_ins(source: str) -> list[str]:
    """``x._name`` in ``source`` where ``x`` is anything but ``self`` or ``cls``, whichever class defines ``_name``."""
    return [f"{node.lineno}: {ast.unparse(node)}" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and is_private(node.attr)
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))]


def test_the_transport_its_links_and_their_thread_use_only_their_own_private_members() -> None:
    # Transport and Link once reached into each other both ways (link._enqueue, link._pong_waiters,
    # link._sender, self._transport._events, self._transport._tasks), which the module-wide check above
    # let pass while both were in one module: here no object of theirs touches another's `_name` at all.
    assert set(NETWORK_SIDE) <= set(MODULES)
    found = [f"{name}:{line}" for name in NETWORK_SIDE for line in strict_reach_ins(MODULES[name].read_text())]
    assert found == [], "\n".join(found)


def test_the_strict_check_sees_reach_ins_the_module_wide_one_lets_pass() -> None:
    transport = MODULES["remoteviz.transport"].read_text()
    assert strict_reach_ins(transport) == []
    # The transport reading a private field of a class of its own module: the module-wide check passes it.
    planted = transport + "\n\ndef _ticket_of(websocket: _CountedConnection) -> object:\n    return websocket._ticket\n"
    assert reach_ins(planted) == []
    assert [line.split(": ", 1)[1] for line in strict_reach_ins(planted)] == ["websocket._ticket"]
    # The transport driving a link's reading itself, as it once did.
    assert "await link.receive()" in transport
    planted = transport.replace("await link.receive()", "await link._read()")
    assert [line.split(": ", 1)[1] for line in strict_reach_ins(planted)] == ["link._read"]
    # A link reaching back through what it was given, one attribute deeper.
    link = MODULES["remoteviz.link"].read_text()
    assert "self._network.spawn(" in link
    planted = link.replace("self._network.spawn(", "self._network._tasks.add(")
    assert [line.split(": ", 1)[1] for line in strict_reach_ins(planted)] == ["self._network._tasks"]
