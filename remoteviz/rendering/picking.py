"""Picking: which shape lies under a pixel, found by casting a ray through the triangles.

Picking runs on the CPU with numpy, on the same triangles the renderer draws, so it needs no
OpenGL context and agrees with the image.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from remoteviz.rendering.actions import ShapeInstance
from remoteviz.rendering.math3d import BoundingBox, Ray
from remoteviz.rendering.nodes import Node
from remoteviz.rendering.shapes import Geometry, Shape


@dataclass(frozen=True, slots=True, eq=False)
class PickedPoint:
    """The nearest surface point along a pick ray.

    ``point`` and ``normal`` are in world coordinates; the normal faces the viewer. ``path`` runs
    from the scene root to ``node`` (both included); ``distance`` is measured along the ray from
    the camera. ``triangle_index`` is the row of the hit triangle in the shape's triangles (for a
    :class:`~remoteviz.rendering.mesh.Mesh`, in its ``indices``, or vertex triple ``3i..3i+2``
    without indices).
    """

    node: Shape
    path: tuple[Node, ...]
    point: npt.NDArray[np.float64]
    normal: npt.NDArray[np.float64]
    distance: float
    triangle_index: int


def pick(shapes: Iterable[ShapeInstance], ray: Ray) -> PickedPoint | None:
    """The nearest point where ``ray`` meets one of ``shapes``, or None when it meets none."""
    best: PickedPoint | None = None
    for instance in shapes:
        inverse = np.linalg.inv(instance.model)
        # The ray in the shape's coordinates; the direction is not renormalized, so the ray
        # parameter t stays a world distance.
        origin = inverse[:3, :3] @ ray.origin + inverse[:3, 3]
        direction = inverse[:3, :3] @ ray.direction
        geometry = instance.shape.geometry
        box = geometry.bounding_box
        if box is None or not _meets_box(origin, direction, ray.t_min, box):
            continue
        hit = _intersect(origin, direction, ray.t_min, geometry)
        if hit is None or (best is not None and hit[0] >= best.distance):
            continue
        t, normal, triangle = hit
        world_normal = inverse[:3, :3].T @ normal
        world_normal /= np.linalg.norm(world_normal)
        if np.dot(world_normal, ray.direction) > 0.0:
            world_normal = -world_normal
        best = PickedPoint(instance.shape, instance.path, ray.origin + t * ray.direction, world_normal, t,
                           triangle)
    return best


def _meets_box(origin: np.ndarray, direction: np.ndarray, t_min: float, box: BoundingBox) -> bool:
    """Slab test: does the ray pass through the box (grown slightly for rounding)?"""
    pad = 1e-6 * max(float(np.abs(box.size).max()), 1.0)
    lo, hi = np.asarray(box.minimum) - pad, np.asarray(box.maximum) + pad
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - origin) / direction, (hi - origin) / direction
    parallel = direction == 0.0
    if np.any(parallel & ((origin < lo) | (origin > hi))):
        return False
    near = np.where(parallel, -np.inf, np.minimum(t1, t2)).max()
    far = np.where(parallel, np.inf, np.maximum(t1, t2)).min()
    return bool(near <= far and far >= t_min)


def _intersect(
    origin: np.ndarray, direction: np.ndarray, t_min: float, geometry: Geometry
) -> tuple[float, np.ndarray, int] | None:
    """Möller-Trumbore over all triangles at once: the nearest ``(t, interpolated normal, triangle)``."""
    corners = geometry.positions[geometry.indices]
    v0 = corners[:, 0]
    edge1, edge2 = corners[:, 1] - v0, corners[:, 2] - v0
    d = direction.astype(np.float32)
    p = np.cross(d, edge2)
    det = np.einsum("ij,ij->i", edge1, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_det = 1.0 / det
        s = origin.astype(np.float32) - v0
        u = np.einsum("ij,ij->i", s, p) * inv_det
        q = np.cross(s, edge1)
        v = (q @ d) * inv_det
        t = np.einsum("ij,ij->i", edge2, q) * inv_det
        # Degenerate triangles (det 0) give NaN or inf above; the first test drops them.
        hits = (np.abs(det) > 1e-12) & (u >= 0.0) & (v >= 0.0) & (u + v <= 1.0) & (t >= t_min)
    if not hits.any():
        return None
    candidates = np.flatnonzero(hits)
    nearest = candidates[np.argmin(t[candidates])]
    a, b, c = geometry.normals[geometry.indices[nearest]].astype(np.float64)
    weight_u, weight_v = float(u[nearest]), float(v[nearest])
    normal = (1.0 - weight_u - weight_v) * a + weight_u * b + weight_v * c
    return float(t[nearest]), normal, int(nearest)
