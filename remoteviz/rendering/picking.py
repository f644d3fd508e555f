"""Picking: what lies under a pixel, found by casting a ray through what the renderer draws.

Picking runs on the CPU with numpy, on the same geometry the renderer draws (triangles, slices,
points, lines, volumes, labels), so it needs no OpenGL context and agrees with the image. Clip
planes apply: what they cut away cannot be picked. Labels, drawn over everything, win over what
is behind them; otherwise the nearest hit along the ray wins.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from remoteviz.rendering.actions import ShapeInstance
from remoteviz.rendering.camera import Camera, OrthographicCamera, Viewport
from remoteviz.rendering.lines import PICK_TOLERANCE_PIXELS, LineGeometry, LineSet
from remoteviz.rendering.math3d import BoundingBox, Matrix, Ray, transform_points
from remoteviz.rendering.nodes import Node
from remoteviz.rendering.out_of_core import OutOfCoreGeometry
from remoteviz.rendering.points import PICK_RADIUS_PIXELS, PointGeometry
from remoteviz.rendering.scalars import scalars_at
from remoteviz.rendering.shapes import Geometry, Shape
from remoteviz.rendering.slices import SliceGeometry
from remoteviz.rendering.text import TextGeometry, label_corner
from remoteviz.rendering.volume import VolumeGeometry


@dataclass(frozen=True, slots=True, eq=False)
class PickedPoint:
    """The nearest point along a pick ray.

    ``point`` and ``normal`` are in world coordinates; the normal faces the viewer. ``path`` runs
    from the scene root to ``node``; ``distance`` is measured along the ray from the camera.
    ``index`` is the triangle, point or segment hit (None for volumes, slices and labels);
    ``value`` the data value for volumes and slices, and the scalar under the pointer for a mesh,
    point set or line set coloured by ``scalars`` (interpolated as drawn: constant over a cell
    for per-cell scalars); ``voxel`` the index into ``Volume.data``
    (``(k, j, i)``, so ``volume.data[picked.voxel] == picked.value``) for volumes.
    """

    node: Shape
    path: tuple[Node, ...]
    point: npt.NDArray[np.float64]
    normal: npt.NDArray[np.float64]
    distance: float
    index: int | None = None
    value: float | None = None
    voxel: tuple[int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class _PickView:
    """The pick ray and what turns pixels into distances at a depth."""

    ray: Ray
    camera: Camera
    camera_model: Matrix
    viewport: Viewport
    x: int
    y: int

    def pixel_size(self, t: np.ndarray | float) -> np.ndarray | float:
        """World units one pixel spans at distance ``t`` along the ray."""
        half_height = self.camera.half_extents(self.viewport.aspect)[1]
        unit = 2.0 * half_height / self.viewport.height
        return unit if isinstance(self.camera, OrthographicCamera) else unit * np.abs(t)


def pick(
    shapes: Iterable[ShapeInstance], camera: Camera, camera_model: Matrix, viewport: Viewport, x: int, y: int
) -> PickedPoint | None:
    """What lies under pixel ``(x, y)`` (origin top-left) seen through ``camera``, or None."""
    view = _PickView(camera.ray(x, y, viewport, camera_model), camera, camera_model, viewport, x, y)
    instances = list(shapes)
    for instance in reversed(instances):  # the label drawn last is on top
        if isinstance(instance.shape.geometry, TextGeometry):
            hit = _pick_label(instance, view)
            if hit is not None:
                return hit
    best: PickedPoint | None = None
    for instance in instances:
        hit = _pick_shape(instance, view)
        if hit is not None and (best is None or hit.distance < best.distance):
            best = hit
    return best


def _pick_shape(instance: ShapeInstance, view: _PickView) -> PickedPoint | None:
    """The nearest hit on one shape, by the kind of its geometry; None for an empty shape or a
    kind this pass does not pick (labels are picked first, on top of everything)."""
    geometry = instance.shape.geometry
    pickable = (Geometry, SliceGeometry, PointGeometry, LineGeometry, VolumeGeometry, OutOfCoreGeometry)
    if not isinstance(geometry, pickable) or geometry.bounding_box is None:
        return None
    if isinstance(geometry, Geometry):
        return _pick_triangles(instance, geometry, view)
    if isinstance(geometry, SliceGeometry):
        return _pick_slice(instance, geometry, view)
    if isinstance(geometry, PointGeometry):
        return _pick_points(instance, geometry, view)
    if isinstance(geometry, LineGeometry):
        return _pick_lines(instance, geometry, view)
    return _pick_volume(instance, geometry, view)


def _local_ray(instance: ShapeInstance, ray: Ray) -> tuple[np.ndarray, np.ndarray]:
    """The ray in the shape's coordinates; the direction is not renormalized, so the ray
    parameter t stays a world distance."""
    inverse = np.linalg.inv(instance.model)
    return inverse[:3, :3] @ ray.origin + inverse[:3, 3], inverse[:3, :3] @ ray.direction


def _facing(instance: ShapeInstance, normal: np.ndarray, ray: Ray) -> np.ndarray:
    """A local normal in world coordinates, unit length, turned towards the viewer."""
    world: np.ndarray = np.linalg.inv(instance.model)[:3, :3].T @ normal
    world = world / np.linalg.norm(world)
    return -world if np.dot(world, ray.direction) > 0.0 else world


def _pick_triangles(instance: ShapeInstance, geometry: Geometry, view: _PickView) -> PickedPoint | None:
    hit = _nearest_triangle(instance, geometry, view.ray)
    if hit is None:
        return None
    t, face, u, v = hit
    a, b, c = geometry.normals[geometry.indices[face]].astype(np.float64)
    normal = _facing(instance, (1.0 - u - v) * a + u * b + v * c, view.ray)
    ray = view.ray
    value = None
    if geometry.scalars is not None:
        value = scalars_at(geometry.scalars, geometry.indices[face], (1.0 - u - v, u, v))
    return PickedPoint(
        instance.shape, instance.path, ray.origin + t * ray.direction, normal, t, index=face, value=value
    )


def _pick_slice(instance: ShapeInstance, geometry: SliceGeometry, view: _PickView) -> PickedPoint | None:
    triangles = geometry.triangles
    hit = _nearest_triangle(instance, triangles, view.ray)
    if hit is None:
        return None
    t, face, u, v = hit
    assert triangles.texcoords is not None  # a slice's quad always carries its texture coordinates
    corners = triangles.texcoords[triangles.indices[face]].astype(np.float64)
    value = geometry.value_at((1.0 - u - v) * corners[0] + u * corners[1] + v * corners[2])
    if np.isnan(value):
        return None
    ray = view.ray
    normal = _facing(instance, triangles.normals[0].astype(np.float64), ray)
    return PickedPoint(instance.shape, instance.path, ray.origin + t * ray.direction, normal, t, value=value)


def _nearest_triangle(
    instance: ShapeInstance, geometry: Geometry, ray: Ray
) -> tuple[float, int, float, float] | None:
    """Möller-Trumbore over all triangles at once: the nearest ``(t, face, u, v)`` that the clip
    planes keep."""
    origin, direction = _local_ray(instance, ray)
    box = geometry.bounding_box
    if box is None or not _meets_box(origin, direction, ray.t_min, box):
        return None
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
        hits = (np.abs(det) > 1e-12) & (u >= 0.0) & (v >= 0.0) & (u + v <= 1.0) & (t >= ray.t_min)
    candidates = np.flatnonzero(hits)
    if instance.clip_planes and len(candidates):
        points = ray.origin + t[candidates, None].astype(np.float64) * ray.direction
        candidates = candidates[instance.keeps(points)]
    if not len(candidates):
        return None
    nearest = int(candidates[np.argmin(t[candidates])])
    return float(t[nearest]), nearest, float(u[nearest]), float(v[nearest])


def _pick_points(instance: ShapeInstance, geometry: PointGeometry, view: _PickView) -> PickedPoint | None:
    points = transform_points(instance.model, geometry.positions)
    hit = _nearest_on_screen(instance, view, points, np.maximum(PICK_RADIUS_PIXELS, geometry.sizes / 2.0))
    if hit is None or geometry.scalars is None:
        return hit
    assert hit.index is not None  # a point's hit names the point
    return dataclasses.replace(hit, value=float(geometry.scalars[hit.index]))


def _nearest_on_screen(
    instance: ShapeInstance, view: _PickView, points: np.ndarray, allowed: np.ndarray | float
) -> PickedPoint | None:
    """Of world ``points`` (one per point or segment), the one nearest the pick position on
    screen within ``allowed`` pixels and kept by the clip planes; among equals, the nearest to
    the camera. Its position in ``points`` is the picked index."""
    ray = view.ray
    offsets = points - ray.origin
    t = offsets @ ray.direction
    miss = np.linalg.norm(offsets - t[:, None] * ray.direction, axis=1)
    pixels = miss / np.maximum(view.pixel_size(t), 1e-12)
    candidates = np.flatnonzero((pixels <= allowed) & (t >= ray.t_min))
    if instance.clip_planes and len(candidates):
        candidates = candidates[instance.keeps(points[candidates])]
    if not len(candidates):
        return None
    best = int(candidates[np.lexsort((t[candidates], np.round(pixels[candidates], 3)))[0]])
    return PickedPoint(instance.shape, instance.path, points[best], -ray.direction, float(t[best]), index=best)


def _pick_lines(instance: ShapeInstance, geometry: LineGeometry, view: _PickView) -> PickedPoint | None:
    ray = view.ray
    points = transform_points(instance.model, geometry.positions)
    a, b = points[geometry.segments[:, 0]], points[geometry.segments[:, 1]]
    along = b - a
    # Closest approach of the ray o + t d (|d| = 1) and the segment a + s (b - a), s in 0..1.
    w = a - ray.origin
    aa = np.einsum("ij,ij->i", along, along)
    ad = along @ ray.direction
    aw = np.einsum("ij,ij->i", along, w)
    dw = w @ ray.direction
    denominator = aa - ad * ad
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(denominator > 1e-12 * np.maximum(aa, 1e-30), (ad * dw - aw) / denominator, 0.0)
    s = np.clip(np.nan_to_num(s), 0.0, 1.0)
    closest = a + s[:, None] * along
    lines = instance.shape
    assert isinstance(lines, LineSet)  # only a LineSet builds a LineGeometry
    hit = _nearest_on_screen(instance, view, closest, lines.width / 2.0 + PICK_TOLERANCE_PIXELS)
    if hit is None or geometry.scalars is None:
        return hit
    assert hit.index is not None  # a line's hit names the segment
    fraction = float(s[hit.index])
    value = scalars_at(geometry.scalars, geometry.segments[hit.index], (1.0 - fraction, fraction))
    return dataclasses.replace(hit, value=value)


def _pick_volume(
    instance: ShapeInstance, geometry: VolumeGeometry | OutOfCoreGeometry, view: _PickView
) -> PickedPoint | None:
    """The first voxel at or above the volume's pick threshold along the ray (an out-of-core
    volume's at full resolution, reading the bricks the ray crosses)."""
    ray = view.ray
    origin, direction = _local_ray(instance, ray)
    span = _box_span(origin, direction, ray.t_min, geometry.bounding_box)
    if span is None:
        return None
    local_unit = float(np.linalg.norm(direction))  # local units per world unit along the ray
    step = float(geometry.spacing.min()) / 2.0 / local_unit
    t = np.arange(span[0] + step / 2.0, span[1], step)
    local = origin + t[:, None] * direction
    voxel = np.rint(geometry.to_index(local)).astype(np.int64)  # (i, j, k)
    if isinstance(geometry, OutOfCoreGeometry):
        shape_xyz = np.array(geometry.source.pyramid.shapes[0])
    else:
        shape_xyz = np.array(geometry.data.shape[::-1])
    inside = ((voxel >= 0) & (voxel < shape_xyz)).all(axis=1)
    t, voxel = t[inside], voxel[inside]
    if instance.clip_planes and len(t):
        kept = instance.keeps(ray.origin + t[:, None] * ray.direction)
        t, voxel = t[kept], voxel[kept]
    if isinstance(geometry, OutOfCoreGeometry):
        found = geometry.source.first_at_or_above(voxel, geometry.pick_threshold)
        if found is None:
            return None
        first, value = found
    else:
        values = geometry.data[voxel[:, 2], voxel[:, 1], voxel[:, 0]]
        above = np.flatnonzero(values >= geometry.pick_threshold)
        if not len(above):
            return None
        first = int(above[0])
        value = float(values[first])
    i, j, k = (int(n) for n in voxel[first])
    point = ray.origin + t[first] * ray.direction
    return PickedPoint(
        instance.shape, instance.path, point, -ray.direction, float(t[first]),
        value=value, voxel=(k, j, i),
    )


