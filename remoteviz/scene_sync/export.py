"""Single-file export: a scene as one self-contained HTML page (viewer and model inline, opens
from disk with no network) or as glTF binary (``.glb``) for other tools.

The HTML file holds the same records and deflated buffers client-side rendering streams, and the
browser client's WebGL renderer and examiner, inlined as one classic script (ES modules do not
load from ``file://``). A model too big for one file is refused with the reason.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remoteviz.scene_sync.records import SceneEncoder, Snapshot

if TYPE_CHECKING:
    from remoteviz.rendering import SceneManager
    from remoteviz.rendering.actions import Frame
    from remoteviz.rendering.nodes import Node

log = logging.getLogger("remoteviz")

MAX_HTML_GEOMETRY_BYTES = 48 << 20
"""The most deflated geometry one HTML export holds (64 MiB once in base64): browsers open bigger
pages slowly or not at all. Beyond it, export ``.glb``."""

CLIENT_DIR = Path(__file__).resolve().parents[1] / "client_js"
"""The browser client's modules, inlined into HTML exports."""

VIEWER_MODULE = "standalone.js"

_IMPORT = re.compile(r'^import\s*\{([^}]*)\}\s*from\s*"\./([\w-]+\.js)";\s*$', re.M)
_EXPORT = re.compile(r"^export\s+(?:async\s+)?(?:function|class|const|let)\s+(\w+)", re.M)


class ExportError(ValueError):
    """The scene cannot be exported to that file; the message says why and what to do instead."""


def bundle(entry: str = VIEWER_MODULE, source: Path = CLIENT_DIR) -> str:
    """The client module ``entry`` and everything it imports, as one classic script that sets
    ``remoteviz.modules[name]`` to each module's exports, dependencies first."""
    order: list[str] = []

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in trail:
            raise ValueError(f"the client modules import each other in a circle: {' -> '.join(trail + (name,))}")
        for _, dependency in _IMPORT.findall((source / name).read_text()):
            visit(dependency, (*trail, name))
        order.append(name)

    visit(entry, ())
    parts = ["var remoteviz = { modules: {} };"]
    for name in order:
        text = (source / name).read_text()
        imports = "".join(f"const {{{names}}} = remoteviz.modules[{json.dumps(module)}];\n"
                          for names, module in _IMPORT.findall(text))
        exports = _EXPORT.findall(text)
        body = _EXPORT.sub(lambda m: m.group(0).removeprefix("export").lstrip(), _IMPORT.sub("", text))
        parts.append(f"remoteviz.modules[{json.dumps(name)}] = (() => {{\n{imports}{body}\n"
                     f"return {{ {', '.join(exports)} }};\n}})();")
    return "\n".join(parts)


def _frame(scene: SceneManager | Node, width: int, height: int) -> Frame:
    from remoteviz.rendering import SceneManager

    if isinstance(scene, SceneManager):
        return scene.view_frame(width, height)
    manager = SceneManager()
    manager.scene_graph = scene
    try:
        return manager.view_frame(width, height)
    finally:
        manager.scene_graph = None


def export_html(snapshot: Snapshot, title: str = "remoteviz") -> str:
    """The text of a self-contained HTML page that shows ``snapshot``."""
    if snapshot.unsupported:
        raise ExportError(f"the scene holds what the exported page cannot draw ({', '.join(sorted(snapshot.unsupported))}):"
                          " export a .glb instead, or show it with `remoteviz view`")
    size = snapshot.geometry_bytes
    if size > MAX_HTML_GEOMETRY_BYTES:
        raise ExportError(f"the model needs {size / (1 << 20):.0f} MiB of geometry in one HTML file, over the "
                          f"{MAX_HTML_GEOMETRY_BYTES >> 20} MiB an HTML export holds: export a .glb instead, or "
                          "show it with `remoteviz view`")
    model = {
        "scene": {"type": "scene", "seq": 1, "full": True, "records": list(snapshot.records.values()),
                  "removed": [], "buffers": {n: len(b.deflated) for n, b in snapshot.buffers.items()},
                  **snapshot.extra},
        "buffers": {name: base64.b64encode(b.deflated).decode("ascii") for name, b in snapshot.buffers.items()},
    }
    # "</" would end the script element early.
    data = json.dumps(model, separators=(",", ":")).replace("</", "<\\/")
    script = bundle().replace("</script", "<\\/script")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<title>{html.escape(title)}</title>
