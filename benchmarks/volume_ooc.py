"""Out-of-core volume benchmark: big uint8 volumes drawn from their zarr pyramid within a budget.

Writes a CT-like 1024^3 uint8 volume (1 GiB; and 2048^3, 8 GiB, with ``--sizes 1024 2048``) once
as a pyramid store under ``--folder`` (default ``/tmp/i20-ooc/bench``, reused by later runs),
then for each size and budget (default 256 MB and 1 GB), each in a fresh process so its peak RSS
is its own, at 1280x720:

- time to first picture: from making the volume (reading the coarsest level) to the first still,
  and to the first interactive frame (what a user turning the view gets);
- time to full resolution: until a still has every brick its screen-space error wants (as fine as
  the GPU budget allows; the finest level drawn is printed), the loader working meanwhile;
- interactive fps during an orbit (interactive frames, the camera turned between frames, bricks
  still loading);
- peak RSS (``ru_maxrss``) and its growth over the process before the volume was made, against the
  budget + 300 MB target;
- bytes read: decoded brick bytes the loader read, and bytes the process read from files
  (``/proc/self/io`` ``rchar``: page cache included).

Beside them, the in-memory :class:`~remoteviz.rendering.Volume` on a 512^3 volume that fits (the
same generator) gives the interactive fps the target compares with. Figures from a machine shared
with other work are only comparable within one run.

    python -m benchmarks.volume_ooc [--sizes 1024 [2048]] [--budgets 256 1024] [--frames 20]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

WIDTH, HEIGHT = 1280, 720
DEFAULT_FOLDER = Path("/tmp/i20-ooc/bench")


class SyntheticCT:
    """An ``n``-cube uint8 CT-like volume computed on demand, so writing it needs no copy in RAM:
    a shell of bone round soft tissue with a brighter spot, air outside."""

    def __init__(self, n: int) -> None:
        self.shape = (n, n, n)
        self.dtype = np.dtype(np.uint8)

    def __getitem__(self, key: tuple[slice, slice, slice]) -> np.ndarray:
        n = self.shape[0]
        ranges = [np.arange(n)[k] for k in key]
        z, y, x = (2.0 * r.astype(np.float32) / (n - 1) - 1.0 for r in ranges)
        z, y, x = z[:, None, None], y[None, :, None], x[None, None, :]
        r = np.sqrt(x * x + y * y + z * z)
        values = np.where(r < 0.9, 70.0, 0.0) + np.where((r > 0.78) & (r < 0.88), 110.0, 0.0)
        values = values + np.where((x - 0.3) ** 2 + (y - 0.2) ** 2 + z**2 < 0.04, 50.0, 0.0)
        # Noise inside the body, as a scanner gives (a hash of the voxel's position, so any tile
        # is the same whenever it is made): the store compresses about as CT does, not away.
        i, j, k = (r.astype(np.uint64) for r in (ranges[2][None, None, :], ranges[1][None, :, None],
                                                  ranges[0][:, None, None]))
        noise = ((i * np.uint64(73856093)) ^ (j * np.uint64(19349663)) ^ (k * np.uint64(83492791))) % np.uint64(9)
        values = values + np.where(r < 0.9, noise.astype(np.float32) - 4.0, 0.0)
        return np.clip(values, 0, 255).astype(np.uint8)


def ensure_store(folder: Path, n: int) -> Path:
    """The pyramid store of the ``n``-cube volume, written once."""
    from remoteviz.readers.pyramid_store import write_pyramid
    from remoteviz.readers.volume_data import VolumeData

    store = folder / f"ct-{n}.zarr"
    if (store / "zarr.json").is_file():
        return store
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"ct-{n}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    matrix = np.eye(4)
    matrix[:3, 3] = -(n - 1) / 2.0
    start = time.perf_counter()
    shown = -1

    def progress(fraction: float, what: str) -> None:
        nonlocal shown
        if int(fraction * 20) != shown:
            shown = int(fraction * 20)
            print(f"  writing {n}^3: {fraction * 100:3.0f}% ({what})", flush=True)

    write_pyramid(VolumeData((SyntheticCT(n),), (matrix,), f"ct-{n}"), partial, progress=progress)
    partial.rename(store)
    print(f"  wrote {store} in {time.perf_counter() - start:.0f} s", flush=True)
    return store


def _read_chars() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _scene(node: Any) -> tuple[Any, Any]:
    from remoteviz.rendering import GradientBackground, SceneExaminer, Viewport

    examiner = SceneExaminer()
    examiner.add_child(GradientBackground())
    examiner.add_child(node)
    examiner.view_all(Viewport(WIDTH, HEIGHT))
    return examiner, examiner.camera


def _orbit_fps(manager: Any, camera: Any, frames: int) -> float:
    from remoteviz.rendering import Rotation

    start = time.perf_counter()
    for _ in range(frames):
        camera.orbit(Rotation.from_axis_angle((0.2, 1.0, 0.0), 2.0 * np.pi / frames))
        manager.render(WIDTH, HEIGHT, interactive=True)
    return frames / (time.perf_counter() - start)


def run_out_of_core(store: Path, budget_mb: int, frames: int) -> dict[str, Any]:
    """One size and budget, in this process."""
    from remoteviz.readers.ome_zarr import read_zarr
    from remoteviz.rendering import OutOfCoreVolume, SceneManager, TransferFunction
    from remoteviz.rendering.out_of_core import volume_node

    manager = SceneManager()
    manager.render(64, 64)  # the GL context and programs, outside the figures
    base_rss, base_read = _rss_mb(), _read_chars()
    start = time.perf_counter()
    volume = volume_node(read_zarr(store), budget_mb * 1024**2,
                         transfer_function=TransferFunction.preset("ct"), data_range=(0.0, 255.0))
    assert isinstance(volume, OutOfCoreVolume)  # an axis-aligned store needs no transform
    root, camera = _scene(volume)
    manager.scene_graph = root
    manager.render(WIDTH, HEIGHT)
    first = time.perf_counter() - start
    stills = 1
    while not volume.complete and time.perf_counter() - start < 600:
        volume.wait_for_bricks(60.0)
        volume.touch()
        manager.render(WIDTH, HEIGHT)
        stills += 1
    full = time.perf_counter() - start
    drawn, complete = volume.last_frame, volume.complete
    fps = _orbit_fps(manager, camera, frames)
    peak, read = _rss_mb(), _read_chars() - base_read
    # The first picture as a view being turned gets it: an interactive frame of a new volume.
    again = volume_node(read_zarr(store), budget_mb * 1024**2,
                        transfer_function=TransferFunction.preset("ct"), data_range=(0.0, 255.0))
    root, camera = _scene(again)
    manager.scene_graph = root
    start = time.perf_counter()
    manager.render(WIDTH, HEIGHT, interactive=True)
    first_interactive = time.perf_counter() - start
    return {
        "first_picture_s": round(first, 3), "first_interactive_picture_s": round(first_interactive, 3),
        "full_resolution_s": round(full, 2), "stills": stills,
        "complete": complete, "finest_level_drawn": drawn.finest_level,
        "bricks_drawn": drawn.bricks, "interactive_fps": round(fps, 2),
        "peak_rss_mb": round(peak, 1), "rss_growth_mb": round(peak - base_rss, 1),
        "budget_mb": budget_mb, "host_cache_mb": round(volume.bricks.cache.nbytes / 1e6, 1),
        "gpu_bricks_mb": round(drawn.gpu_bytes / 1e6, 1), "bricks_read": volume.bricks.loader.bricks_read,
        "brick_bytes_read_mb": round(volume.bricks.loader.bytes_read / 1e6, 1),
        "file_bytes_read_mb": round(read / 1e6, 1),
    }


def run_in_memory(n: int, frames: int) -> dict[str, Any]:
    """The in-memory Volume on an ``n``-cube of the same generator."""
    from remoteviz.rendering import SceneManager, TransferFunction, Volume

    manager = SceneManager()
    manager.render(64, 64)
    source = SyntheticCT(n)
    data = np.empty(source.shape, np.uint8)
    for z in range(0, n, 16):  # slab by slab: the generator's float temporaries stay small
        data[z:z + 16] = source[z:z + 16, :, :]
    volume = Volume(data, transfer_function=TransferFunction.preset("ct"), data_range=(0, 255),
                    origin=(-(n - 1) / 2.0,) * 3)
    root, camera = _scene(volume)
    manager.scene_graph = root
    start = time.perf_counter()
    manager.render(WIDTH, HEIGHT)
    first = time.perf_counter() - start
    fps = _orbit_fps(manager, camera, frames)
    return {"first_picture_s": round(first, 3), "interactive_fps": round(fps, 2), "peak_rss_mb": round(_rss_mb(), 1)}


def _child(arguments: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "benchmarks.volume_ooc", *arguments],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024], help="volume sides (default 1024; 2048 too)")
    parser.add_argument("--budgets", type=int, nargs="+", default=[256, 1024], help="memory budgets in MB")
    parser.add_argument("--frames", type=int, default=20, help="interactive frames in the orbit")
    parser.add_argument("--in-memory", type=int, default=512, help="side of the in-memory baseline volume")
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="where the stores are written")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "ARG"), help=argparse.SUPPRESS)
    parser.add_argument("--budget", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, value = args.child
        if kind == "memory":
            print(json.dumps(run_in_memory(int(value), args.frames)))
        else:
            print(json.dumps(run_out_of_core(Path(value), args.budget, args.frames)))
        return
    free = shutil.disk_usage(args.folder.parent if args.folder.parent.exists() else "/tmp").free
    print(f"volume_ooc: {WIDTH}x{HEIGHT}, {args.frames} orbit frames; {free / 1e9:.0f} GB free for stores")
    baseline = _child(["--child", "memory", str(args.in_memory), "--frames", str(args.frames)])
    print(f"in-memory Volume {args.in_memory}^3: first picture {baseline['first_picture_s']} s, "
          f"interactive {baseline['interactive_fps']} fps, peak RSS {baseline['peak_rss_mb']} MB")
    for n in args.sizes:
        if n**3 * 1.3 > free:
            print(f"{n}^3: skipped, {n**3 * 1.3 / 1e9:.1f} GB needed on disk")
            continue
        store = ensure_store(args.folder, n)
        for budget in args.budgets:
            result = _child(["--child", "ooc", str(store), "--budget", str(budget), "--frames", str(args.frames)])
            print(f"out-of-core {n}^3, budget {budget} MB: " + ", ".join(f"{k} {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
