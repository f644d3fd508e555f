"""Point cloud: your scan, or a million points of a made-up terrain, coloured by height, streamed to the browser.

    python examples/point_cloud/point_cloud.py [scan.ply] [--host 127.0.0.1] [--port 8080] [--points 1000000]

then open http://127.0.0.1:8080/ . The file is a PLY point cloud (its vertex colours used when it
has them), a text file of ``x y z`` or ``x y z r g b`` rows (``.xyz``, ``.txt``, ``.csv``) or a
numpy ``.npy`` array of shape (N, 3); without one, ``--points`` points of a made-up terrain show. A JSON message ``{"size": 3}`` sets the point size in pixels;
a double click picks the nearest point within a few pixels and the page shows its index and
position. Every page shares the render area "ThePoints".
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

import remoteviz as rv

STATIC_DIR = Path(__file__).resolve().parent / "static"
AREA = "ThePoints"


def terrain_scan(count: int = 1_000_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` points on rolling hills with a few trees, as a lidar scan gives them, and their
    colours (green low, brown, white high): ``(positions (N, 3) float32, colours (N, 3) uint8)``."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-50.0, 50.0, (2, count)).astype(np.float32)
    height = 4.0 * np.sin(x / 9.0) * np.cos(y / 13.0) + 2.5 * np.sin((x + y) / 5.0) + 0.02 * x
    trees = rng.uniform(-45.0, 45.0, (60, 2))
    for tx, ty in trees:
        distance = np.hypot(x - tx, y - ty)
        height = height + np.where(distance < 2.0, 6.0 * (1.0 - distance / 2.0), 0.0)
    height = height + rng.normal(0.0, 0.05, count)
    positions = np.stack([x, height, y], axis=1).astype(np.float32)
    return positions, height_colours(height)


def height_colours(height: np.ndarray) -> np.ndarray:
    """Colours by height, (N, 3) uint8: green low, brown, white high."""
    span = float(height.max() - height.min()) if len(height) else 0.0
    level = np.clip((height - height.min()) / (span or 1.0), 0.0, 1.0)[:, None]
    low, middle, high = np.array([40, 120, 40]), np.array([140, 100, 60]), np.array([240, 240, 240])
    colours = np.where(level < 0.5, low + (middle - low) * level * 2, middle + (high - middle) * (level - 0.5) * 2)
    return np.asarray(colours, np.uint8)


def read_points(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A point file's positions (N, 3) float32 and colours (N, 3) uint8: the file's own, else by
    height (its second coordinate, "up" here as in the terrain)."""
    suffix = path.suffix.lower()
    colours = None
    table: np.ndarray
    if suffix == ".ply":
        import trimesh  # a fifth of a second to import: only a PLY file needs it

        cloud: Any = trimesh.load(path)
        table = np.asarray(cloud.vertices, np.float32)
        file_colours = getattr(cloud, "colors", None)
        if file_colours is not None and len(file_colours) == len(table):
            colours = np.asarray(file_colours)[:, :3].astype(np.uint8)
    elif suffix == ".npy":
        table = np.asarray(np.load(path))
    elif suffix in (".xyz", ".txt", ".csv"):
        table = np.loadtxt(path, delimiter="," if suffix == ".csv" else None, ndmin=2)
        if table.shape[1] >= 6:
            colours = np.clip(table[:, 3:6], 0, 255).astype(np.uint8)
    else:
        raise ValueError(f"{path}: not a point file this example reads (.ply, .xyz, .txt, .csv, .npy)")
    if table.ndim != 2 or table.shape[1] < 3 or len(table) == 0:
        raise ValueError(f"{path}: expected rows of x y z, got an array of shape {table.shape}")
    positions = np.asarray(table[:, :3], np.float32)
    return positions, colours if colours is not None else height_colours(positions[:, 1])


class PointCloudAreaListener(rv.RenderAreaListener):
    """Sets the point size from messages and answers double clicks with the point picked."""

    def __init__(self, points: rv.PointSet) -> None:
        self.points = points

    def on_received_message(self, render_area: rv.RenderArea, connection: rv.Connection,
                            message: str | bytes) -> None:
        try:
            fields = json.loads(message) if len(message) < 1024 else None
            size = fields.get("size") if isinstance(fields, dict) else None
            if isinstance(size, bool) or not isinstance(size, (int, float)) or not 1 <= size <= 32:
                raise ValueError("expected {\"size\": pixels from 1 to 32}")
        except (ValueError, UnicodeDecodeError) as error:
            connection.send_message(json.dumps({"error": str(error)}))
            return
        self.points.size = float(size)

    def on_mouse_double_click(self, render_area: rv.RenderArea, connection: rv.Connection, x: int, y: int,
                              button: int, *, event: rv.MouseEvent) -> bool:
        picked = render_area.scene_manager.pick(x, y, render_area.width, render_area.height)
        answer = None if picked is None else {"index": picked.index, "point": [float(c) for c in picked.point]}
        connection.send_message(json.dumps({"picked": answer}))
        return True


class PointCloudServiceListener(rv.ServiceListener):
    """Shows the one point cloud (the file's, else the made-up terrain's) in every render area."""

    def __init__(self, count: int = 1_000_000, path: Path | None = None) -> None:
        positions, colours = read_points(path) if path is not None else terrain_scan(count)
        self.points = rv.PointSet(positions, colours, size=2.0, name=path.name if path else "terrain")

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        examiner = rv.SceneExaminer()
        examiner.add_child(rv.GradientBackground(top_color=(0.55, 0.7, 0.9), bottom_color=(0.9, 0.9, 0.95)))
        examiner.add_child(self.points)
        examiner.camera.orbit(rv.Rotation.from_axis_angle((1.0, 0.0, 0.0), -0.6))  # look down on it
        render_area.scene_manager.scene_graph = examiner
        examiner.view_all(render_area.viewport)
        render_area.touch_manager.add_default_recognizers()
        render_area.add_listener(PointCloudAreaListener(self.points))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=None,
                        help="a point file: .ply, .xyz/.txt/.csv (x y z [r g b] rows) or .npy (N, 3)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    parser.add_argument("--points", type=int, default=1_000_000, help="how many points (default a million)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the point cloud service until Ctrl-C."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    service = rv.Service.instance()
    try:
        listener = PointCloudServiceListener(args.points, args.file)
    except (OSError, ValueError) as error:  # a missing or unreadable file: its reason, not a traceback
        raise SystemExit(f"point_cloud: {error}") from None
    service.add_listener(listener)
    print(f"Point cloud service is running: open http://{args.host}:{args.port}/")
    service.run(rv.ServiceSettings(host=args.host, port=args.port, static_dir=str(STATIC_DIR)))


if __name__ == "__main__":
    main()
