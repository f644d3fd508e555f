"""Client-side rendering: a render area's scene sent to the browser as records and buffers.

- :mod:`~remoteviz.scene_sync.buffers`: geometry arrays quantized, deflated, named by hash;
- :mod:`~remoteviz.scene_sync.records`: a scene flattened into records (:class:`SceneEncoder`);
- :mod:`~remoteviz.scene_sync.decision`: who draws a view (:func:`decide`);
- :mod:`~remoteviz.scene_sync.streams`: what each client-side page is sent (:class:`SceneStreams`);
- :mod:`~remoteviz.scene_sync.export`: a scene as one HTML file or a ``.glb`` (:func:`export_scene`).

``docs/client-side-rendering.md`` describes the modes, who decides and what leaves the server.
"""

from remoteviz.scene_sync.decision import Decision, decide
from remoteviz.scene_sync.export import ExportError, export_scene
from remoteviz.scene_sync.records import SceneEncoder, Snapshot
from remoteviz.scene_sync.streams import SceneStream, SceneStreams

__all__ = ["Decision", "ExportError", "SceneEncoder", "SceneStream", "SceneStreams", "Snapshot", "decide",
           "export_scene"]