<style>html, body {{ margin: 0; height: 100%; background: #000; }} #view {{ width: 100%; height: 100%; touch-action: none; outline: none; }}</style>
</head>
<body>
<div id="view" tabindex="0" role="application" aria-label="{html.escape(title)}: drag to turn, wheel to zoom, Home to come back"></div>
<script type="application/json" id="remoteviz-model">{data}</script>
<script>
{script}
window.remoteviz.model = remoteviz.modules["standalone.js"].showModel(document.getElementById("view"),
    JSON.parse(document.getElementById("remoteviz-model").textContent));
</script>
</body>
</html>
"""


def export_glb(frame: Frame) -> bytes:
    """glTF binary of the frame's meshes and point sets, each under its world matrix and in its
    material's diffuse colour (or its own colours). What glTF cannot hold is logged and left out."""
    import numpy as np
    import trimesh

    from remoteviz.rendering.points import PointGeometry
    from remoteviz.rendering.shapes import Geometry

    scene = trimesh.Scene()
    left_out: set[str] = set()
    for number, instance in enumerate(frame.shapes):
        geometry = instance.shape.geometry
        name = instance.shape.name or f"{type(instance.shape).__name__.lower()}{number}"
        diffuse = np.array([*instance.material.diffuse_color, 1.0 - instance.material.transparency])
        colors: Any
        if type(geometry) is Geometry:
            colors = geometry.colors if geometry.colors is not None else np.tile(diffuse, (len(geometry.positions), 1))
            item: Any = trimesh.Trimesh(vertices=geometry.positions, faces=geometry.indices,
                                        vertex_normals=geometry.normals,
                                        vertex_colors=np.rint(np.clip(colors, 0, 1) * 255).astype(np.uint8),
                                        process=False)
        elif type(geometry) is PointGeometry:
            colors = geometry.colors if geometry.colors is not None else np.tile(diffuse, (len(geometry.positions), 1))
            item = trimesh.PointCloud(  # type: ignore[no-untyped-call]
                geometry.positions, colors=np.rint(np.clip(colors, 0, 1) * 255).astype(np.uint8))
        else:
            left_out.add(type(instance.shape).__name__)
            continue
        scene.add_geometry(item, node_name=f"{name}#{number}", transform=instance.model)
    if left_out:
        log.warning("glTF export leaves out what it cannot hold: %s", ", ".join(sorted(left_out)))
    if not scene.geometry:
        raise ExportError("the scene holds nothing a .glb can hold (meshes or point sets)")
    data: bytes = scene.export(file_type="glb")  # type: ignore[no-untyped-call]
    return data


def export_scene(scene: SceneManager | Node, path: str | os.PathLike[str], *, width: int = 1280,
                 height: int = 720, title: str | None = None) -> int:
    """Write ``scene`` (a scene manager, or a scene graph's root) to ``path``: ``.html`` for one
    self-contained page that opens from disk, ``.glb`` for glTF binary. ``width`` x ``height`` is
    the view the default camera frames (a scene with a camera keeps its own). Returns the bytes
    written; raises :class:`ExportError` (a ValueError) for a scene the format cannot hold.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    frame = _frame(scene, width, height)
    if suffix in (".html", ".htm"):
        data = export_html(SceneEncoder().snapshot(frame), title or target.stem).encode()
    elif suffix == ".glb":
        data = export_glb(frame)
    else:
        raise ExportError(f"cannot tell the format of {target.name!r}: name it .html or .glb")
    target.write_bytes(data)
    return len(data)
