"""Rendering benchmark: milliseconds to draw and read back one frame.

Scenes: HelloCone (SceneExaminer + GradientBackground + Cone) and a 1-million-triangle mesh, at
1280x720 and 1920x1080, with 4x multisampling (the default) and without. Prints median and 95th
percentile over N frames and writes ``benchmarks/results/render.json``.

    python -m benchmarks.render [--frames 30] [--output benchmarks/results/render.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from remoteviz.rendering import (
    Cone,
    GradientBackground,
    Material,
    Mesh,
    SceneExaminer,
    SceneManager,
    Viewport,
)

SIZES = [(1280, 720), (1920, 1080)]
ANTIALIASING = [4, 0]
WARMUP_FRAMES = 3
DEFAULT_OUTPUT = Path(__file__).parent / "results" / "render.json"


def hello_cone() -> SceneExaminer:
    """The HelloCone scene."""
    examiner = SceneExaminer()
    examiner.add_child(GradientBackground())
    examiner.add_child(Cone())
    return examiner


def torus_mesh(rings: int = 1000, segments: int = 500) -> Mesh:
    """A torus of ``2 * rings * segments`` triangles (one million by default)."""
    u = np.linspace(0.0, 2.0 * math.pi, rings, endpoint=False)[:, None]
    v = np.linspace(0.0, 2.0 * math.pi, segments, endpoint=False)[None, :]
    radius = 2.0 + 0.7 * np.cos(v)
    vertices = np.stack([radius * np.cos(u), 0.7 * np.sin(v) * np.ones_like(u), radius * np.sin(u)], axis=-1)
    i = np.arange(rings)[:, None]
    j = np.arange(segments)[None, :]
    a = i * segments + j
    b = ((i + 1) % rings) * segments + j
    c = ((i + 1) % rings) * segments + (j + 1) % segments
    d = i * segments + (j + 1) % segments
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    return Mesh(vertices.reshape(-1, 3), faces, name="torus")


def million_triangles() -> SceneExaminer:
    """A background and a shaded 1-million-triangle torus."""
    examiner = SceneExaminer()
    examiner.add_child(GradientBackground())
    examiner.add_child(Material(diffuse_color=(0.3, 0.6, 0.9), specular_color=(0.5, 0.5, 0.5)))
    examiner.add_child(torus_mesh())
    return examiner


SCENES: dict[str, Callable[[], SceneExaminer]] = {
    "hello_cone": hello_cone,
    "mesh_1m_triangles": million_triangles,
}


def measure(scene: SceneExaminer, width: int, height: int, antialiasing: int, frames: int) -> list[float]:
    """Milliseconds per ``render()`` call (draw, resolve, read back) over ``frames`` frames."""
    manager = SceneManager()
    manager.antialiasing = antialiasing
    manager.scene_graph = scene
    scene.view_all(Viewport(width, height))
    try:
        for _ in range(WARMUP_FRAMES):  # context, shaders, buffer uploads
            manager.render(width, height)
        times = []
        for _ in range(frames):
            start = time.perf_counter()
            manager.render(width, height)
            times.append((time.perf_counter() - start) * 1000.0)
        return times
    finally:
        manager.dispose()


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def main() -> None:
    """Run every scene at every size, print a table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30, help="frames measured per case (default 30)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON")
    args = parser.parse_args()

    results = []
    print(f"{'scene':<18} {'size':>10} {'msaa':>5} {'median ms':>10} {'p95 ms':>8} {'fps':>6}")
    for name, build in SCENES.items():
        scene = build()
        for (width, height), samples in itertools.product(SIZES, ANTIALIASING):
            times = measure(scene, width, height, samples, args.frames)
            median, p95 = statistics.median(times), percentile(times, 0.95)
            results.append(
                {
                    "scene": name,
                    "width": width,
                    "height": height,
                    "antialiasing": samples,
                    "frames": args.frames,
                    "median_ms": round(median, 2),
                    "p95_ms": round(p95, 2),
                }
            )
            size = f"{width}x{height}"
            print(f"{name:<18} {size:>10} {samples:>5} {median:>10.1f} {p95:>8.1f} {1000 / median:>6.1f}")

    from remoteviz.rendering.renderer import Renderer  # loaded by the first render

    report = {
        "benchmark": "render",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "gl_renderer": Renderer.shared().context.renderer_name,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"GL renderer: {report['gl_renderer']}; results written to {args.output}")


if __name__ == "__main__":
    main()
