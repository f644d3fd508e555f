"""Lines: polylines of a width in pixels with per-vertex colours, and a mesh's edges for CAD."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from remoteviz.rendering.fields import Field, as_positive_float
from remoteviz.rendering.math3d import BoundingBox
from remoteviz.rendering.mesh import Mesh, as_colors, as_index_rows, as_points
from remoteviz.rendering.scalars import ScalarShape

#: Picking finds a segment this many pixels from the pick position (beyond half the width), or nearer.
PICK_TOLERANCE_PIXELS = 3.0


@dataclass(frozen=True, slots=True, eq=False)
class LineGeometry:
    """Segments: ``positions`` ``(N, 3)`` float32, ``segments`` ``(M, 2)`` uint32 vertex pairs,
    ``colors`` ``(N, 4)`` float32 RGBA or None (the material's diffuse colour), ``scalars``
    ``(N,)`` float32 for the colour map or None."""

    positions: npt.NDArray[np.float32]
    segments: npt.NDArray[np.uint32]
    colors: npt.NDArray[np.float32] | None
    scalars: npt.NDArray[np.float32] | None = None

    @property
    def bounding_box(self) -> BoundingBox | None:
        """The box around the vertices that segments use, or None when there are none."""
        if len(self.segments) == 0:
            return None
        return BoundingBox.of_points(self.positions)


def _as_counts(value: npt.ArrayLike | None) -> npt.NDArray[np.int64] | None:
    if value is None:
        return None
    counts = np.asarray(value)
    if not np.issubdtype(counts.dtype, np.integer) or counts.ndim != 1:
        raise TypeError("polyline counts must be a 1-D array of integers")
    if (counts < 2).any():
        raise ValueError("every polyline needs at least 2 vertices")
    return counts.astype(np.int64)


def _as_segments(value: npt.ArrayLike | None) -> npt.NDArray[np.uint32] | None:
    return as_index_rows(value, 2, "segment indices")


class LineSet(ScalarShape):
    """Lines of ``width`` pixels, unlit, drawn over surfaces they lie on.

    ``positions`` is ``(N, 3)``. By default they make one polyline; ``counts`` splits them into
    several (``[3, 2]``: a polyline through the first three vertices, then a segment), or
    ``segments`` ``(M, 2)`` lists vertex pairs directly (e.g. a mesh's edges, see
    :meth:`from_mesh_edges`). ``colors`` ``(N, 3)`` or ``(N, 4)`` colour the vertices (None: the
    material's diffuse colour); ``scalars``, one per vertex or per segment, colour them through
    ``colormap`` instead (see :class:`~remoteviz.rendering.scalars.ScalarShape`). Picking finds the nearest segment within half the width plus
    :data:`PICK_TOLERANCE_PIXELS`.
    """

    positions = Field(np.zeros((0, 3), np.float32), as_points, "Vertex positions, (N, 3).")
    counts = Field(None, _as_counts, "Vertices per polyline, or None.")
    segments = Field(None, _as_segments, "Vertex pairs, (M, 2), instead of polylines, or None.")
    colors = Field(None, as_colors, "Vertex colours as (N, 4) RGBA floats, or None.")
    width = Field(1.0, as_positive_float, "Line width in pixels.")

    def __init__(
        self,
        positions: npt.ArrayLike,
        counts: npt.ArrayLike | None = None,
        colors: npt.ArrayLike | None = None,
        *,
        segments: npt.ArrayLike | None = None,
        name: str = "",
        **fields: Any,
    ) -> None:
        super().__init__(
            name=name, positions=positions, counts=counts, colors=colors, segments=segments, **fields
        )

    @classmethod
    def from_mesh_edges(cls, mesh: Mesh, feature_angle: float = math.radians(30.0), **fields: Any) -> LineSet:
        """The edges of ``mesh`` a CAD view outlines: where its faces meet at more than
        ``feature_angle`` (radians), and its open borders. ``fields`` go to the line set."""
        # The mesh's own vertices, before computed normals split them, so shared edges pair up.
        vertices, faces = mesh.vertices, mesh.indices
        if faces is None:
            faces = np.arange(len(vertices), dtype=np.uint32).reshape(-1, 3)
        corners = vertices[faces]
        normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        lengths = np.linalg.norm(normals, axis=1, keepdims=True)
        normals = normals / np.where(lengths == 0.0, 1.0, lengths)
        edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
        owner = np.tile(np.arange(len(faces)), 3)
        order = np.lexsort((edges[:, 1], edges[:, 0]))
        edges, owner = edges[order], owner[order]
        unique, first, count = np.unique(edges, axis=0, return_index=True, return_counts=True)
        keep = count != 2  # borders (1) and non-manifold edges (3+)
        pairs = count == 2
        a, b = owner[first[pairs]], owner[first[pairs] + 1]
        cosine = np.einsum("ij,ij->i", normals[a], normals[b])
        keep[np.flatnonzero(pairs)[cosine < math.cos(feature_angle)]] = True
        return cls(vertices, segments=unique[keep], name=fields.pop("name", f"{mesh.name} edges"), **fields)

    def _build_geometry(self) -> LineGeometry:
        count = len(self.positions)
        if self.colors is not None and len(self.colors) != count:
            raise ValueError(f"colors has {len(self.colors)} rows for {count} vertices")
        if self.segments is not None:
            segments = self.segments
            if segments.size and int(segments.max()) >= count:
                raise ValueError(f"a segment reaches vertex {int(segments.max())} but there are {count}")
        else:
            counts = self.counts if self.counts is not None else np.array([count] if count >= 2 else [], np.int64)
            if int(counts.sum()) != count:
                raise ValueError(f"the polylines have {int(counts.sum())} vertices in all, not {count}")
            starts = np.arange(count - 1)
            # A segment joins vertex i to i + 1 unless i is the last vertex of its polyline.
            last = np.cumsum(counts) - 1
            starts = np.setdiff1d(starts, last)
            segments = np.stack([starts, starts + 1], axis=1).astype(np.uint32)
        scalars, per_cell = self._scalars_per(count, len(segments), "segment")
        if not per_cell:
            return LineGeometry(self.positions, segments, self.colors, scalars)
        # A value per segment: each segment gets vertices of its own, carrying its value.
        ends = segments.ravel()
        return LineGeometry(
            self.positions[ends],
            np.arange(len(ends), dtype=np.uint32).reshape(-1, 2),
            None if self.colors is None else self.colors[ends],
            np.repeat(scalars, 2) if scalars is not None else None,
        )
