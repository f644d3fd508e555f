"""Cameras, and the viewport (a render area's size) they project onto.

A camera sits at ``position`` and looks down its local -z axis turned by ``orientation``, local +y
being up, as in Open Inventor. The camera's angle or height applies to the smaller side of the
viewport, so a tall render area shows as much as a wide one. Near and far clipping planes are not
fields: the renderer fits them around the scene every frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from remoteviz.rendering.actions import gather
from remoteviz.rendering.fields import Field, as_positive_float
from remoteviz.rendering.math3d import (
    BoundingBox,
    Matrix,
    Ray,
    Rotation,
    as_rotation,
    as_vec3,
    normalized,
    orthographic_matrix,
    perspective_matrix,
    transform_points,
    translation_matrix,
)
from remoteviz.rendering.nodes import Node

if TYPE_CHECKING:
    from remoteviz.rendering.actions import Action

# view_all leaves this fraction of the viewport's limiting side around the scene, per side.
_VIEW_ALL_MARGIN = 0.02


def _back_axis(rotation: Rotation) -> tuple[float, float, float]:
    """``rotation.rotate((0, 0, 1))`` in plain floats: the third column of its matrix."""
    x, y, z, w = rotation.quaternion
    return (2.0 * (x * z + y * w), 2.0 * (y * z - x * w), 1.0 - 2.0 * (x * x + y * y))


@dataclass(frozen=True, slots=True)
class Viewport:
    """The size in pixels of the area a camera renders into."""

    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"a viewport needs a positive size, got {self.width}x{self.height}")

    @property
    def aspect(self) -> float:
        """Width divided by height."""
        return self.width / self.height


class Camera(Node):
    """What perspective and orthographic cameras share: placement, framing and navigation."""

    position = Field((0.0, 0.0, 5.0), as_vec3, "Where the camera is.")
    orientation = Field(Rotation(), as_rotation, "Turns the camera's view from -z and up from +y.")
    focal_distance = Field(5.0, as_positive_float, "Distance to the point the camera orbits around.")

    @property
    def view_direction(self) -> npt.NDArray[np.float64]:
        """Where the camera looks, in its parent's coordinates (unit length)."""
        return self.orientation.rotate((0.0, 0.0, -1.0))

    @property
    def up_direction(self) -> npt.NDArray[np.float64]:
        """The camera's up, in its parent's coordinates (unit length)."""
        return self.orientation.rotate((0.0, 1.0, 0.0))

    @property
    def right_direction(self) -> npt.NDArray[np.float64]:
        """The camera's right, in its parent's coordinates (unit length)."""
        return self.orientation.rotate((1.0, 0.0, 0.0))

    @property
    def focal_point(self) -> npt.NDArray[np.float64]:
        """The point ``focal_distance`` ahead of the camera, which orbiting turns around."""
        return np.asarray(self.position) + self.view_direction * self.focal_distance

    @property
    def matrix(self) -> Matrix:
        """Camera coordinates to parent coordinates (the inverse of the view matrix)."""
        return translation_matrix(self.position) @ self.orientation.as_matrix()

    def half_extents(self, aspect: float) -> tuple[float, float]:
        """Half the visible width and height: at distance 1 for perspective, absolute for ortho."""
        half = self._half_size()
        return (half * aspect, half) if aspect >= 1.0 else (half, half / aspect)

    def projection_matrix(self, aspect: float, near: float, far: float) -> Matrix:
        """The OpenGL projection matrix for a viewport of ``aspect`` and the given clip planes."""
        raise NotImplementedError

    def clipping_range(self, depths: npt.NDArray[np.float64]) -> tuple[float, float]:
        """Near and far planes that hold points at ``depths`` in front of the camera."""
        raise NotImplementedError

    def ray(self, x: float, y: float, viewport: Viewport, model: Matrix | None = None) -> Ray:
        """The ray through the centre of pixel ``(x, y)`` (origin top-left), in world coordinates.

        ``model`` is the transform above the camera in the scene graph, if any.
        """
        ndc_x = 2.0 * (x + 0.5) / viewport.width - 1.0
        ndc_y = 1.0 - 2.0 * (y + 0.5) / viewport.height
        half_w, half_h = self.half_extents(viewport.aspect)
        origin, direction, t_min = self._camera_ray(ndc_x * half_w, ndc_y * half_h)
        frame = self.matrix if model is None else model @ self.matrix
        world_direction = normalized(frame[:3, :3] @ direction)
        return Ray(frame[:3, :3] @ origin + frame[:3, 3], world_direction, t_min)

    def point_at(self, target: Iterable[float], up: Iterable[float] = (0.0, 1.0, 0.0)) -> None:
        """Turn the camera towards ``target``, keeping ``up`` upwards; the focal point follows."""
        target_point = np.asarray(as_vec3(target))
        offset = target_point - np.asarray(self.position)
        distance = float(np.linalg.norm(offset))
        if distance == 0.0:
            raise ValueError("the camera is already at the target")
        back = offset / -distance
        right = np.cross(as_vec3(up), back)
        if np.linalg.norm(right) < 1e-9:  # looking straight along up: any right will do
            right = np.cross((1.0, 0.0, 0.0) if abs(back[0]) < 0.9 else (0.0, 0.0, 1.0), back)
        right = normalized(right)
        basis = np.column_stack([right, np.cross(back, right), back])
        self.orientation = Rotation.from_matrix(basis)
        self.focal_distance = distance

    def view_all(self, viewport: Viewport, scene: Node | None = None) -> None:
        """Move the camera, keeping its direction, so the scene's bounding box fills the viewport.

        ``scene`` defaults to the top of the graph the camera is in. The box touches the
        viewport's limiting sides, less a small margin, and nothing is clipped.
        """
        root = scene if scene is not None else self._root()
        gathered = gather(root)
        box = gathered.bounding_box
        if box is None:
            return
        to_parent = np.linalg.inv(gathered.camera_model) if gathered.camera is self else np.eye(4)
        self._view_corners(viewport, transform_points(to_parent, box.corners))

    def view_box(self, viewport: Viewport, box: BoundingBox) -> None:
        """Move the camera, keeping its direction, so ``box`` (in the camera's parent's
        coordinates) fills the viewport, as :meth:`view_all` does for a whole scene."""
        self._view_corners(viewport, box.corners)

    def _view_corners(self, viewport: Viewport, corners: npt.NDArray[np.float64]) -> None:
        center = (corners.min(axis=0) + corners.max(axis=0)) / 2.0
        axes = np.column_stack([self.right_direction, self.up_direction, -self.view_direction])
        local = (corners - center) @ axes  # columns: right, up, back
        if not np.any(local):
            local = np.array([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])  # a single point: frame a unit box
        distance = self._fit(local, viewport.aspect, 1.0 - 2.0 * _VIEW_ALL_MARGIN)
        self.position = center - self.view_direction * distance
        self.focal_distance = distance

    def orbit(self, rotation: Rotation) -> None:
        """Turn the camera around its focal point by ``rotation`` (in parent coordinates)."""
        pivot = self.focal_point
        self.position = pivot + rotation.rotate(np.asarray(self.position) - pivot)
        self.orientation = rotation * self.orientation

    def turn_around_focal_point(self, yaw: float, pitch: float) -> None:
        """Orbit by ``yaw`` radians around the camera's up direction, then ``pitch`` around its
        right direction: the same as ``orbit(Rotation.from_axis_angle(up_direction, yaw) *
        Rotation.from_axis_angle(right_direction, pitch))``, in a third of the time.

        A turn around the camera's own axes is a rotation on the camera's side of its
        orientation, so neither the axes in the parent's coordinates nor a 3x3 matrix is needed:
        the new orientation is ``orientation * turn`` and the camera sits ``focal_distance``
        behind the focal point along its new view direction. Mouse drags come several per frame.
        """
        sy, cy = math.sin(yaw / 2.0), math.cos(yaw / 2.0)
        sp, cp = math.sin(pitch / 2.0), math.cos(pitch / 2.0)
        old, distance = self.orientation, self.focal_distance
        px, py, pz = self.position
        bx, by, bz = _back_axis(old)  # the focal point is ``distance`` along -back
        new = old * Rotation(cy * sp, sy * cp, -sy * sp, cy * cp)
        nx, ny, nz = _back_axis(new)
        self.orientation = new
        self.position = (px + distance * (nx - bx), py + distance * (ny - by), pz + distance * (nz - bz))

    def pan(self, right: float, up: float) -> None:
        """Slide the camera sideways and up by distances in its parent's units."""
        offset = self.right_direction * right + self.up_direction * up
        self.position = np.asarray(self.position) + offset

    def roll(self, angle: float) -> None:
        """Turn the camera around its view direction by ``angle`` radians (counter-clockwise)."""
        self.orientation = Rotation.from_axis_angle(self.view_direction, angle) * self.orientation

    def zoom(self, factor: float) -> None:
        """Show ``factor`` times as much of the scene (less than 1 zooms in)."""
        raise NotImplementedError

    def units_per_pixel(self, viewport: Viewport) -> float:
        """How far one pixel spans at the focal point, in the parent's units."""
        raise NotImplementedError

    def traverse(self, action: Action) -> None:
        """Offer the camera to the action."""
        action.visit_camera(self)

    def _half_size(self) -> float:
        raise NotImplementedError

    def _camera_ray(self, x: float, y: float) -> tuple[np.ndarray, np.ndarray, float]:
        raise NotImplementedError

    def _fit(self, local: np.ndarray, aspect: float, fill: float) -> float:
        raise NotImplementedError

    def _root(self) -> Node:
        node: Node = self
        while node.parents:
            if len(node.parents) > 1:
                raise ValueError(f"{node!r} has several parents; pass view_all the scene to frame")
            node = node.parents[0]
        if node is self:
            raise ValueError("the camera is not in a scene graph; pass view_all the scene to frame")
        return node


