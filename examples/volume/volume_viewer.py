"""Volume viewer: your volume, or a CT-like phantom, ray cast on the server, with a transfer-function editor on the page.

    python examples/volume/volume_viewer.py [scan.npy] [--host 127.0.0.1] [--port 8080] [--size 128]

then open http://127.0.0.1:8080/ . The file is a numpy ``.npy`` array of shape (z, y, x) (uint8,
uint16 or float32; other numbers are converted), read without loading it whole until drawn;
without one, a ``--size``-voxel CT phantom shows. The page's sliders send JSON messages that change the
transfer function's opacity and preset, the rendering mode, a clip plane and an axial slice; a
double click on the picture picks the first voxel above the transfer function's visible
threshold and the page shows its value. Every page shares the render area "TheVolume".
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt

import remoteviz as rv

STATIC_DIR = Path(__file__).resolve().parent / "static"
AREA = "TheVolume"
DATA_RANGE = (0.0, 4000.0)  # stored values are Hounsfield units + 1000: air 0, water 1000, bone 2000+

log = logging.getLogger("volume_viewer")


def ct_phantom(size: int = 128, seed: int = 0) -> np.ndarray:
    """A head-like CT volume, ``(size, size, size)`` uint16: skin and soft tissue, a skull,
    brain with fluid-filled ventricles, two brighter lesions, and a neck with its spine below
    (so that turning the volume shows); a little noise, as scanners give."""
    axis = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    z, y, x = np.meshgrid(axis, axis, axis, indexing="ij")
    head = (x / 0.8) ** 2 + ((y - 0.15) / 0.8) ** 2 + (z / 0.8) ** 2
    volume: npt.NDArray[np.float32] = np.zeros(head.shape, np.float32)
    neck = x**2 + (z + 0.15) ** 2
    volume[(neck < 0.3**2) & (y < 0.0)] = 1050.0
    volume[(neck < 0.1**2) & (y < -0.4)] = 2000.0  # the spine
    volume[head < 1.0] = 1050.0  # skin and soft tissue
    volume[head < 0.86] = 2300.0  # skull
    volume[head < 0.72] = 1035.0  # brain
    for side in (0.12, -0.12):
        volume[((x - side) / 0.1) ** 2 + ((y - 0.15) / 0.3) ** 2 + (z / 0.2) ** 2 < 1.0] = 1005.0  # ventricles
    for centre, radius in (((0.35, 0.35, 0.1), 0.12), ((-0.3, -0.1, -0.2), 0.08)):
        lesion = (x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2 < radius**2
        volume[lesion] = 1450.0
    # A scanner blurs edges over about a voxel; without it, surfaces show the voxel steps.
    for axis_index in range(3):
        volume = (np.roll(volume, 1, axis_index) + 2.0 * volume + np.roll(volume, -1, axis_index)) / 4.0
    rng = np.random.default_rng(seed)
    volume += rng.normal(0.0, 12.0, volume.shape).astype(np.float32) * (volume > 0)
    return np.clip(volume, 0, 4000).astype(np.uint16)


class VolumeScene:
    """The scene of one render area and the page messages that edit it.

    Messages are JSON objects with any of: ``opacity`` (0..1), ``preset`` (``"ct"``, ``"grey"``,
    ``"seismic"``), ``mode`` (``"composite"``, ``"mip"``, ``"isosurface"``), ``clip`` (-1..1 across
    the volume along x, or null for no clip plane) and ``slice`` (an axial slice index, or null to
    hide it).
    """

    def __init__(self, data: np.ndarray, data_range: tuple[float, float] = DATA_RANGE, name: str = "ct") -> None:
        self.preset, self.opacity = "ct", 1.0
        nz, ny, nx = data.shape
        origin = -(np.array([nx, ny, nz]) - 1) / 2.0
        self.volume = rv.Volume(
            data, origin=origin, data_range=data_range, name=name,
            transfer_function=rv.TransferFunction.preset(self.preset),
        )
        # The phantom's slice shows a CT brain window; another volume's shows its whole range.
        low, high = data_range
        window, level = (1500.0, 1200.0) if data_range == DATA_RANGE else (high - low or 1.0, (low + high) / 2.0)
        self.clip = rv.ClipPlane(normal=(-1.0, 0.0, 0.0), on=False, name="clip")
        self.slice = rv.OrthoSlice.of_volume(self.volume, axis="z", index=nz // 2, colormap="grey",
                                             window=window, level=level, name="axial slice")
        self.slice_switch = rv.Switch([self.slice], which_child=-1)
        self.label = rv.Text2D("double-click to pick a voxel", screen_position=(8, 8), font_size=15)
        self.root = rv.SceneExaminer()
        self.root.add_child(rv.GradientBackground(top_color=(0.25, 0.27, 0.32), bottom_color=(0.02, 0.02, 0.04)))
        self.root.add_child(rv.Separator([self.clip, self.volume, self.slice_switch]))
        self.root.add_child(self.label)
        self.half_width = nx / 2.0

    def apply_message(self, message: str | bytes) -> None:
        """Apply one page message; raises ``ValueError`` with a reason for a bad one."""
        if len(message) > 4096:
            raise ValueError("message too long")
        try:
            fields = json.loads(message)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"not JSON: {error}") from None
        if not isinstance(fields, dict):
            raise ValueError("expected a JSON object")
        unknown = set(fields) - {"opacity", "preset", "mode", "clip", "slice"}
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        if "opacity" in fields or "preset" in fields:
            preset = fields.get("preset", self.preset)
            opacity = _number(fields.get("opacity", self.opacity), 0.0, 1.0, "opacity")
            # from_message checks the preset name and the opacity as untrusted input.
            transfer = rv.TransferFunction.from_message(json.dumps({"preset": preset, "opacity": opacity}))
            self.preset, self.opacity = str(preset), opacity
            self.volume.transfer_function = transfer
        if "mode" in fields:
            try:
                self.volume.mode = rv.VolumeMode(fields["mode"])
            except ValueError:
                raise ValueError(f"unknown mode {fields['mode']!r}") from None
        if "clip" in fields:
            if fields["clip"] is None:
                self.clip.on = False
            else:
                position = _number(fields["clip"], -1.0, 1.0, "clip")
                self.clip.set_plane((position * self.half_width, 0.0, 0.0), (-1.0, 0.0, 0.0))
                self.clip.on = True
        if "slice" in fields:
            if fields["slice"] is None:
                self.slice_switch.which_child = -1
            else:
                index = int(_number(fields["slice"], 0, self.volume.data.shape[0] - 1, "slice"))
                self.slice.index = index
                self.slice_switch.which_child = 0

    def pick(self, scene_manager: rv.SceneManager, x: int, y: int, width: int, height: int) -> dict[str, object]:
        """Pick at a pixel; the answer sent to the page (and shown on the label)."""
        picked = scene_manager.pick(x, y, width, height)
        if picked is None or picked.value is None:
            self.label.text = "nothing there"
            return {"picked": None}
        hounsfield = picked.value - 1000.0
        where = "slice" if picked.node is self.slice else "volume"
        self.label.text = f"{where}: {hounsfield:.0f} HU" + (f" at voxel {picked.voxel}" if picked.voxel else "")
        return {"picked": {"value": picked.value, "voxel": picked.voxel, "node": where,
                           "point": [round(float(c), 3) for c in picked.point]}}


def _number(value: object, low: float, high: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{name} must be a number from {low} to {high}")
    return float(value)


class VolumeAreaListener(rv.RenderAreaListener):
    """Applies the page's messages and answers double clicks with the voxel picked."""

    def __init__(self, scene: VolumeScene) -> None:
        self.scene = scene

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


