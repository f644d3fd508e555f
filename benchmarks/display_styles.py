"""What the viewer's display styles and a highlighted part cost, and what a screenshot takes.

Draws one mesh (a sphere of about ``--triangles`` triangles) at ``--size`` as a still (4 samples,
read back) and as an interactive frame (no multisampling), in each ``DisplayStyle`` and with the
mesh highlighted, and times ``RenderArea.screenshot``'s work (a still drawn, PNG-encoded):

    python -m benchmarks.display_styles [--triangles 200000] [--size 1280x720] [--rounds 5]

Prints the median milliseconds per frame of ``--rounds`` rounds, each of which draws every case
once (so that a change of the machine's load hits them alike), and each case's ratio to SURFACE.
Figures are only comparable within one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("EGL_PLATFORM", "surfaceless")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triangles", type=int, default=200_000)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))

    import trimesh

    import remoteviz as rv
    from remoteviz.encoders.image import encode_png

    subdivisions = 1
    while 20 * 4**subdivisions < args.triangles:
        subdivisions += 1
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions)
    mesh = rv.Mesh(sphere.vertices, sphere.faces, name="sphere")
    manager = rv.SceneManager()
    examiner = rv.SceneExaminer([rv.GradientBackground(), mesh])
    manager.scene_graph = examiner
    examiner.view_all(rv.Viewport(width, height))
    manager.antialiasing_max_triangles = None  # stills multisampled whatever the size, as with a GPU

    def draw(style: rv.DisplayStyle, highlight: bool, interactive: bool) -> float:
        manager.display_style = style
        manager.highlighted = mesh if highlight else None
        started = time.perf_counter()
        manager.render(width, height, interactive=interactive)
        return time.perf_counter() - started

    def screenshot() -> float:
        manager.display_style, manager.highlighted = rv.DisplayStyle.SURFACE, None
        started = time.perf_counter()
        encode_png(manager.render(width, height))
        return time.perf_counter() - started

    cases = {f"{style.value}{' + highlight' if highlight else ''}, {'interactive' if interactive else 'still'}":
             (lambda s=style, h=highlight, i=interactive: draw(s, h, i))
             for interactive in (True, False) for style in rv.DisplayStyle for highlight in (False, True)
             if not (highlight and style is not rv.DisplayStyle.SURFACE)}
    cases["screenshot (still + PNG)"] = screenshot
    for case in cases.values():
        case()  # upload, compile, allocate
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, case in cases.items():
            times[name].append(case())
    print(f"{len(sphere.faces)} triangles at {width}x{height}, median of {args.rounds} rounds (ms per frame):")
    medians = {name: statistics.median(values) * 1000.0 for name, values in times.items()}
    for name, ms in medians.items():
        kind = "interactive" if name.endswith("interactive") else "still"
        base = medians.get(f"surface, {kind}")
        ratio = f"  x{ms / base:.2f} of surface" if base and not name.startswith("screenshot") else ""
        print(f"  {name:<36} {ms:8.1f}{ratio}")
    manager.dispose()


if __name__ == "__main__":
    main()
