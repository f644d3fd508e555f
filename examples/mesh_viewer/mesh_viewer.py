"""Mesh viewer: a mesh file in the examiner, colour and reset buttons, picking in SELECTION mode.

    python examples/mesh_viewer/mesh_viewer.py [FILE] [--host 127.0.0.1] [--port 8080]

then open the URL it logs. FILE is any mesh trimesh reads (default: bracket.stl beside this
script). The page's buttons send JSON messages; the service answers with JSON too:

- page to service: ``{"color": "#rrggbb"}``, ``{"reset": true}``, ``{"mode": "selection"|"navigation"}``
- service to page: ``{"mode": "SELECTION"}`` when the mode changes (the buttons or Escape),
  ``{"picked": {"point": [x, y, z], "triangle": n, "path": ["names", ...]}}`` or
  ``{"picked": null}`` for a click in SELECTION mode.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import remoteviz as rv

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
DEFAULT_FILE = HERE / "bracket.stl"


def parse_color(text: str) -> tuple[float, float, float]:
    """``#rrggbb`` as an RGB colour from 0 to 1; ValueError for anything else."""
    if len(text) != 7 or text[0] != "#":
        raise ValueError(f"not a #rrggbb colour: {text!r}")
    return (int(text[1:3], 16) / 255.0, int(text[3:5], 16) / 255.0, int(text[5:7], 16) / 255.0)


class ViewerArea(rv.RenderAreaListener):
    """One render area's scene: the examiner, the model's material, the pick callback."""

    def __init__(self, render_area: rv.RenderArea, model: rv.Mesh) -> None:
        self.material = rv.Material()
        self.examiner = rv.SceneExaminer([rv.GradientBackground(), rv.Separator([self.material, model])])
        picker = rv.EventCallback()
        picker.add_event_callback(rv.MouseEvent, self.clicked)
        self.examiner.add_child(picker)
        render_area.scene_manager.scene_graph = self.examiner
        self.examiner.view_all(render_area.viewport)
        self.examiner.save_home()
        render_area.touch_manager.add_default_recognizers()
        self.examiner.add_mode_listener(
            lambda mode: render_area.send_message(json.dumps({"mode": mode.name})))

    def clicked(self, action: rv.HandleEventAction) -> bool:
        """SELECTION mode: tell the browser that clicked what lies under the pointer."""
        event = action.event
        if not isinstance(event, rv.MouseEvent) or event.action is not rv.MouseAction.DOWN:
            return False
        hit = action.picked_point
        picked = None if hit is None else {
            "point": [round(float(v), 4) for v in hit.point],
            "triangle": hit.index,
            "path": [node.name or type(node).__name__ for node in hit.path],
        }
        if action.connection is not None:
            action.connection.send_message(json.dumps({"picked": picked}))
        return True

    def on_received_message(self, render_area: rv.RenderArea, connection: rv.Connection,
                            message: str | bytes) -> None:
        try:
            request = json.loads(message)
            if "color" in request:
                self.material.diffuse_color = parse_color(str(request["color"]))
            if request.get("reset"):
                self.examiner.reset_home()
            if "mode" in request:
                self.examiner.interaction_mode = rv.InteractionMode(request["mode"])
        except (ValueError, TypeError, AttributeError) as error:  # a page's mistake: tell that page alone
            connection.send_message(json.dumps({"error": f"bad request {message!r}: {error}"}))


class MeshViewer(rv.ServiceListener):
    """Every render area shows the same file, each with its own camera and colour."""

    def __init__(self, path: Path) -> None:
        self.model = rv.Mesh.from_file(path)  # loaded once, shared by every render area's scene

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        render_area.add_listener(ViewerArea(render_area, self.model))


def main(argv: list[str] | None = None) -> None:
    """Run the mesh viewer until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE, help="a mesh file (default bracket.stl)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0: any free one)")
    args = parser.parse_args(argv)
    service = rv.Service.instance()
    service.add_listener(MeshViewer(args.file))
    service.run(rv.ServiceSettings(host=args.host, port=args.port, static_dir=str(STATIC_DIR)))


if __name__ == "__main__":
    main()
