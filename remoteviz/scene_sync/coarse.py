"""Coarse copies of big meshes, sent to a client-side page before their full detail.

A mesh of more than :data:`COARSE_MIN_TRIANGLES` triangles whose triangles share vertices gets a
copy decimated with the renderer's own level-of-detail simplification
(:func:`remoteviz.rendering.level_of_detail.decimate`) to :func:`coarse_triangles` triangles:
about 0.4 MiB deflated for any size of mesh, so the page has a picture of the whole model after
its first two chunks.

fast-simplification holds the GIL while it decimates (about a second for a million triangles,
25 s for five million), which would stall the service's dispatch thread. So
:class:`CoarseCopies` decimates in a process of its own (:func:`main`, one per copy: a copy is made once per version of a big mesh), fed
and read through pipes as ``.npy`` arrays, and waits for it on a thread of its own.
"""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:  # the scene graph is loaded by the first scene, not by importing remoteviz
    from remoteviz.rendering.shapes import Geometry

T = TypeVar("T")

WORKER = "from remoteviz.scene_sync.coarse import main; main()"
"""What the decimating process runs."""

COARSE_MIN_TRIANGLES = 100_000
"""Meshes with more triangles than this go to client-side pages as a coarse copy first."""


def wants_coarse(geometry: Geometry) -> bool:
    """Whether ``geometry`` is big enough for a coarse copy and can be decimated (its triangles
    share vertices: a soup of separate triangles, as per-face colours make, cannot)."""
    from remoteviz.rendering.level_of_detail import wants_lod

    return wants_lod(geometry, COARSE_MIN_TRIANGLES)


def coarse_triangles(geometry: Geometry) -> int:
    """The coarse copy's triangles: the renderer's level-of-detail size (:data:`~remoteviz.rendering.level_of_detail.LOD_TRIANGLES`),
    and at most a quarter of the mesh's, so that the copy adds at most a quarter to what is sent."""
    from remoteviz.rendering.level_of_detail import LOD_TRIANGLES

    return min(LOD_TRIANGLES, len(geometry.indices) // 4)


def coarse_copy(geometry: Geometry, triangles: int | None = None) -> Geometry:
    """The coarse copy of ``geometry`` (of ``triangles``, :func:`coarse_triangles` when None),
    decimated in this process (the worker's side, and what a caller that does not mind holding the
    GIL uses)."""
    from remoteviz.rendering.level_of_detail import decimate
    from remoteviz.rendering.shapes import Geometry

    copy = decimate(Geometry(geometry.positions, geometry.normals, geometry.indices, geometry.colors),
                    coarse_triangles(geometry) if triangles is None else triangles)
    return Geometry(copy.positions, copy.normals, copy.indices, copy.colors)


class _Pipe:
    """A pipe as numpy's ``.npy`` functions take it: through ``read``/``write`` (given the pipe
    itself, they seek, which a pipe cannot)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.read = stream.read
        self.write = stream.write


def _write(stream: IO[bytes], geometry: Geometry) -> None:
    colors = np.zeros((0, 4), np.float32) if geometry.colors is None else geometry.colors
    for array in (geometry.positions, geometry.normals, geometry.indices, colors):
        np.lib.format.write_array(_Pipe(stream), np.ascontiguousarray(array), allow_pickle=False)
    stream.flush()


def _read(stream: IO[bytes]) -> Geometry:
    from remoteviz.rendering.shapes import Geometry

    positions, normals, indices, colors = (np.lib.format.read_array(_Pipe(stream), allow_pickle=False)
                                           for _ in range(4))
    return Geometry(positions.astype(np.float32, copy=False), normals.astype(np.float32, copy=False),
                    indices.astype(np.uint32, copy=False), colors.astype(np.float32, copy=False) if len(colors) else None)


class CoarseCopies:
    """Makes coarse copies in worker processes, one at a time, waited for on a thread of its own."""

    def __init__(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="remoteviz-scene-coarse")
        self._lock = threading.Lock()
        self._worker: subprocess.Popen[bytes] | None = None
        self._closed = False

    def submit(self, geometry: Geometry, then: Callable[[Geometry], T]) -> concurrent.futures.Future[T]:
        """Start making the coarse copy of ``geometry`` (a geometry that :func:`wants_coarse`); the
        future holds what ``then`` makes of it (on this object's thread, not the caller's)."""
        return self._executor.submit(lambda: then(self._make(geometry)))

    def _make(self, geometry: Geometry) -> Geometry:
        with self._lock:
            if self._closed:
                raise RuntimeError("the coarse copies were closed")
            worker = self._worker = subprocess.Popen(
                [sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert worker.stdin is not None and worker.stdout is not None
        try:
            try:
                # The size is decided here: the knobs as this process has them, not the worker.
                np.lib.format.write_array(_Pipe(worker.stdin), np.array([coarse_triangles(geometry)]))
                _write(worker.stdin, geometry)
                worker.stdin.close()
                copy = _read(worker.stdout)
            except (OSError, ValueError) as error:
                raise RuntimeError(f"the decimating process failed (exit status {worker.wait()})") from error
            worker.wait()
            return copy
        finally:
            with self._lock:
                self._worker = None
            if worker.poll() is None:
                worker.kill()
                worker.wait()
            worker.stdin.close()
            worker.stdout.close()

    def close(self) -> None:
        """Stop the copy being made (its process is killed) and those waiting; make no more."""
        with self._lock:
            self._closed = True
            if self._worker is not None and self._worker.poll() is None:
                self._worker.kill()
        self._executor.shutdown(wait=False, cancel_futures=True)


def main() -> None:
    """The worker: a geometry in on stdin, its coarse copy out on stdout. It runs at a lower
    priority: on a machine with few cores, the service's own work (encoding the full detail,
    rendering, sending) goes first."""
    if hasattr(os, "nice"):
        os.nice(10)
    triangles = int(np.lib.format.read_array(_Pipe(sys.stdin.buffer), allow_pickle=False)[0])
    _write(sys.stdout.buffer, coarse_copy(_read(sys.stdin.buffer), triangles))

