"""Slices through a volume: an axis-aligned one and an oblique one, colour-mapped with window/level.

A slice cuts its plane out of a volume's array on the CPU (one plane of values, cheap next to the
volume) and draws it as a rectangle whose texture holds the values themselves, so changing the
window, the level, the colour map or the log scale redraws without resampling or uploading.
Values outside the volume (the corners of an oblique slice) are not drawn.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from remoteviz.rendering.colormaps import ColorMapping, auto_range, colormaps
from remoteviz.rendering.fields import Field, as_bool, as_color
from remoteviz.rendering.math3d import BoundingBox, as_vec3, normalized
from remoteviz.rendering.shapes import Geometry, Shape
from remoteviz.rendering.volume import TransferFunction, Volume, as_volume_data

_AXES = {"x": 0, "y": 1, "z": 2}


@dataclass(frozen=True, slots=True, eq=False)
class SliceGeometry:
    """A rectangle (two triangles with texture coordinates) and the values it shows, ``(rows,
    columns)`` float32 with row 0 at texture coordinate v = 0 and NaN where there is no data."""

    triangles: Geometry
    values: npt.NDArray[np.float32]
    nearest: bool

    @property
    def bounding_box(self) -> BoundingBox | None:
        """The rectangle's box."""
        return self.triangles.bounding_box

    def value_at(self, texcoord: npt.ArrayLike) -> float:
        """The value at a texture coordinate, as nearest sampling shows it."""
        rows, columns = self.values.shape
        u, v = np.clip(np.asarray(texcoord, dtype=np.float64), 0.0, 1.0 - 1e-9)
        return float(self.values[int(v * rows), int(u * columns)])


def _as_colormap(value: TransferFunction | str) -> TransferFunction:
    if not isinstance(value, str):
        return _check_colormap(value)
    if value in TransferFunction.PRESETS and value not in colormaps():  # "ct"
        return TransferFunction.preset(value)
    return TransferFunction.from_colormap(value)


def _check_colormap(value: Any) -> TransferFunction:
    if not isinstance(value, TransferFunction):
        raise TypeError(f"expected a TransferFunction or a preset name, got {value!r}")
    return value


def _as_optional_positive(value: float | None) -> float | None:
    if value is None:
        return None
    result = float(value)
    if not np.isfinite(result) or result <= 0.0:
        raise ValueError(f"expected a window width greater than 0, got {value!r}")
    return result


def _as_optional_finite(value: float | None) -> float | None:
    if value is None:
        return None
    result = float(value)
    if not np.isfinite(result):
        raise ValueError(f"expected a finite level, got {value!r}")
    return result


def _check_axis(value: str) -> str:
    if value not in _AXES:
        raise ValueError(f"expected an axis 'x', 'y' or 'z', got {value!r}")
    return value


def _check_index(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"expected a voxel index of 0 or more, got {value!r}")
    return int(value)


def _check_resolution(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 2 <= value <= 8192:
        raise ValueError(f"expected a resolution from 2 to 8192 samples, got {value!r}")
    return int(value)


def _as_normal(value: Iterable[float]) -> tuple[float, float, float]:
    return as_vec3(normalized(as_vec3(value)))


def _rectangle(corners: np.ndarray) -> Geometry:
    """Two triangles over ``corners`` (bottom-left, bottom-right, top-right, top-left)."""
    normal = np.cross(corners[1] - corners[0], corners[3] - corners[0])
    return Geometry(
        corners.astype(np.float32),
        np.tile(normalized(normal), (4, 1)).astype(np.float32),
        np.array([[0, 1, 2], [0, 2, 3]], np.uint32),
        texcoords=np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], np.float32),
    )


