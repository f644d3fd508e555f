"""Shapes: nodes that draw triangles, and the built-in primitives with Open Inventor's sizes.

Every shape hands the renderer and the picker a :class:`Geometry` (triangles with normals), built
from its fields and cached until a field changes. Triangles wind counter-clockwise seen from
outside, where the normals point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from remoteviz.rendering.fields import Field, as_positive_float
from remoteviz.rendering.math3d import BoundingBox
from remoteviz.rendering.nodes import Node

if TYPE_CHECKING:
    from remoteviz.rendering.actions import Action

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True, eq=False)
class Geometry:
    """Indexed triangles: ``positions`` and ``normals`` ``(N, 3)`` float32, ``indices`` ``(M, 3)``
    uint32, optional per-vertex ``colors`` ``(N, 4)`` float32 RGBA from 0 to 1, optional
    texture coordinates ``texcoords`` ``(N, 2)`` float32 (``(0, 0)`` is the image's bottom-left
    corner, as in OBJ and OpenGL), and optional per-vertex ``scalars`` ``(N,)`` float32 that a
    colour map turns into colours (see :mod:`remoteviz.rendering.scalars`)."""

    positions: FloatArray
    normals: FloatArray
    indices: npt.NDArray[np.uint32]
    colors: FloatArray | None = None
    texcoords: FloatArray | None = None
    scalars: FloatArray | None = None

    @classmethod
    def concatenate(cls, parts: Sequence[Geometry]) -> Geometry:
        """Join geometries into one, renumbering the indices (colours are not joined)."""
        offsets = np.cumsum([0] + [len(p.positions) for p in parts[:-1]])
        return cls(
            np.concatenate([p.positions for p in parts]).astype(np.float32),
            np.concatenate([p.normals for p in parts]).astype(np.float32),
            np.concatenate([p.indices + np.uint32(o) for p, o in zip(parts, offsets, strict=True)]),
        )

    @property
    def bounding_box(self) -> BoundingBox | None:
        """The box around the vertices that triangles use, or None when there are none."""
        if len(self.indices) == 0:
            return None
        return BoundingBox.of_points(self.positions)


class Shape(Node):
    """A node the renderer draws; the base class draws triangles with the current material,
    transform, lights, clip planes and texture.

    A shape builds its geometry (triangles here; points, lines, a volume's bricks in the
    subclasses that draw those) from its fields, and caches it until a field changes. The
    renderer and the picker choose how to draw and pick by the geometry's type.
    """

    _cache: tuple[int, Any, BoundingBox | None] | None = None
    _geometry_version = 0
    closed: ClassVar[bool] = False
    """True for solids wound counter-clockwise outside: their back faces are never seen, so the
    renderer culls them (half the shading work on software OpenGL)."""

    @property
    def geometry_version(self) -> int:
        """A counter bumped when what the shape draws changes; not by :meth:`touch_appearance`."""
        return self._geometry_version

    def touch(self) -> None:
        """Mark the shape changed: its geometry is built again when next drawn or picked."""
        self._geometry_version += 1
        super().touch()

    def touch_appearance(self) -> None:
        """Redraw with the same geometry (and the same GPU buffers)."""
        Node.touch(self)

    @property
    def geometry(self) -> Any:
        """What the shape draws (:class:`Geometry` triangles unless a subclass says otherwise),
        rebuilt only after the shape changes."""
        return self._cached()[1]

    @property
    def bounding_box(self) -> BoundingBox | None:
        """The shape's bounding box in its own coordinates, or None when it has no triangles."""
        return self._cached()[2]

    def _cached(self) -> tuple[int, Any, BoundingBox | None]:
        if self._cache is None or self._cache[0] != self._geometry_version:
            geometry = self._build_geometry()
            self._cache = (self._geometry_version, geometry, geometry.bounding_box)
        return self._cache

    def _build_geometry(self) -> Any:
        raise NotImplementedError

    def traverse(self, action: Action) -> None:
        """Offer the shape to the action."""
        action.visit_shape(self)


# Tessellation detail: enough for smooth silhouettes at full-HD sizes, cheap to draw and pick.
_SEGMENTS = 64
_RINGS = 32


