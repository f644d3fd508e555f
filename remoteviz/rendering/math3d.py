"""3D math for the scene graph: rotations, 4x4 matrices and axis-aligned boxes.

Matrices are numpy ``(4, 4)`` float64 arrays that act on column vectors (``m @ p``), as in OpenGL;
they are handed to shaders transposed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Vec3 = tuple[float, float, float]
Matrix = npt.NDArray[np.floating[Any]]


def as_vec3(value: Iterable[float]) -> Vec3:
    """Return ``value`` as a tuple of three floats, or raise ``ValueError``."""
    items = tuple(float(v) for v in value)
    if len(items) != 3 or not all(math.isfinite(v) for v in items):
        raise ValueError(f"expected three finite numbers, got {value!r}")
    return (items[0], items[1], items[2])


def normalized(vector: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Return ``vector`` scaled to unit length; a zero vector raises ``ValueError``."""
    v = np.asarray(vector, dtype=np.float64)
    length = float(np.linalg.norm(v))
    if length == 0.0:
        raise ValueError("a zero vector has no direction")
    return v / length


@dataclass(frozen=True, slots=True)
class Rotation:
    """A rotation in 3D, stored as a unit quaternion ``(x, y, z, w)``.

    Build one with :meth:`from_axis_angle`, :meth:`between` or from a quaternion; combine with
    ``*`` (``a * b`` applies ``b`` first, then ``a``).
    """

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    w: float = 1.0

    def __post_init__(self) -> None:
        norm = math.sqrt(self.x**2 + self.y**2 + self.z**2 + self.w**2)
        if not math.isfinite(norm) or norm == 0.0:
            raise ValueError("a rotation quaternion must be finite and non-zero")
        # Keep the quaternion unit length so that repeated products do not drift.
        for name in ("x", "y", "z", "w"):
            object.__setattr__(self, name, getattr(self, name) / norm)

    @classmethod
    def from_axis_angle(cls, axis: Iterable[float], angle: float) -> Rotation:
        """Rotate by ``angle`` radians around ``axis`` (right-handed)."""
        ax = normalized(as_vec3(axis))
        s = math.sin(angle / 2.0)
        return cls(ax[0] * s, ax[1] * s, ax[2] * s, math.cos(angle / 2.0))

    @classmethod
    def between(cls, source: Iterable[float], target: Iterable[float]) -> Rotation:
        """The shortest rotation that turns direction ``source`` into direction ``target``."""
        a, b = normalized(as_vec3(source)), normalized(as_vec3(target))
        dot = float(np.dot(a, b))
        if dot < -1.0 + 1e-9:
            # Opposite directions: any axis perpendicular to ``a`` will do.
            helper = (1.0, 0.0, 0.0) if abs(a[0]) < 0.9 else (0.0, 1.0, 0.0)
            return cls.from_axis_angle(np.cross(a, helper), math.pi)
        x, y, z = np.cross(a, b)
        return cls(float(x), float(y), float(z), 1.0 + dot)

    @classmethod
    def from_matrix(cls, matrix: npt.ArrayLike) -> Rotation:
        """The rotation given by a ``(3, 3)`` orthonormal matrix (its columns: the turned axes)."""
        m = np.asarray(matrix, dtype=np.float64)[:3, :3]
        trace = m[0, 0] + m[1, 1] + m[2, 2]
        if trace > 0.0:
            s = math.sqrt(trace + 1.0) * 2.0
            return cls((m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4.0)
        # Near a half turn the trace is small: divide by the largest diagonal term instead.
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = math.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k]) * 2.0
        q = [0.0, 0.0, 0.0, (m[k, j] - m[j, k]) / s]
        q[i] = s / 4.0
        q[j] = (m[j, i] + m[i, j]) / s
        q[k] = (m[k, i] + m[i, k]) / s
        return cls(*q)

    @property
    def axis_angle(self) -> tuple[Vec3, float]:
        """The rotation as ``(axis, angle in radians)``; the identity gives axis ``(0, 0, 1)``."""
        s = math.sqrt(max(0.0, 1.0 - self.w * self.w))
        angle = 2.0 * math.acos(max(-1.0, min(1.0, self.w)))
        if s < 1e-12:
            return (0.0, 0.0, 1.0), 0.0
        return (self.x / s, self.y / s, self.z / s), angle

    @property
    def quaternion(self) -> tuple[float, float, float, float]:
        """The unit quaternion ``(x, y, z, w)``."""
        return (self.x, self.y, self.z, self.w)

    def inverse(self) -> Rotation:
        """The opposite rotation."""
        return Rotation(-self.x, -self.y, -self.z, self.w)

    def __mul__(self, other: Rotation) -> Rotation:
        x1, y1, z1, w1 = self.quaternion
        x2, y2, z2, w2 = other.quaternion
        return Rotation(
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        )

    def rotate(self, vector: Iterable[float]) -> npt.NDArray[np.float64]:
        """Apply the rotation to a 3D vector."""
        result: npt.NDArray[np.float64] = self.as_matrix3() @ np.asarray(as_vec3(vector))
        return result

    def as_matrix3(self) -> npt.NDArray[np.float64]:
        """The rotation as a ``(3, 3)`` matrix."""
        x, y, z, w = self.quaternion
        return np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
        )

    def as_matrix(self) -> Matrix:
        """The rotation as a ``(4, 4)`` matrix."""
        m = np.eye(4)
        m[:3, :3] = self.as_matrix3()
        return m