class _Slice(Shape):
    """What both slices share: the volume's array and placement, the colour map, window/level."""

    data = Field(np.zeros((1, 1, 1), np.uint8), as_volume_data, "The voxels, (nz, ny, nx).")
    spacing = Field((1.0, 1.0, 1.0), as_vec3, "Voxel size along x, y and z.")
    origin = Field((0.0, 0.0, 0.0), as_vec3, "The centre of voxel data[0, 0, 0].")
    colormap = Field(
        "grey", _as_colormap, "A colour map's name (remoteviz.colormaps()), 'ct', or a TransferFunction "
        "(opacity unused): colours from the low to the high end of the window.", appearance=True,
    )
    window = Field(None, _as_optional_positive, "Width of the value range shown, or None for the data's.",
                   appearance=True)
    level = Field(None, _as_optional_finite, "Centre of the value range shown, or None for the data's.",
                  appearance=True)
    log_scale = Field(False, as_bool, "Map the logarithm of the values (the window then spans positive values).",
                      appearance=True)
    nan_color = Field((0.5, 0.5, 0.5), as_color, "Colour of non-positive values on a log scale.", appearance=True)
    nearest = Field(False, as_bool, "Show voxels as sharp cells rather than interpolated.")

    _data_range: tuple[int, bool, tuple[float, float]] | None = None

    def __init__(
        self,
        data: npt.ArrayLike,
        spacing: Iterable[float] = (1.0, 1.0, 1.0),
        origin: Iterable[float] = (0.0, 0.0, 0.0),
        *,
        name: str = "",
        **fields: Any,
    ) -> None:
        super().__init__(name=name, data=data, spacing=spacing, origin=origin, **fields)

    @classmethod
    def of_volume(cls, volume: Volume, **fields: Any) -> Self:
        """A slice of ``volume``'s array, spacing and origin; ``fields`` set the rest."""
        return cls(volume.data, volume.spacing, volume.origin, **fields)

    def value_range(self) -> tuple[float, float]:
        """The values shown with the colour map's first and last colours: the window around the
        level, each by default from the data's range (its positive values on a log scale)."""
        low, high = self._data_low_high()
        window = self.window if self.window is not None else max(high - low, 1e-12)
        level = self.level if self.level is not None else (low + high) / 2.0
        return level - window / 2.0, level + window / 2.0

    def _data_low_high(self) -> tuple[float, float]:
        # Once per array and scale: the whole volume's range, read at every frame.
        key = (self.geometry_version, self.log_scale)
        cached = self._data_range
        if cached is None or cached[:2] != key:
            low_high = auto_range(self.data.ravel(), log=True) if self.log_scale else self._data_limits()
            cached = self._data_range = (*key, low_high)
        return cached[2]

    def _data_limits(self) -> tuple[float, float]:
        """The lowest and highest value of the voxels (the default window)."""
        return float(self.data.min()), float(self.data.max())

    def _voxels(self) -> Any:
        """What the slice samples: ``data``, or (out-of-core slices) an object indexed the same
        way by arrays of z, y and x that reads only the voxels asked for."""
        return self.data

    def color_mapping(self) -> ColorMapping:
        """How the slice's values are drawn now (the colour bar and the renderer read it)."""
        low, high = self.value_range()
        colormap = self.colormap
        return ColorMapping(colormap.name, colormap.table, low, high, self.log_scale, self.nan_color)

    def _geometry_of(self, corners: np.ndarray, values: np.ndarray) -> SliceGeometry:
        return SliceGeometry(_rectangle(corners), np.ascontiguousarray(values, np.float32), self.nearest)


class OrthoSlice(_Slice):
    """The plane of a volume's voxels at ``index`` along ``axis`` (``"x"``, ``"y"`` or ``"z"``),
    drawn through ``colormap`` across the window (see :meth:`value_range`).

    Give it the volume's array and placement, or take them from a :class:`Volume` with
    :meth:`of_volume` (the slice keeps the same array; it does not follow a new array assigned
    to the volume later). The rectangle covers the voxels' cells, like the volume's box.
    """

    axis = Field("z", _check_axis, "The axis the slice is perpendicular to.")
    index = Field(0, _check_index, "Which plane of voxels along the axis.")

    def plane(self) -> np.ndarray:
        """The slice's values, ``(rows, columns)``: for ``"z"`` rows run along y and columns
        along x, for ``"y"`` z and x, for ``"x"`` z and y (row 0 lowest)."""
        axis = _AXES[self.axis]
        count = self.data.shape[2 - axis]
        if not 0 <= self.index < count:
            raise ValueError(f"slice index {self.index} is outside 0..{count - 1} along {self.axis}")
        if axis == 0:
            return self.data[:, :, self.index]
        return self.data[:, self.index, :] if axis == 1 else self.data[self.index]

    def _build_geometry(self) -> SliceGeometry:
        axis = _AXES[self.axis]
        values = self.plane()
        spacing, origin = np.asarray(self.spacing), np.asarray(self.origin)
        nz, ny, nx = self.data.shape
        lo = origin - spacing / 2.0
        hi = origin + (np.array([nx, ny, nz]) - 0.5) * spacing
        u_axis, v_axis = ((1, 2), (0, 2), (0, 1))[axis]  # the columns' and the rows' axes
        corners = np.zeros((4, 3))
        corners[:, axis] = origin[axis] + self.index * spacing[axis]
        corners[:, u_axis] = [lo[u_axis], hi[u_axis], hi[u_axis], lo[u_axis]]
        corners[:, v_axis] = [lo[v_axis], lo[v_axis], hi[v_axis], hi[v_axis]]
        return self._geometry_of(corners, values)


