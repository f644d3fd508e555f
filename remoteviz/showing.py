"""``rv.show(obj)``: see a mesh, a volume, points or a file in one line, in a notebook or a script.

    import remoteviz as rv
    rv.show("part.stl")                  # a file
    rv.show(trimesh.load("part.glb"))    # a trimesh mesh or scene
    rv.show(np.load("ct.npy"))           # a 3-D array: a volume
    rv.show(points)                      # an (N, 3) array: a point cloud
    rv.show(rv.Cone())                   # a scene node

In a Jupyter kernel it returns a live view of a new render area of the kernel's service (started
with :func:`remoteviz.notebook.start` when it is not open yet), shown by the cell. Anywhere else it
serves the built-in viewer page as ``remoteviz view`` does: it prints the URL to open, serves until
Ctrl-C, then returns None.
"""

from __future__ import annotations

import itertools
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .notebook import RenderAreaView
    from .rendering import Node

_shown = itertools.count(1)  # the notebook's render areas: show-1, show-2, ...


def scene_nodes(obj: Any) -> list[Node]:
    """The scene nodes that show ``obj``: a scene node as it is; a file path read by ``rv.load``
    (volumes, point clouds, CAD parts, meshes); a trimesh ``Trimesh``, ``Scene`` or
    ``PointCloud``; a numpy array of 3 dimensions as a :class:`~remoteviz.Volume`, of shape
    (N, 3) as a :class:`~remoteviz.PointSet`; a list or tuple of any of these, together.

    Raises TypeError for anything else, and what reading a file raises for a file it cannot read.
    """
    from . import rendering

    if isinstance(obj, rendering.Node):
        return [obj]
    if isinstance(obj, (str, os.PathLike)):
        return [_read(os.fspath(obj))]
    if isinstance(obj, (list, tuple)):
        return [node for item in obj for node in scene_nodes(item)]
    if type(obj).__module__.split(".")[0] == "trimesh":
        return [_from_trimesh(obj)]
    if hasattr(obj, "__array__") or hasattr(obj, "shape"):
        import numpy as np

        array = np.asarray(obj)
        if array.ndim == 3:
            data = array if array.dtype in (np.uint8, np.uint16, np.float32) else array.astype(np.float32)
            return [rendering.Volume(data, name="volume")]
        if array.ndim == 2 and array.shape[1] == 3:
            return [rendering.PointSet(array.astype(np.float32), name="points")]
        raise TypeError(f"rv.show takes a 3-D array (a volume) or an (N, 3) array (points), not shape {array.shape}")
    raise TypeError(f"rv.show cannot show a {type(obj).__name__}: give it a file path, a trimesh mesh or scene, "
                    "a numpy volume or (N, 3) points, or a scene node")


def _read(path: str) -> Node:
    """A file's scene node, as ``rv.load`` reads it."""
    from .loading import load

    return load(path)


def _from_trimesh(obj: Any) -> Node:
    import numpy as np
    import trimesh

    from .rendering import Mesh, PointSet

    if isinstance(obj, trimesh.PointCloud):
        own = obj.colors if len(obj.colors) == len(obj.vertices) else None
        return PointSet(np.asarray(obj.vertices, np.float32), own, name="points")
    if isinstance(obj, trimesh.Scene):
        obj = obj.to_geometry()  # the scene's meshes, placed by their transforms, as one
    if not isinstance(obj, trimesh.Trimesh):
        raise TypeError(f"rv.show cannot show a trimesh {type(obj).__name__}")
    visual: Any = obj.visual
    colours: dict[str, Any] = {}
    if isinstance(visual, trimesh.visual.ColorVisuals) and visual.kind == "vertex":
        colours["colors"] = visual.vertex_colors
    elif isinstance(visual, trimesh.visual.ColorVisuals) and visual.kind == "face":
        colours["face_colors"] = visual.face_colors
    return Mesh(obj.vertices, obj.faces, name=str(obj.metadata.get("name", "mesh")), **colours)


def _in_a_kernel() -> bool:
    """True in a Jupyter kernel (JupyterLab, Notebook, VS Code), not in a terminal IPython."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and hasattr(shell, "kernel")


def show(obj: Any, width: int = 640, height: int = 480, *, host: str = "127.0.0.1", port: int = 8080,
         open_browser: bool = False) -> RenderAreaView | None:
    """Show ``obj`` (see :func:`scene_nodes`) in an examiner: drag to turn, wheel to zoom.

    In a Jupyter kernel: a live view of a new ``width`` x ``height`` render area, for the cell to
    show; the kernel's service is started (:func:`remoteviz.notebook.start`) unless open. Elsewhere:
    serves the built-in viewer page on ``host``:``port`` (0: any free port) as ``remoteviz view``
    does, printing its URL (opening it with ``open_browser``), until Ctrl-C; returns None.
    Raises TypeError for what it cannot show, OSError when the service cannot open.
    """
    nodes = scene_nodes(obj)
    if _in_a_kernel():
        from . import notebook
        from .cli import viewer_scene
        from .service import Service

        service = Service.instance()
        if not service.is_open:
            notebook.start(service=service)
        area = service.create_render_area(f"show-{next(_shown)}", width, height)
        viewer_scene(area, nodes)
        return notebook.view(area, service=service)
    from .cli import serve

    if serve(nodes, host=host, port=port, open_browser=open_browser) != 0:
        raise OSError(f"the service could not open on {host}:{port}; see the log")
    return None


__all__ = ["scene_nodes", "show"]
