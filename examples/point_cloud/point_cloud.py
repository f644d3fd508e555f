"""Point cloud: a million points of a scanned terrain, coloured by height, streamed to the browser.

    python examples/point_cloud/point_cloud.py [--host 127.0.0.1] [--port 8080] [--points 1000000]

then open http://127.0.0.1:8080/ . A JSON message ``{"size": 3}`` sets the point size in pixels;
a double click picks the nearest point within a few pixels and the page shows its index and
position. Every page shares the render area "ThePoints".
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

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
    level = np.clip((height - height.min()) / (height.max() - height.min()), 0.0, 1.0)[:, None]
    low, middle, high = np.array([40, 120, 40]), np.array([140, 100, 60]), np.array([240, 240, 240])
    colours = np.where(level < 0.5, low + (middle - low) * level * 2, middle + (high - middle) * (level - 0.5) * 2)
    return positions, colours.astype(np.uint8)


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
    """Shows the one point cloud in every render area."""

    def __init__(self, count: int = 1_000_000) -> None:
        positions, colours = terrain_scan(count)
        self.points = rv.PointSet(positions, colours, size=2.0, name="terrain")

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
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    parser.add_argument("--points", type=int, default=1_000_000, help="how many points (default a million)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the point cloud service until Ctrl-C."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    service = rv.Service.instance()
    service.add_listener(PointCloudServiceListener(args.points))
    print(f"Point cloud service is running: open http://{args.host}:{args.port}/")
    service.run(rv.ServiceSettings(host=args.host, port=args.port, static_dir=str(STATIC_DIR)))


if __name__ == "__main__":
    main()
