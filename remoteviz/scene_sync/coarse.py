"""Coarse copies of big meshes, sent to a client-side page before their full detail.

A mesh of more than :data:`COARSE_MIN_TRIANGLES` triangles whose triangles share vertices gets a
copy of at most :func:`coarse_triangles` triangles by vertex clustering (:func:`clustered_copy`):
about 0.4 MiB deflated for any size of mesh, so the page has a picture of the whole model after
its first two chunks. Clustering is plain numpy, 0.2 to 0.5 s per million triangles and
linear (the renderer's quadric decimation, :func:`remoteviz.rendering.level_of_detail.decimate`,
takes 2-3 s for a million and 25 s for five, holding the GIL), so the copy is made on the scene
encoder's thread just before the full detail is encoded, and a model's first page gets it first.
Its silhouette matched the full mesh's nearly as well as the decimated copy's did (IoU 0.988 to
0.998 against 0.996 to 0.9998, on a torus, a bumpy sphere and a thin plate): sharp edges come
out rounded by up to a cell, which a picture shown until the full detail arrives can afford.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the scene graph is loaded by the first scene, not by importing remoteviz
    from remoteviz.rendering.shapes import Geometry

COARSE_MIN_TRIANGLES = 100_000
"""Meshes with more triangles than this go to client-side pages as a coarse copy first."""


DENSE_CELLS = 1 << 24
"""Grids of up to this many cells number the cells a mesh's vertices fall in through an array of
them all (128 MiB at most) rather than by sorting the vertices' cells."""


def wants_coarse(geometry: Geometry) -> bool:
    """Whether ``geometry`` is big enough for a coarse copy and its triangles share vertices (a
    soup of separate triangles, as per-face colours make, would merge into scattered shards)."""
    from remoteviz.rendering.level_of_detail import wants_lod

    return wants_lod(geometry, COARSE_MIN_TRIANGLES)


def coarse_triangles(geometry: Geometry) -> int:
    """The coarse copy's triangles: the renderer's level-of-detail size (:data:`~remoteviz.rendering.level_of_detail.LOD_TRIANGLES`),
    and at most a quarter of the mesh's, so that the copy adds at most a quarter to what is sent."""
    from remoteviz.rendering.level_of_detail import LOD_TRIANGLES

    return min(LOD_TRIANGLES, len(geometry.indices) // 4)


def clustered_copy(geometry: Geometry, triangles: int | None = None) -> Geometry:
    """A copy of ``geometry`` of at most ``triangles`` triangles (:func:`coarse_triangles` when
    None) by vertex clustering: the vertices are snapped to a grid of cubic cells over the
    bounding box and merged per cell (at the mean of those merged, so within a cell's diagonal of
    the surface), triangles left with two corners in one cell or met twice are dropped, and the
    normals are recomputed from the triangles left (facing the side the mesh's own normals face).
    Plain numpy, 0.2 to 0.5 s for a million triangles: made just before a big mesh's full detail
    is encoded, on the same thread."""
    target = max(1, coarse_triangles(geometry) if triangles is None else triangles)
    positions = np.asarray(geometry.positions, np.float32)
    faces = np.asarray(geometry.indices, np.int64)
    extent = float(np.ptp(positions, axis=0).max())
    # The surface's area, from a sample of its triangles (all of them would take a tenth of a second).
    step = max(1, len(faces) // 65536)
    corners = positions[faces[::step]]
    area = step * float(np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]),
                                       axis=-1).sum()) / 2.0
    # A smooth surface crossing cubic cells leaves about 2.6 triangles per cell²: cells of the size
    # that makes ``target`` (a rough surface leaves fewer, and one too fine goes again coarser).
    cell = max(np.sqrt(2.6 * area / target), extent / 2**20, float(np.finfo(np.float32).tiny))
    while True:  # ends: cells past the box's size leave at most a few triangles
        copy = cluster(geometry, cell)
        if len(copy.indices) <= target:
            return copy
        cell *= max(1.05, 1.05 * np.sqrt(len(copy.indices) / target))


def cluster(geometry: Geometry, cell: float) -> Geometry:
    """``geometry`` with its vertices merged per cubic cell of side ``cell`` (from the low corner
    of its box), each at the mean of those merged: within ``sqrt(3) * cell`` of the surface."""
    from remoteviz.rendering.level_of_detail import mean_by
    from remoteviz.rendering.shapes import Geometry

    positions = np.asarray(geometry.positions, np.float32)
    faces = np.asarray(geometry.indices, np.int64)
    low = positions.min(axis=0)

    grid = np.floor((positions - low) / cell).astype(np.int64)
    spans = grid.max(axis=0) + 1
    keys = (grid[:, 0] * spans[1] + grid[:, 1]) * spans[2] + grid[:, 2]
    if int(spans.prod()) <= DENSE_CELLS:  # numbered through an array of every cell: no sort
        occupied = np.zeros(int(spans.prod()), np.int64)
        occupied[keys] = 1
        vertex_cell = (np.cumsum(occupied) - 1)[keys]
    else:
        vertex_cell = np.unique(keys, return_inverse=True)[1].reshape(-1)
    merged = vertex_cell[faces]
    kept = (merged[:, 0] != merged[:, 1]) & (merged[:, 1] != merged[:, 2]) & (merged[:, 0] != merged[:, 2])
    merged = merged[kept]
    # A triangle met twice (either side) once: keyed by its corners in order.
    ordered = np.sort(merged, axis=1)
    cells = int(vertex_cell.max()) + 1
    _, first = np.unique((ordered[:, 0] * cells + ordered[:, 1]) * cells + ordered[:, 2], return_index=True)
    merged = merged[np.sort(first)]
    # Only the cells the triangles left use become vertices.
    used, new_faces = np.unique(merged, return_inverse=True)
    new_faces = new_faces.reshape(-1, 3)
    renumber = np.full(cells, -1, np.int64)
    renumber[used] = np.arange(len(used))
    mapping = renumber[vertex_cell]
    count = len(used)
    points = mean_by(mapping, positions, count)
    corners = points[new_faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.stack([np.bincount(new_faces.reshape(-1), np.repeat(face_normals[:, k], 3), minlength=count)
                        for k in range(3)], axis=-1)
    lengths = np.linalg.norm(normals, axis=-1, keepdims=True)
    # Where the sides of a thin sheet met in one cell and cancel out: the mesh's own normals there;
    # elsewhere the side its own normals face (a mesh may be wound either way round).
    own = mean_by(mapping, np.asarray(geometry.normals, np.float32), count)
    normals = np.where(lengths > 1e-12 * max(1.0, float(lengths.max(initial=0.0))), normals, own)
    normals *= np.where(np.einsum("ij,ij->i", normals, own) < 0.0, -1.0, 1.0)[:, None]
    lengths = np.linalg.norm(normals, axis=-1, keepdims=True)
    normals = np.where(lengths > 0.0, normals / np.where(lengths > 0.0, lengths, 1.0), np.array([0.0, 0.0, 1.0]))
    return Geometry(points, normals.astype(np.float32), new_faces.astype(np.uint32),
                    None if geometry.colors is None else mean_by(mapping, np.asarray(geometry.colors, np.float32), count))