def sample_trilinear(data: Any, index: np.ndarray) -> np.ndarray:
    """Values of ``data`` (nz, ny, nx; indexed by arrays of z, y and x) at fractional voxel
    indices ``(N, 3)`` (x, y, z);
    NaN outside the volume's cells (more than half a voxel beyond the outer centres)."""
    shape_xyz = np.array(data.shape[::-1])
    inside = ((index >= -0.5) & (index <= shape_xyz - 0.5)).all(axis=1)
    clamped = np.clip(index, 0.0, shape_xyz - 1)
    base = np.minimum(np.floor(clamped).astype(np.int64), np.maximum(shape_xyz - 2, 0))
    frac = clamped - base
    result = np.zeros(len(index))
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                x = np.minimum(base[:, 0] + dx, shape_xyz[0] - 1)
                y = np.minimum(base[:, 1] + dy, shape_xyz[1] - 1)
                z = np.minimum(base[:, 2] + dz, shape_xyz[2] - 1)
                weight = (
                    (frac[:, 0] if dx else 1 - frac[:, 0])
                    * (frac[:, 1] if dy else 1 - frac[:, 1])
                    * (frac[:, 2] if dz else 1 - frac[:, 2])
                )
                result += weight * data[z, y, x]
    result[~inside] = np.nan
    return result


class ObliqueSlice(_Slice):
    """A volume resampled on any plane: through ``point``, facing ``normal`` (volume coordinates).

    The rectangle covers the plane's cut through the volume's box, sampled on a grid of
    ``resolution`` points along its longer side (None: the volume's largest dimension), with
    trilinear interpolation. Move it with :meth:`set_plane`.
    """

    point = Field((0.0, 0.0, 0.0), as_vec3, "A point on the plane.")
    normal = Field((0.0, 0.0, 1.0), _as_normal, "The plane's normal.")
    resolution = Field(None, _check_resolution, "Samples along the longer side.")

    def set_plane(self, point: Iterable[float], normal: Iterable[float]) -> None:
        """Move the slice to the plane through ``point`` facing ``normal``."""
        self.point, self.normal = point, normal

    def _build_geometry(self) -> SliceGeometry:
        spacing, origin = np.asarray(self.spacing), np.asarray(self.origin)
        voxels = self._voxels()
        nz, ny, nx = voxels.shape
        box = BoundingBox(as_vec3(origin - spacing / 2.0), as_vec3(origin + (np.array([nx, ny, nz]) - 0.5) * spacing))
        normal, point = np.asarray(self.normal), np.asarray(self.point)
        helper = np.array([0.0, 1.0, 0.0]) if abs(normal[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
        u = normalized(np.cross(helper, normal))
        v = np.cross(normal, u)
        local = (box.corners - point) @ np.column_stack([u, v])
        (u0, v0), (u1, v1) = local.min(axis=0), local.max(axis=0)
        longest = self.resolution or max(nx, ny, nz)
        scale = max(u1 - u0, v1 - v0) / longest
        columns, rows = max(int(np.ceil((u1 - u0) / scale)), 1), max(int(np.ceil((v1 - v0) / scale)), 1)
        a = u0 + (np.arange(columns) + 0.5) * (u1 - u0) / columns
        b = v0 + (np.arange(rows) + 0.5) * (v1 - v0) / rows
        grid = point + a[None, :, None] * u + b[:, None, None] * v  # (rows, columns, 3)
        values = sample_trilinear(voxels, ((grid.reshape(-1, 3) - origin) / spacing)).reshape(rows, columns)
        corners = np.array([point + c * u + d * v for c, d in ((u0, v0), (u1, v0), (u1, v1), (u0, v1))])
        return self._geometry_of(corners, values)