def _pick_label(instance: ShapeInstance, view: _PickView) -> PickedPoint | None:
    geometry: TextGeometry = instance.shape.geometry
    camera = view.camera
    to_view = np.linalg.inv(view.camera_model @ camera.matrix)
    # Any near and far planes will do: they do not move points across the screen.
    projection = camera.projection_matrix(view.viewport.aspect, 0.1, 10.0)
    corner = label_corner(instance, to_view, projection, view.viewport)
    if corner is None:
        return None
    height, width = geometry.image.shape[:2]
    left, top = round(corner[0]), round(corner[1])
    if not (left <= view.x < left + width and top <= view.y < top + height):
        return None
    anchor = transform_points(instance.model, geometry.anchor[None])[0]
    distance = float(np.linalg.norm(anchor - view.ray.origin))
    return PickedPoint(instance.shape, instance.path, anchor, -view.ray.direction, distance)


def _box_span(origin: np.ndarray, direction: np.ndarray, t_min: float, box: BoundingBox) -> tuple[float, float] | None:
    """Slab test: the ray's ``(t_enter, t_leave)`` through the box, or None when it misses."""
    lo, hi = np.asarray(box.minimum), np.asarray(box.maximum)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - origin) / direction, (hi - origin) / direction
    parallel = direction == 0.0
    if np.any(parallel & ((origin < lo) | (origin > hi))):
        return None
    near = float(np.where(parallel, -np.inf, np.minimum(t1, t2)).max())
    far = float(np.where(parallel, np.inf, np.maximum(t1, t2)).min())
    near = max(near, t_min)
    return (near, far) if near <= far else None


def _meets_box(origin: np.ndarray, direction: np.ndarray, t_min: float, box: BoundingBox) -> bool:
    """Does the ray pass through the box (grown slightly for rounding)?"""
    pad = 1e-6 * max(float(np.abs(box.size).max()), 1.0)
    grown = BoundingBox(tuple(np.asarray(box.minimum) - pad), tuple(np.asarray(box.maximum) + pad))
    return _box_span(origin, direction, t_min, grown) is not None