def read_volume(path: Path) -> np.ndarray:
    """A ``.npy`` file's 3-D array, as a volume takes it (uint8, uint16 or float32)."""
    if path.suffix.lower() != ".npy":
        raise ValueError(f"{path}: not a volume file this example reads (a .npy array of shape (z, y, x))")
    data: np.ndarray = np.load(path, mmap_mode="r")
    if data.ndim != 3 or min(data.shape) < 2:
        raise ValueError(f"{path}: expected a 3-D array of at least 2 voxels a side, got shape {data.shape}")
    return data if data.dtype in (np.uint8, np.uint16, np.float32) else data.astype(np.float32)


class VolumeServiceListener(rv.ServiceListener):
    """Builds each render area's volume scene from one shared array (the file's, else the phantom)."""

    def __init__(self, size: int = 128, path: Path | None = None) -> None:
        self.data = read_volume(path) if path is not None else ct_phantom(size)
        self.name = path.name if path is not None else "ct"
        finite = np.asarray(self.data[np.isfinite(self.data)]) if path is not None else None
        self.data_range = (DATA_RANGE if finite is None or finite.size == 0
                           else (float(finite.min()), float(finite.max())))

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        scene = VolumeScene(self.data, self.data_range, self.name)
        render_area.scene_manager.scene_graph = scene.root
        scene.root.view_all(render_area.viewport)
        render_area.touch_manager.add_default_recognizers()
        render_area.add_listener(VolumeAreaListener(scene))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=None, help="a volume: a .npy array of shape (z, y, x)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    parser.add_argument("--size", type=int, default=128, help="voxels along each side (default 128)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the volume viewer until Ctrl-C."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    service = rv.Service.instance()
    try:
        listener = VolumeServiceListener(args.size, args.file)
    except (OSError, ValueError) as error:  # a missing or unreadable file: its reason, not a traceback
        raise SystemExit(f"volume_viewer: {error}") from None
    service.add_listener(listener)
    print(f"Volume viewer is running: open http://{args.host}:{args.port}/")
    service.run(rv.ServiceSettings(host=args.host, port=args.port, static_dir=str(STATIC_DIR)))


if __name__ == "__main__":
    main()