def _ring(segments: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosines and sines of ``segments + 1`` angles, counter-clockwise seen from +y."""
    angles = np.linspace(0.0, 2.0 * math.pi, segments + 1)
    return np.cos(angles), -np.sin(angles)


def _quad_strip_indices(rows: int, columns: int) -> np.ndarray:
    """Two triangles per cell of a ``(rows + 1) x (columns + 1)`` vertex grid, row 0 on top."""
    top = np.arange(rows)[:, None] * (columns + 1) + np.arange(columns)[None, :]
    bottom = top + columns + 1
    tri_a = np.stack([bottom, bottom + 1, top + 1], axis=-1)
    tri_b = np.stack([bottom, top + 1, top], axis=-1)
    return np.concatenate([tri_a.reshape(-1, 3), tri_b.reshape(-1, 3)]).astype(np.uint32)


def _frustum_side(bottom_radius: float, top_radius: float, height: float) -> Geometry:
    """The side of a cone or cylinder along y, centred on the origin."""
    cos, sin = _ring(_SEGMENTS)
    half = height / 2.0
    top = np.stack([top_radius * cos, np.full_like(cos, half), top_radius * sin], axis=-1)
    bottom = np.stack([bottom_radius * cos, np.full_like(cos, -half), bottom_radius * sin], axis=-1)
    # The outward normal leans up as the radius shrinks towards the top.
    normal = np.stack([height * cos, np.full_like(cos, bottom_radius - top_radius), height * sin], axis=-1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    return Geometry(
        np.concatenate([top, bottom]).astype(np.float32),
        np.concatenate([normal, normal]).astype(np.float32),
        _quad_strip_indices(1, _SEGMENTS),
    )


def _disk(radius: float, y: float, facing_up: bool) -> Geometry:
    """A flat disk at height ``y`` facing +y or -y."""
    cos, sin = _ring(_SEGMENTS)
    rim = np.stack([radius * cos, np.full_like(cos, y), radius * sin], axis=-1)
    positions = np.concatenate([[[0.0, y, 0.0]], rim])
    normals = np.tile([0.0, 1.0 if facing_up else -1.0, 0.0], (len(positions), 1))
    first = np.arange(1, _SEGMENTS + 1)
    second = first + 1
    centre = np.zeros_like(first)
    order = (centre, first, second) if facing_up else (centre, second, first)
    return Geometry(
        positions.astype(np.float32), normals.astype(np.float32), np.stack(order, axis=-1).astype(np.uint32)
    )


class Cone(Shape):
    """A cone along y, apex up, with its base; centred on the origin."""

    closed = True

    bottom_radius = Field(1.0, as_positive_float, "Radius of the base.")
    height = Field(2.0, as_positive_float, "Distance from base to apex.")

    def _build_geometry(self) -> Geometry:
        return Geometry.concatenate(
            [
                _frustum_side(self.bottom_radius, 0.0, self.height),
                _disk(self.bottom_radius, -self.height / 2.0, facing_up=False),
            ]
        )


class Cylinder(Shape):
    """A capped cylinder along y, centred on the origin."""

    closed = True

    radius = Field(1.0, as_positive_float, "Radius of the cylinder.")
    height = Field(2.0, as_positive_float, "Distance between the caps.")

    def _build_geometry(self) -> Geometry:
        half = self.height / 2.0
        return Geometry.concatenate(
            [
                _frustum_side(self.radius, self.radius, self.height),
                _disk(self.radius, half, facing_up=True),
                _disk(self.radius, -half, facing_up=False),
            ]
        )


class Sphere(Shape):
    """A sphere centred on the origin."""

    closed = True

    radius = Field(1.0, as_positive_float, "Radius of the sphere.")

    def _build_geometry(self) -> Geometry:
        polar = np.linspace(0.0, math.pi, _RINGS + 1)[:, None]  # row 0 is the north pole (+y)
        cos, sin = _ring(_SEGMENTS)
        normals = np.stack(
            [np.sin(polar) * cos, np.cos(polar) * np.ones_like(cos), np.sin(polar) * sin], axis=-1
        ).reshape(-1, 3)
        return Geometry(
            (normals * self.radius).astype(np.float32),
            normals.astype(np.float32),
            _quad_strip_indices(_RINGS, _SEGMENTS),
        )


class Cube(Shape):
    """A box centred on the origin."""

    closed = True

    width = Field(2.0, as_positive_float, "Size along x.")
    height = Field(2.0, as_positive_float, "Size along y.")
    depth = Field(2.0, as_positive_float, "Size along z.")

    def _build_geometry(self) -> Geometry:
        half = np.array([self.width, self.height, self.depth]) / 2.0
        positions: list[np.ndarray] = []
        normals: list[np.ndarray] = []
        indices: list[tuple[int, int, int]] = []
        for axis in range(3):
            for sign in (1.0, -1.0):
                n = np.zeros(3)
                n[axis] = sign
                v = np.array([0.0, 0.0, -1.0]) if axis == 1 else np.array([0.0, 1.0, 0.0])
                u = np.cross(v, n)  # u x v = n, so (-u-v, u-v, u+v, -u+v) runs counter-clockwise
                corners = [n - u - v, n + u - v, n + u + v, n - u + v]
                base = len(positions)
                positions.extend(c * half for c in corners)
                normals.extend([n] * 4)
                indices.extend([(base, base + 1, base + 2), (base, base + 2, base + 3)])
        return Geometry(
            np.asarray(positions, dtype=np.float32),
            np.asarray(normals, dtype=np.float32),
            np.asarray(indices, dtype=np.uint32),
        )
