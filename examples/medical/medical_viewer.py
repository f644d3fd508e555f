"""Medical viewer: a CT series shown as a volume with its three orthogonal slices beside it.

    python examples/medical/medical_viewer.py [DICOM_FOLDER_OR_FILE] [--host 127.0.0.1] [--port 8080]

then open http://127.0.0.1:8080/ . Without a path, a synthetic CT series is written with pydicom
to a temporary folder first (``synthetic_ct.py``). The page shows four render areas: the volume
("Volume", placed in patient coordinates) and the axial, coronal and sagittal slices
("Axial", "Coronal", "Sagittal", in the radiological convention: the patient's right on the
screen's left). Its controls send JSON messages: a window/level preset (the file's own, brain,
soft tissue, lung, bone, liver; in Hounsfield units) and each slice's position. A double click
on any view picks the voxel there and the page shows its value in HU and its patient coordinates.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import remoteviz as rv
from remoteviz.loading import CT_WINDOWS, volume_look, volume_node

STATIC_DIR = Path(__file__).resolve().parent / "static"
VIEWS = ("Volume", "Axial", "Coronal", "Sagittal")
"""The render areas the page opens; an unknown area id shows the volume."""

_SLICE_AXES = {"Axial": "z", "Coronal": "y", "Sagittal": "x"}
# Each slice view's camera, in the volume's image axes (x: columns, y: rows, z: slices; for an
# axial series x is the patient's left, y the back, z the head): looking up from the feet with the
# front up, from the front with the head up, from the patient's left with the head up.
_CAMERA_TURNS = {
    "Axial": rv.Rotation.from_axis_angle((1.0, 0.0, 0.0), math.pi),
    "Coronal": rv.Rotation.from_axis_angle((1.0, 0.0, 0.0), math.pi / 2.0),
    "Sagittal": rv.Rotation.from_matrix(np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])),
}

log = logging.getLogger("medical_viewer")


def _find(node: rv.Node, kind: type[Any]) -> Any:
    if isinstance(node, kind):
        return node
    for child in getattr(node, "children", ()):
        found = _find(child, kind)
        if found is not None:
            return found
    return None


class MedicalScene:
    """The loaded series, its three slices (shared by every page) and the page messages that move
    them. Messages are JSON objects with any of ``window`` (a preset name, or ``"file"``) and
    ``axial``/``coronal``/``sagittal`` (a slice index)."""

    def __init__(self, path: str | Path) -> None:
        data = rv.read_volume(path)
        self.node = volume_node(data, name=Path(path).name)
        self.volume: rv.Volume = _find(self.node, rv.Volume)
        self.placement: rv.Transform = _find(self.node, rv.Transform)
        self.file_window = volume_look(data).slice_window
        nz, ny, nx = self.volume.data.shape
        counts = {"z": nz, "y": ny, "x": nx}
        self.slices = {view: rv.OrthoSlice.of_volume(self.volume, axis=axis, index=counts[axis] // 2, name=view)
                       for view, axis in _SLICE_AXES.items()}
        self.set_window(*self.file_window)

    def set_window(self, low: float, high: float) -> None:
        """Show ``low`` .. ``high`` (HU) from black to white on every slice."""
        for view in self.slices.values():
            view.window, view.level = high - low, (low + high) / 2.0

    def root(self, view: str) -> rv.SceneExaminer:
        """The scene of render area ``view``."""
        root = rv.SceneExaminer()
        root.add_child(rv.GradientBackground(top_color=(0.1, 0.1, 0.12), bottom_color=(0.0, 0.0, 0.0)))
        if view in self.slices:
            root.camera = rv.OrthographicCamera(orientation=_CAMERA_TURNS[view])
            root.add_child(self.slices[view])
        else:
            root.camera.orientation = _CAMERA_TURNS["Coronal"]  # from the front, the head up
            root.add_child(self.node)
        return root

    def positions(self) -> dict[str, dict[str, int]]:
        """Each slice's index and how many there are, for the page's sliders."""
        return {view.lower(): {"index": self.slices[view].index,
                               "count": self.volume.data.shape[2 - "xyz".index(axis)]}
                for view, axis in _SLICE_AXES.items()}

    def apply_message(self, message: str | bytes) -> None:
        """Apply one page message; raises ``ValueError`` with a reason for a bad one."""
        if len(message) > 1024:
            raise ValueError("message too long")
        try:
            fields = json.loads(message)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"not JSON: {error}") from None
        if not isinstance(fields, dict):
            raise ValueError("expected a JSON object")
        unknown = set(fields) - {"window", "axial", "coronal", "sagittal"}
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        if "window" in fields:
            name = fields["window"]
            if name == "file":
                self.set_window(*self.file_window)
            elif name in CT_WINDOWS:
                level, width = CT_WINDOWS[name]
                self.set_window(level - width / 2.0, level + width / 2.0)
            else:
                raise ValueError(f"unknown window {name!r}; known: file, {', '.join(CT_WINDOWS)}")
        for view, axis in _SLICE_AXES.items():
            if view.lower() in fields:
                count = self.volume.data.shape[2 - "xyz".index(axis)]
                index = fields[view.lower()]
                if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
                    raise ValueError(f"{view.lower()} must be a slice index from 0 to {count - 1}")
                self.slices[view].index = index

    def pick(self, scene_manager: rv.SceneManager, x: int, y: int, width: int, height: int) -> dict[str, object]:
        """The value and patient coordinates under a pixel, for the page."""
        picked = scene_manager.pick(x, y, width, height)
        if picked is None or picked.value is None:
            return {"picked": None}
        point = np.asarray(picked.point, dtype=np.float64)
        if picked.node is not self.volume:  # a slice view draws in image axes: place it as the volume is
            point = (self.placement.matrix @ np.append(point, 1.0))[:3]
        return {"picked": {"value": round(float(picked.value), 1), "view": picked.node.name,
                           "point": [round(float(c), 1) for c in point]}}


def _message_error(connection: rv.Connection, error: ValueError) -> None:
    connection.send_message(json.dumps({"error": str(error)}))  # to that page alone


class MedicalAreaListener(rv.RenderAreaListener):
    """Applies the page's messages and answers double clicks with the value picked."""

    def __init__(self, scene: MedicalScene) -> None:
        self.scene = scene

    def on_opened_connection(self, render_area: rv.RenderArea, connection: rv.Connection,
                             frame_encoders: rv.FrameEncoders) -> None:
        connection.send_message(json.dumps({"slices": self.scene.positions()}))  # the sliders' ranges

    def on_received_message(self, render_area: rv.RenderArea, connection: rv.Connection,
                            message: str | bytes) -> None:
        try:
            self.scene.apply_message(message)
        except ValueError as error:
            _message_error(connection, error)

    def on_mouse_double_click(self, render_area: rv.RenderArea, connection: rv.Connection, x: int, y: int,
                              button: int, *, event: rv.MouseEvent) -> bool:
        answer = self.scene.pick(render_area.scene_manager, x, y, render_area.width, render_area.height)
        connection.send_message(json.dumps(answer))
        return True


class MedicalServiceListener(rv.ServiceListener):
    """Gives each of the page's render areas its view of one loaded series."""

    def __init__(self, path: str | Path) -> None:
        self.scene = MedicalScene(path)

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        root = self.scene.root(render_area.id)
        render_area.scene_manager.scene_graph = root
        root.view_all(render_area.viewport)
        render_area.touch_manager.add_default_recognizers()
        render_area.add_listener(MedicalAreaListener(self.scene))


def synthetic_series() -> Path:
    """A synthetic CT series written by pydicom into a temporary folder."""
    from synthetic_ct import phantom, write_series

    folder = Path(tempfile.mkdtemp(prefix="remoteviz-ct-"))
    write_series(folder, phantom())
    return folder


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", help="a DICOM series folder or file (default: a synthetic CT series)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the medical viewer until Ctrl-C."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    path = args.path or synthetic_series()
    service = rv.Service.instance()
    try:
        service.add_listener(MedicalServiceListener(path))
    except rv.ReadError as error:
        raise SystemExit(f"medical_viewer: {error}") from None
    service.run(rv.ServiceSettings(host=args.host, port=args.port, static_dir=str(STATIC_DIR)))


if __name__ == "__main__":
    main()