class PerspectiveCamera(Camera):
    """A camera with perspective; ``height_angle`` is the field of view of the smaller side."""

    height_angle = Field(math.pi / 4.0, as_positive_float, "Field of view in radians (< pi).")

    def projection_matrix(self, aspect: float, near: float, far: float) -> Matrix:
        """A perspective projection."""
        return perspective_matrix(*self.half_extents(aspect), near, far)

    def clipping_range(self, depths: npt.NDArray[np.float64]) -> tuple[float, float]:
        """A little beyond the scene; the near plane stays in front of the camera."""
        far = max(float(depths.max()) * 1.02, 1e-3)
        # The ratio far / near bounds depth precision; 1:2000 keeps 24 bits comfortable.
        near = max(float(depths.min()) * 0.98, far / 2000.0)
        return near, far

    def zoom(self, factor: float) -> None:
        """Move towards (factor < 1) or away from the focal point."""
        pivot = self.focal_point
        self.focal_distance = self.focal_distance * factor
        self.position = pivot - self.view_direction * self.focal_distance

    def units_per_pixel(self, viewport: Viewport) -> float:
        """The pixel's span at the focal distance."""
        return 2.0 * self.half_extents(viewport.aspect)[1] * self.focal_distance / viewport.height

    def _half_size(self) -> float:
        return math.tan(min(self.height_angle, math.pi - 1e-3) / 2.0)

    def _camera_ray(self, x: float, y: float) -> tuple[np.ndarray, np.ndarray, float]:
        return np.zeros(3), np.array([x, y, -1.0]), 0.0

    def _fit(self, local: np.ndarray, aspect: float, fill: float) -> float:
        half_w, half_h = self.half_extents(aspect)
        # A corner at (x, y, z) is seen at depth d - z; it fits when |x| <= half_w * (d - z).
        needed = np.maximum(
            local[:, 2] + np.abs(local[:, 0]) / (half_w * fill),
            local[:, 2] + np.abs(local[:, 1]) / (half_h * fill),
        )
        return float(needed.max())


