"""What switching a colour map costs against sending the scalars again, and what overlays cost.

Renders a grid mesh of about ``--triangles`` triangles coloured by a per-vertex scalar, one
frame at a time (still, no multisampling, read back), in these ways, interleaved round by round
so that the machine's load hits them alike:

- ``unchanged``: nothing changed since the last frame (the baseline: drawing and reading back);
- ``switch map``: ``mesh.colormap`` assigned another name (redraw, no geometry rebuilt or uploaded);
- ``new scalars``: ``mesh.scalars`` assigned a new array (the geometry rebuilt and uploaded);
- ``overlays, turning``: with a colour bar, an axes triad and a scale bar, the camera turned a
  little before each frame (the triad's picture is drawn again each time).

    python -m benchmarks.colormaps [--triangles 500000] [--rounds 7] [--size 1280x720]

Prints the median milliseconds per frame of each. Figures are only comparable within one run.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("EGL_PLATFORM", "surfaceless")


def main() -> None:
    import numpy as np

    import remoteviz as rv

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--triangles", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--size", default="1280x720")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    side = max(2, int(math.sqrt(args.triangles / 2)))
    x, y = np.meshgrid(np.linspace(-1, 1, side + 1), np.linspace(-1, 1, side + 1))
    vertices = np.column_stack([x.ravel(), y.ravel(), 0.1 * np.sin(4 * x.ravel()) * np.cos(4 * y.ravel())])
    rows, columns = np.mgrid[:side, :side]
    a = (rows * (side + 1) + columns).ravel()
    faces = np.concatenate([np.stack([a, a + 1, a + side + 2], 1), np.stack([a, a + side + 2, a + side + 1], 1)])
    scalars = vertices[:, 2].astype(np.float32)
    mesh = rv.Mesh(vertices, faces, scalars=scalars)
    root = rv.SceneExaminer()
    root.add_child(rv.GradientBackground())
    root.add_child(mesh)
    overlays = [rv.ColorBar(mesh, title="z"), rv.AxesTriad(), rv.ScaleBar(units="m")]
    root.view_all(rv.Viewport(width, height))
    manager = rv.SceneManager()
    manager.antialiasing = 0
    manager.scene_graph = root
    manager.render(width, height)  # upload and warm up

    def timed() -> float:
        start = time.perf_counter()
        manager.render(width, height)
        return (time.perf_counter() - start) * 1000.0

    maps = ["viridis", "plasma"]
    results: dict[str, list[float]] = {"unchanged": [], "switch map": [], "new scalars": [], "overlays, turning": []}
    for turn in range(args.rounds):
        results["unchanged"].append(timed())
        mesh.colormap = maps[turn % 2]
        results["switch map"].append(timed())
        mesh.scalars = scalars + np.float32(turn)
        results["new scalars"].append(timed())
        for overlay in overlays:
            root.add_child(overlay)
        manager.render(width, height)
        root.camera.orbit(rv.Rotation.from_axis_angle((0.0, 1.0, 0.0), 0.05))
        results["overlays, turning"].append(timed())
        for overlay in overlays:
            root.remove_child(overlay)
    print(f"{len(faces)} triangles, {width}x{height}, median of {args.rounds} rounds (ms per frame):")
    for name, times in results.items():
        print(f"  {name:18s} {statistics.median(times):8.1f}")
    manager.dispose()


if __name__ == "__main__":
    main()
