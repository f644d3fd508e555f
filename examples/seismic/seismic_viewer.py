"""Seismic viewer: a SEG-Y survey with an inline, a crossline and a time slice moved from the page.

    python examples/seismic/seismic_viewer.py [SURVEY.sgy] [--host 127.0.0.1] [--port 8080]

then open http://127.0.0.1:8080/ . Without a path, a synthetic survey is written with segyio to a
temporary file first (``synthetic_survey.py``). The survey is placed at its CDP coordinates, time
pointing down, and drawn through a colour map symmetric about zero: the amplitudes as a faint
volume, and three slices through them. The page's sliders send JSON messages (``inline``,
``crossline``, ``time``: an index along that axis; ``volume``: true or false to show the volume);
a double click picks the amplitude under the pointer, and the page shows it with its inline,
crossline and time.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import remoteviz as rv
from remoteviz.loading import volume_node

STATIC_DIR = Path(__file__).resolve().parent / "static"
AREA = "Survey"

# The volume's array is (inline, crossline, sample): an inline is a plane of constant z index.
_SLICE_AXES = {"inline": "z", "crossline": "y", "time": "x"}
_VOLUME_OPACITY = 0.35

log = logging.getLogger("seismic_viewer")


def _find(node: rv.Node, kind: type[Any]) -> Any:
    if isinstance(node, kind):
        return node
    for child in getattr(node, "children", ()):
        found = _find(child, kind)
        if found is not None:
            return found
    return None


class SeismicScene:
    """The survey's volume, its three slices and the page messages that move them."""

    def __init__(self, path: str | Path) -> None:
        self.data = rv.read_volume(path)
        self.node = volume_node(self.data, name=Path(path).name)
        self.volume: rv.Volume = _find(self.node, rv.Volume)
        self.volume.transfer_function = self.volume.transfer_function.with_opacity(_VOLUME_OPACITY)
        low, high = self.volume.effective_range()
        n_il, n_xl, n_samples = self.volume.data.shape
        middle = {"inline": n_il // 2, "crossline": n_xl // 2, "time": n_samples // 2}
        self.slices = {name: rv.OrthoSlice.of_volume(self.volume, axis=axis, index=middle[name], colormap="seismic",
                                                     window=high - low, level=(low + high) / 2.0, name=name)
                       for name, axis in _SLICE_AXES.items()}
        self.volume_switch = rv.Switch([self.volume], which_child=0)
        # The slices join the volume under the survey's placement, so they sit at its coordinates.
        self.node.remove_child(self.volume)
        self.node.add_child(self.volume_switch)
        for view in self.slices.values():
            self.node.add_child(view)

    def root(self) -> rv.SceneExaminer:
        """A scene root for one render area: its own camera, looking at the survey from the side."""
        root = rv.SceneExaminer()
        root.camera.orientation = rv.Rotation.from_axis_angle((1.0, 0.0, 0.0), 1.1)
        root.add_child(rv.GradientBackground(top_color=(0.55, 0.6, 0.7), bottom_color=(0.15, 0.15, 0.2)))
        root.add_child(self.node)
        return root

    def positions(self) -> dict[str, dict[str, int]]:
        """Each slice's index and how many there are, for the page's sliders."""
        return {name: {"index": view.index, "count": self.volume.data.shape[2 - "xyz".index(_SLICE_AXES[name])]}
                for name, view in self.slices.items()}

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
        unknown = set(fields) - {*_SLICE_AXES, "volume"}
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        if "volume" in fields:
            if not isinstance(fields["volume"], bool):
                raise ValueError("volume must be true or false")
            self.volume_switch.which_child = 0 if fields["volume"] else -1
        for name, axis in _SLICE_AXES.items():
            if name in fields:
                count = self.volume.data.shape[2 - "xyz".index(axis)]
                index = fields[name]
                if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
                    raise ValueError(f"{name} must be an index from 0 to {count - 1}")
                self.slices[name].index = index

    def pick(self, scene_manager: rv.SceneManager, x: int, y: int, width: int, height: int) -> dict[str, object]:
        """The amplitude under a pixel and where it is in the survey, for the page."""
        picked = scene_manager.pick(x, y, width, height)
        if picked is None or picked.value is None:
            return {"picked": None}
        sample, crossline, inline = (np.linalg.inv(self.data.index_to_world) @ np.append(picked.point, 1.0))[:3]
        return {"picked": {"amplitude": round(float(picked.value), 4), "inline": int(round(inline)),
                           "crossline": int(round(crossline)), "time": round(-float(picked.point[2]), 1),
                           "on": picked.node.name}}


class SeismicAreaListener(rv.RenderAreaListener):
    """Applies the page's messages and answers double clicks with the amplitude picked."""

    def __init__(self, scene: SeismicScene) -> None:
        self.scene = scene

    def on_opened_connection(self, render_area: rv.RenderArea, connection: rv.Connection,
                             frame_encoders: rv.FrameEncoders) -> None:
        connection.send_message(json.dumps({"slices": self.scene.positions()}))  # the sliders' ranges

    def on_received_message(self, render_area: rv.RenderArea, connection: rv.Connection,
                            message: str | bytes) -> None:
        try:
            self.scene.apply_message(message)
        except ValueError as error:
            connection.send_message(json.dumps({"error": str(error)}))  # to that page alone

    def on_mouse_double_click(self, render_area: rv.RenderArea, connection: rv.Connection, x: int, y: int,
                              button: int, *, event: rv.MouseEvent) -> bool:
        answer = self.scene.pick(render_area.scene_manager, x, y, render_area.width, render_area.height)
        connection.send_message(json.dumps(answer))
        return True


class SeismicServiceListener(rv.ServiceListener):
    """Shows one loaded survey in every render area (they share its slices)."""

    def __init__(self, path: str | Path) -> None:
        self.scene = SeismicScene(path)

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        root = self.scene.root()
        render_area.scene_manager.scene_graph = root
        root.view_all(render_area.viewport)
        render_area.touch_manager.add_default_recognizers()
        render_area.add_listener(SeismicAreaListener(self.scene))


def synthetic_survey() -> Path:
    """A synthetic survey written by segyio into a temporary file."""
    from synthetic_survey import reflectors, write_survey

    return write_survey(Path(tempfile.mkdtemp(prefix="remoteviz-segy-")) / "synthetic.sgy", reflectors())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", help="a SEG-Y survey (default: a synthetic one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the seismic viewer until Ctrl-C."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    path = args.path or synthetic_survey()
    service = rv.Service.instance()
    try:
        service.add_listener(SeismicServiceListener(path))
    except rv.ReadError as error:
        raise SystemExit(f"seismic_viewer: {error}") from None
    service.run(rv.ServiceSettings(host=args.host, port=args.port, static_dir=str(STATIC_DIR)))


if __name__ == "__main__":
    main()