class OrthographicCamera(Camera):
    """A camera without perspective; ``height`` is the visible size of the smaller side."""

    height = Field(2.0, as_positive_float, "Visible extent of the smaller side, in scene units.")

    def projection_matrix(self, aspect: float, near: float, far: float) -> Matrix:
        """A parallel projection."""
        return orthographic_matrix(*self.half_extents(aspect), near, far)

    def clipping_range(self, depths: npt.NDArray[np.float64]) -> tuple[float, float]:
        """The scene's depth range plus a little; it may reach behind the camera."""
        low, high = float(depths.min()), float(depths.max())
        pad = max((high - low) * 0.01, 1e-3)
        return low - pad, high + pad

    def zoom(self, factor: float) -> None:
        """Grow (factor > 1) or shrink the visible height."""
        self.height = self.height * factor

    def units_per_pixel(self, viewport: Viewport) -> float:
        """The pixel's span anywhere in the view."""
        return 2.0 * self.half_extents(viewport.aspect)[1] / viewport.height

    def _half_size(self) -> float:
        return self.height / 2.0

    def _camera_ray(self, x: float, y: float) -> tuple[np.ndarray, np.ndarray, float]:
        # Auto-clipping shows the whole scene along the line of sight, behind the camera too.
        return np.array([x, y, 0.0]), np.array([0.0, 0.0, -1.0]), -math.inf

    def _fit(self, local: np.ndarray, aspect: float, fill: float) -> float:
        extent_x, extent_y = np.abs(local[:, 0]).max() / fill, np.abs(local[:, 1]).max() / fill
        half = max(extent_y, extent_x / aspect) if aspect >= 1.0 else max(extent_x, extent_y * aspect)
        self.height = 2.0 * max(half, 1e-6)
        return float(np.linalg.norm(local, axis=1).max()) * 2.0
