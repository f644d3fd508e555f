"""Threads or processes: how many HelloCone frames per second several render areas get together.

Renders HelloCone's scene (interactive: no multisampling, read back) for a fixed time, orbiting
the camera a little before each frame as a drag does, in three ways on the same machine:

- one area on one thread (the baseline: what a single busy area gets);
- N areas on N threads of one process, each thread with its own OpenGL context (``Renderer.shared(i)``):
  llvmpipe rasterizes and reads back without the GIL, the Python of the renderer and the examiner holds it;
- N areas in N processes, one context each: no GIL in common, but N llvmpipes with their own threads.

    python -m benchmarks.parallel_render [--areas 2,4] [--seconds 2] [--rounds 3] [--size 1280x720]

Prints total frames per second (the median of ``--rounds`` rounds, each of which runs every way
once, so that a change of the machine's load hits them alike) and the ratio to the one-area
figure. Figures are only comparable within one run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import threading
import time

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("EGL_PLATFORM", "surfaceless")


def _scene():
    import remoteviz as rv

    manager = rv.SceneManager()
    examiner = rv.SceneExaminer()
    examiner.add_child(rv.GradientBackground())
    examiner.add_child(rv.Cone())
    manager.scene_graph = examiner
    return manager, examiner


def _cpu_seconds() -> float:
    """CPU time of this process so far, every thread (llvmpipe's too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _render_for(seconds: float, width: int, height: int, renderer: int, start,
                counts, slot: int, cpu=None) -> None:
    """Render one area's frames until ``seconds`` have passed; its count goes to ``counts[slot]``,
    and, given ``cpu``, the CPU seconds its process used meanwhile to ``cpu[slot]``."""
    from remoteviz.rendering.camera import Viewport
    from remoteviz.rendering.math3d import Rotation

    manager, examiner = _scene()
    examiner.view_all(Viewport(width, height))
    turn = Rotation.from_axis_angle((0.0, 1.0, 0.0), 0.02)
    manager.render(width, height, interactive=True, renderer=renderer)  # warm: context, shaders, buffers
    start.wait()
    cpu_before = _cpu_seconds()
    frames = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        examiner.camera.orbit(turn)  # a drag's camera change, as each frame shows one
        manager.render(width, height, interactive=True, renderer=renderer)
        frames += 1
    counts[slot] = frames
    if cpu is not None:
        cpu[slot] = _cpu_seconds() - cpu_before


def _in_process(seconds: float, width: int, height: int, start, counts, cpu, slot: int) -> None:
    _render_for(seconds, width, height, 0, start, counts, slot, cpu)


def on_threads(areas: int, seconds: float, width: int, height: int) -> tuple[float, float]:
    """Total frames per second of ``areas`` areas, each on its own thread and context, and the CPU
    milliseconds per frame."""
    counts = [0] * areas
    start = threading.Barrier(areas + 1)
    threads = [threading.Thread(target=_render_for, args=(seconds, width, height, i, start, counts, i))
               for i in range(areas)]
    for thread in threads:
        thread.start()
    start.wait()
    cpu_before = _cpu_seconds()
    for thread in threads:
        thread.join()
    frames = sum(counts)
    return frames / seconds, (_cpu_seconds() - cpu_before) * 1000.0 / max(1, frames)


def in_processes(areas: int, seconds: float, width: int, height: int) -> tuple[float, float]:
    """Total frames per second of ``areas`` areas, each in a process of its own, and the CPU
    milliseconds per frame."""
    context = multiprocessing.get_context("spawn")  # a fresh EGL in each
    counts, cpu = context.Array("i", areas), context.Array("d", areas)
    start = context.Barrier(areas)
    processes = [context.Process(target=_in_process, args=(seconds, width, height, start, counts, cpu, i))
                 for i in range(areas)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    frames = sum(counts)
    return frames / seconds, sum(cpu) * 1000.0 / max(1, frames)


def main(argv: list[str] | None = None) -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", default="2,4", help="comma-separated area counts (default 2,4)")
    parser.add_argument("--seconds", type=float, default=2.0, help="per way and round (default 2)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", default="1280x720")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    ways = [("one thread", 1, on_threads)]
    for areas in (int(a) for a in args.areas.split(",")):
        ways += [("threads, a context each", areas, on_threads), ("processes", areas, in_processes)]
    figures: dict[tuple[str, int], list[tuple[float, float]]] = {(name, areas): [] for name, areas, _ in ways}
    for _ in range(args.rounds):
        for name, areas, way in ways:
            figures[name, areas].append(way(areas, args.seconds, width, height))
    one = statistics.median(fps for fps, _ in figures["one thread", 1])
    print(f"cores {os.cpu_count()}, {width}x{height} interactive, {args.rounds} rounds of {args.seconds:g} s")
    print(f"{'how':24} {'areas':>5} {'frames/s':>9} {'x one area':>10} {'cpu ms/f':>8}  frames/s by round")
    for (name, areas), values in figures.items():
        fps = statistics.median(f for f, _ in values)
        cpu = statistics.median(c for _, c in values)
        rounds = " ".join(f"{f:.0f}" for f, _ in values)
        print(f"{name:24} {areas:5d} {fps:9.1f} {fps / one:10.2f} {cpu:8.2f}  {rounds}")


if __name__ == "__main__":
    main()
