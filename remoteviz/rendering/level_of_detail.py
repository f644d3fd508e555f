"""Level of detail: lighter copies of big meshes, drawn while the view moves.

A mesh of more than :data:`LOD_MIN_TRIANGLES` triangles gets a decimated copy of about
:data:`LOD_TRIANGLES` triangles, computed once per version of the mesh on a background thread
with fast-simplification (quadric edge collapse). Interactive frames draw the copy once it is
ready (the full mesh until then); still frames always draw the full mesh.

The same background thread tells whether the mesh and its copy are closed and which way round
they are wound (:func:`winding`): the renderer then culls their hidden faces while the camera is
outside them, which on llvmpipe takes a third off a frame of a million triangles.
"""

from __future__ import annotations

import concurrent.futures
import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from remoteviz.rendering.shapes import Geometry

LOD_MIN_TRIANGLES = 200_000
"""Meshes with more triangles than this get a decimated copy for interactive frames."""

LOD_TRIANGLES = 50_000
"""Triangles in a decimated copy. On llvmpipe with 2 cores at 1280x720, a shaded torus covering
most of the frame takes 12 ms with 2,500 triangles, 17.5 ms with 50,000, 26 ms with 100,000 and
110 ms with a million: below 50,000 the pixels, not the triangles, bound the frame."""

_log = logging.getLogger(__name__)


def wants_lod(geometry: Geometry, minimum: int = LOD_MIN_TRIANGLES) -> bool:
    """True when ``geometry`` has more than ``minimum`` triangles and they share vertices (a soup
    of separate triangles, as per-face colours make, cannot be collapsed)."""
    triangles = len(geometry.indices)
    return triangles > minimum and len(geometry.positions) < 3 * triangles


def mean_by(mapping: npt.NDArray[np.int64], values: npt.NDArray[np.float32], count: int) -> npt.NDArray[np.float32]:
    """Per new vertex (``count`` of them), the mean of ``values`` over the original vertices merged
    into it (``mapping``: each original vertex's new one, -1 for none)."""
    kept = mapping >= 0
    weights = np.bincount(mapping[kept], minlength=count).astype(np.float64)
    columns = [np.bincount(mapping[kept], values[kept, k], minlength=count) for k in range(values.shape[1])]
    return (np.stack(columns, axis=-1) / np.maximum(weights, 1.0)[:, None]).astype(np.float32)


def decimate(geometry: Geometry, triangles: int | None = None) -> Geometry:
    """A copy of ``geometry`` with about ``triangles`` triangles (:data:`LOD_TRIANGLES` as it is
    at the call when None, so that assigning the module's knob takes effect).

    Each kept vertex takes the mean normal, colour, texture coordinates and scalar of the vertices
    collapsed into it, so shading, vertex colours and textures carry over.
    """
    import fast_simplification  # a compiled extension: loaded only when a big mesh is drawn

    target = LOD_TRIANGLES if triangles is None else triangles
    indices = geometry.indices.astype(np.int64)
    _, _, collapses = fast_simplification.simplify(
        geometry.positions, indices.astype(np.int32), target_count=target, return_collapses=True)
    points, faces, mapping = fast_simplification.replay_simplification(geometry.positions, indices, collapses)
    count = len(points)
    normals = mean_by(mapping, geometry.normals, count)
    lengths = np.linalg.norm(normals, axis=-1, keepdims=True)
    normals /= np.where(lengths == 0.0, 1.0, lengths)
    return Geometry(
        np.ascontiguousarray(points, np.float32),
        normals,
        np.ascontiguousarray(faces, np.uint32),
        None if geometry.colors is None else mean_by(mapping, geometry.colors, count),
        None if geometry.texcoords is None else mean_by(mapping, geometry.texcoords, count),
        None if geometry.scalars is None else mean_by(mapping, geometry.scalars[:, None], count)[:, 0],
    )


def winding(geometry: Geometry) -> int:
    """1 when the triangles close a solid wound counter-clockwise seen from outside (OpenGL's
    front faces outside), -1 when wound the other way, 0 when they do not close one.

    Closed means every edge is shared by exactly two triangles that run along it in opposite
    directions; which way round is the sign of the enclosed volume (for a mesh of several solids,
    the sum of theirs: one solid wound against the others is taken their way).
    """
    faces = geometry.indices.astype(np.int64)
    if not len(faces):
        return 0
    count = int(faces.max()) + 1
    tails = faces.ravel()
    heads = np.roll(faces, -1, axis=1).ravel()
    edges = np.sort(tails * count + heads)
    if np.any(edges[1:] == edges[:-1]) or not np.array_equal(edges, np.sort(heads * count + tails)):
        return 0
    p = geometry.positions.astype(np.float64)
    volume = float(np.einsum("ij,ij->", p[faces[:, 0]], np.cross(p[faces[:, 1]], p[faces[:, 2]])))
    return 0 if volume == 0.0 else (1 if volume > 0.0 else -1)


@dataclass(frozen=True, slots=True)
class LevelOfDetail:
    """What the background thread found for one mesh: its decimated copy, and the
    :func:`winding` of the copy and of the mesh itself."""

    copy: Geometry
    copy_winding: int
    winding: int


def level_of_detail(geometry: Geometry) -> LevelOfDetail:
    """The decimated copy of ``geometry`` and both windings."""
    copy = decimate(geometry)
    return LevelOfDetail(copy, winding(copy), winding(geometry))


class Decimator:
    """Decimates on one background thread, so rendering never waits for it."""

    def __init__(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="remoteviz-lod")

    def submit(self, geometry: Geometry) -> concurrent.futures.Future[LevelOfDetail]:
        """Start decimating ``geometry``; a failure is logged and leaves the full mesh drawn."""
        future = self._executor.submit(level_of_detail, geometry)
        future.add_done_callback(_log_failure)
        return future


def _log_failure(future: concurrent.futures.Future[LevelOfDetail]) -> None:
    error = future.exception()
    if error is not None:
        _log.warning("could not decimate a mesh for interactive frames: %s", error, exc_info=error)