def as_rotation(value: Rotation | Sequence[float] | tuple[Iterable[float], float]) -> Rotation:
    """Accept a :class:`Rotation`, an ``(axis, angle)`` pair or an ``(x, y, z, w)`` quaternion."""
    if isinstance(value, Rotation):
        return value
    items = tuple(value)
    if len(items) == 2:
        return Rotation.from_axis_angle(items[0], float(items[1]))  # type: ignore[arg-type]
    if len(items) == 4:
        return Rotation(*(float(v) for v in items))  # type: ignore[arg-type]
    raise ValueError(f"expected a Rotation, (axis, angle) or (x, y, z, w), got {value!r}")


def translation_matrix(offset: Iterable[float]) -> Matrix:
    """A matrix that moves points by ``offset``."""
    m = np.eye(4)
    m[:3, 3] = as_vec3(offset)
    return m


def scale_matrix(factors: Iterable[float]) -> Matrix:
    """A matrix that scales along x, y and z."""
    return np.diag([*as_vec3(factors), 1.0])


def perspective_matrix(half_width: float, half_height: float, near: float, far: float) -> Matrix:
    """An OpenGL projection for a frustum whose extents at distance 1 are ``half_width/height``."""
    m = np.zeros((4, 4))
    m[0, 0] = 1.0 / half_width
    m[1, 1] = 1.0 / half_height
    m[2, 2] = -(far + near) / (far - near)
    m[2, 3] = -2.0 * far * near / (far - near)
    m[3, 2] = -1.0
    return m


def orthographic_matrix(half_width: float, half_height: float, near: float, far: float) -> Matrix:
    """An OpenGL projection for a box ``2 * half_width`` by ``2 * half_height`` wide."""
    m = np.eye(4)
    m[0, 0] = 1.0 / half_width
    m[1, 1] = 1.0 / half_height
    m[2, 2] = -2.0 / (far - near)
    m[2, 3] = -(far + near) / (far - near)
    return m


def transform_points(matrix: Matrix, points: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Apply an affine ``(4, 4)`` matrix to an ``(N, 3)`` array of points."""
    p = np.asarray(points, dtype=np.float64)
    return p @ matrix[:3, :3].T + matrix[:3, 3]


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """An axis-aligned box given by its two extreme corners."""

    minimum: Vec3
    maximum: Vec3

    @classmethod
    def of_points(cls, points: npt.ArrayLike) -> BoundingBox | None:
        """The smallest box holding the ``(N, 3)`` points, or None when there are none."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        if len(p) == 0:
            return None
        return cls(as_vec3(p.min(axis=0)), as_vec3(p.max(axis=0)))

    @property
    def center(self) -> npt.NDArray[np.float64]:
        """The point halfway between the corners."""
        return np.add(self.minimum, self.maximum) / 2.0

    @property
    def size(self) -> npt.NDArray[np.float64]:
        """The extent along x, y and z."""
        return np.subtract(self.maximum, self.minimum, dtype=np.float64)

    @property
    def corners(self) -> npt.NDArray[np.float64]:
        """The eight corners as an ``(8, 3)`` array."""
        lo, hi = self.minimum, self.maximum
        return np.array([(x, y, z) for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])

    def transformed(self, matrix: Matrix) -> BoundingBox:
        """The box around this box's corners after ``matrix`` moves them."""
        box = BoundingBox.of_points(transform_points(matrix, self.corners))
        assert box is not None  # eight corners always make a box
        return box

    def union(self, other: BoundingBox | None) -> BoundingBox:
        """The box holding both boxes."""
        if other is None:
            return self
        return BoundingBox(
            as_vec3(np.minimum(self.minimum, other.minimum)),
            as_vec3(np.maximum(self.maximum, other.maximum)),
        )


@dataclass(frozen=True, slots=True)
class Ray:
    """A half line ``origin + t * direction`` for ``t >= t_min`` (direction of unit length)."""

    origin: npt.NDArray[np.float64]
    direction: npt.NDArray[np.float64]
    t_min: float = 0.0
