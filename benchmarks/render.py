"""Rendering benchmark: milliseconds to draw and read back one frame.

Scenes: HelloCone (SceneExaminer + GradientBackground + Cone) and a 1-million-triangle mesh, at
1280x720 and 1920x1080, with 4x multisampling (the default) and without; then the data scenes at
1280x720: CT-like 256^3 and 512^3 uint8 volumes at the interactive and the still sample rates
(each frame rendered as the service renders it: interactive frames without multisampling, still
frames with 4x), a million points and a 1-million-segment line set. Prints median and 95th
percentile over N frames and writes ``benchmarks/results/render.json``. Last, the 1-million-triangle
mesh as the service renders it while the view moves and after (interactive: no multisampling,
without a level of detail, with a 100k-triangle copy and with the renderer's own; still: full
mesh, 4x and as the service draws it), the cases taking turns frame by frame. Figures from a
machine shared with other work are only comparable within one run.

    python -m benchmarks.render [--frames 30] [--volume-frames 5] [--output benchmarks/results/render.json]
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
    LineSet,
    Material,
    Mesh,
    PointSet,
    SceneExaminer,
    SceneManager,
    TransferFunction,
    Viewport,
    Volume,
)
from remoteviz.rendering.scene_manager import ANTIALIASING_MAX_TRIANGLES

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

DATA_SIZE = (1280, 720)


def ct_like_volume(n: int) -> np.ndarray:
    """An ``n``-cube uint8 CT-like volume: a bone shell round soft tissue with brighter spots,
    built slab by slab so a 512^3 volume needs no float copy of itself."""
    data = np.empty((n, n, n), np.uint8)
    axis = np.linspace(-1.0, 1.0, n, dtype=np.float32)
    y, x = np.meshgrid(axis, axis, indexing="ij")
    rng = np.random.default_rng(0)
    for k, z in enumerate(axis):
        r = np.sqrt(x * x + y * y + z * z)
        slab = np.where(r < 0.9, 70.0, 0.0) + np.where((r > 0.78) & (r < 0.88), 110.0, 0.0)
        slab += np.where((x - 0.3) ** 2 + (y - 0.2) ** 2 + z**2 < 0.04, 50.0, 0.0)
        slab += rng.normal(0.0, 3.0, slab.shape) * (r < 0.9)
        data[k] = np.clip(slab, 0, 255)
    return data


def volume_scene(n: int) -> SceneExaminer:
    """A background and an ``n``-cube CT-like volume through the CT preset."""
    examiner = SceneExaminer()
    examiner.add_child(GradientBackground())
    examiner.add_child(Volume(ct_like_volume(n), transfer_function=TransferFunction.preset("ct"),
                              data_range=(0, 255), origin=(-(n - 1) / 2.0,) * 3))
    return examiner


def million_points() -> SceneExaminer:
    """A background and a million coloured points in a cube."""
    rng = np.random.default_rng(0)
    examiner = SceneExaminer()
    examiner.add_child(GradientBackground())
    examiner.add_child(PointSet(rng.uniform(-1, 1, (1_000_000, 3)), rng.integers(0, 256, (1_000_000, 3)), size=2.0))
    return examiner


def million_segments() -> SceneExaminer:
    """A background and a line set of 1000 polylines of 1001 vertices: a million segments, 2 px wide."""
    t = np.linspace(0.0, 8.0 * math.pi, 1001)
    phase = np.linspace(0.0, 2.0 * math.pi, 1000, endpoint=False)[:, None]
    positions = np.stack([np.cos(t + phase) * (1 + t / 30), np.sin(t * 0.5 + phase), np.sin(t + phase) * (1 + t / 30)], -1)
    examiner = SceneExaminer()
    examiner.add_child(GradientBackground())
    examiner.add_child(LineSet(positions.reshape(-1, 3), counts=np.full(1000, 1001), width=2.0))
    return examiner


DATA_SCENES: dict[str, tuple[Callable[[], SceneExaminer], bool]] = {
    # name: (scene, whether it is a volume: measured at both sample rates with fewer frames)
    "volume_256_uint8": (lambda: volume_scene(256), True),
    "volume_512_uint8": (lambda: volume_scene(512), True),
    "points_1m": (million_points, False),
    "lines_1m_segments": (million_segments, False),
}


def measure(
    scene: SceneExaminer, width: int, height: int, antialiasing: int, frames: int,
    interactive: bool = False, warmup: int = WARMUP_FRAMES, antialiasing_max_triangles: int | None = None,
) -> list[float]:
    """Milliseconds per ``render()`` call (draw, resolve, read back) over ``frames`` frames; by
    default with ``antialiasing`` samples whatever the triangle count (see
    ``SceneManager.antialiasing_max_triangles``)."""
    manager = SceneManager()
    manager.antialiasing_max_triangles = antialiasing_max_triangles
    manager.antialiasing = antialiasing
    manager.interactive_antialiasing = antialiasing
    manager.scene_graph = scene
    scene.view_all(Viewport(width, height))
    try:
        for _ in range(warmup):  # context, shaders, buffer and texture uploads
            manager.render(width, height, interactive=interactive)
        times = []
        for _ in range(frames):
            start = time.perf_counter()
            manager.render(width, height, interactive=interactive)
            times.append((time.perf_counter() - start) * 1000.0)
        return times
    finally:
        manager.dispose()


LOD_CASES = {
    # name: (triangles in the decimated copy, or None for none; interactive; multisampling limit)
    "interactive, full mesh": (None, True, None),
    "interactive, LOD 100k": (100_000, True, None),
    "interactive, LOD": (0, True, None),  # 0: the renderer's own LOD_TRIANGLES
    "still, full mesh": (0, False, None),
    "still as drawn": (0, False, ANTIALIASING_MAX_TRIANGLES),
}


def measure_level_of_detail(build: Callable[[], SceneExaminer], width: int, height: int,
                            frames: int) -> dict[str, tuple[int, list[float]]]:
    """Samples and milliseconds per frame of a scene with a big mesh, in each of
    :data:`LOD_CASES`: interactive frames without a level of detail, with a copy of the former
    100,000 triangles and with the current one (once the background thread has made it), the
    still with 4x multisampling and the still as the service draws it (over
    ``ANTIALIASING_MAX_TRIANGLES``, not multisampled). The cases take turns frame by frame, so
    that the machine's load falls on all of them alike."""
    from remoteviz.rendering import level_of_detail
    from remoteviz.rendering.renderer import Renderer

    scenes: dict[object, SceneExaminer] = {}  # one scene per decimated copy (the renderer keeps it per mesh)
    managers: dict[str, SceneManager] = {}
    default_triangles, threshold = level_of_detail.LOD_TRIANGLES, level_of_detail.LOD_MIN_TRIANGLES
    try:
        for name, (lod, interactive, limit) in LOD_CASES.items():
            scene = scenes.setdefault(lod, build())
            scene.view_all(Viewport(width, height))
            manager = managers[name] = SceneManager()
            manager.antialiasing, manager.interactive_antialiasing = 4, 0
            manager.antialiasing_max_triangles = limit
            manager.scene_graph = scene
            manager.render(width, height)
            whole = Renderer.shared().triangles_drawn
            if lod is None or not interactive:
                continue
            level_of_detail.LOD_TRIANGLES = lod or default_triangles
            deadline = time.monotonic() + 300
            manager.render(width, height, interactive=True)  # asks for the copy
            while Renderer.shared().triangles_drawn >= whole:
                if time.monotonic() > deadline:
                    raise RuntimeError("the decimated copy was not made in 5 minutes")
                time.sleep(0.1)
                manager.render(width, height, interactive=True)
            level_of_detail.LOD_TRIANGLES = default_triangles
        times: dict[str, list[float]] = {name: [] for name in LOD_CASES}
        for frame in range(WARMUP_FRAMES + frames):
            for name, (lod, interactive, _) in LOD_CASES.items():
                # No level of detail: the threshold out of reach while that scene is drawn.
                level_of_detail.LOD_MIN_TRIANGLES = 1 << 62 if lod is None else threshold
                start = time.perf_counter()
                managers[name].render(width, height, interactive=interactive)
                if frame >= WARMUP_FRAMES:
                    times[name].append((time.perf_counter() - start) * 1000.0)
        # A million triangles: only a still without a limit is multisampled.
        return {name: (0 if interactive or limit is not None else 4, times[name])
                for name, (_, interactive, limit) in LOD_CASES.items()}
    finally:
        level_of_detail.LOD_TRIANGLES, level_of_detail.LOD_MIN_TRIANGLES = default_triangles, threshold
        for manager in managers.values():
            manager.dispose()


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def main() -> None:
    """Run every scene at every size, print a table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30, help="frames measured per case (default 30)")
    parser.add_argument("--volume-frames", type=int, default=5, help="frames measured per volume case (default 5)")
    parser.add_argument("--only", default="", help="run only the scenes whose names contain this")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON")
    args = parser.parse_args()

    results = []

    def report(name: str, width: int, height: int, samples: int, frames: int, times: list[float], kind: str) -> None:
        median, p95 = statistics.median(times), percentile(times, 0.95)
        results.append({"scene": name, "frame": kind, "width": width, "height": height, "antialiasing": samples,
                        "frames": frames, "median_ms": round(median, 2), "p95_ms": round(p95, 2)})
        size = f"{width}x{height}"
        print(f"{name:<18} {kind:>22} {size:>10} {samples:>5} {median:>10.1f} {p95:>8.1f} {1000 / median:>6.1f}")

    print(f"{'scene':<18} {'frame':>22} {'size':>10} {'msaa':>5} {'median ms':>10} {'p95 ms':>8} {'fps':>6}")
    for name, build in SCENES.items():
        if args.only not in name:
            continue
        scene = build()
        for (width, height), samples in itertools.product(SIZES, ANTIALIASING):
            report(name, width, height, samples, args.frames, measure(scene, width, height, samples, args.frames), "still")
    width, height = DATA_SIZE
    for name, (build, is_volume) in DATA_SCENES.items():
        if args.only not in name:
            continue
        scene = build()
        if is_volume:
            # As the service renders them: interactive frames at the interactive sample rate
            # without multisampling, the still frame at the full rate with 4x.
            frames = args.volume_frames
            report(name, width, height, 0, frames, measure(scene, width, height, 0, frames, True, 2), "interactive")
            report(name, width, height, 4, frames, measure(scene, width, height, 4, frames, False, 2), "still")
        else:
            for samples in ANTIALIASING:
                report(name, width, height, samples, args.frames, measure(scene, width, height, samples, args.frames), "still")

    if args.only in "mesh_1m_lod":
        width, height = DATA_SIZE
        for kind, (samples, times) in measure_level_of_detail(million_triangles, width, height, args.frames).items():
            report("mesh_1m_lod", width, height, samples, args.frames, times, kind)

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
