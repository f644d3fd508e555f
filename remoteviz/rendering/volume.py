"""Volumes: 3-D scalar fields from numpy, ray cast on the GPU through a transfer function.

A :class:`Volume` holds a ``(nz, ny, nx)`` array (uint8, uint16 or float32): ``data[k, j, i]`` is
the voxel at ``origin + (i, j, k) * spacing``, so x runs fastest in memory, as images and most
medical and seismic readers give it. The volume's box reaches half a voxel beyond the outer voxel
centres. A :class:`TransferFunction` maps values (0 to 1 across ``data_range``) to colour and
opacity. Volumes larger than the driver's 3-D texture limit, or than ``brick_size``, are split
into bricks that the renderer draws front to back; :attr:`Volume.memory_budget` bounds the GPU
memory all volumes together may hold.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from remoteviz.rendering.colormaps import ColorMapping, as_scalar_range, colormap_name, colormap_table
from remoteviz.rendering.fields import Field, as_positive_float
from remoteviz.rendering.math3d import BoundingBox, as_vec3
from remoteviz.rendering.shapes import Shape

TABLE_SIZE = 256
"""Entries in a transfer function's table."""

_VOLUME_DTYPES = (np.uint8, np.uint16, np.float32)
_MAX_MESSAGE_BYTES = 65536


class VolumeMemoryError(MemoryError):
    """A volume does not fit the GPU memory budget (:attr:`Volume.memory_budget`)."""


class VolumeMode(enum.Enum):
    """How a volume's samples along a ray make a pixel."""

    COMPOSITE = "composite"  # emission and absorption through the transfer function
    MIP = "mip"  # maximum intensity projection: the largest value along the ray
    ISOSURFACE = "isosurface"  # the first crossing of ``iso_value``, shaded as a surface


class TransferFunction:
    """Colour and opacity for each value, as a table of :data:`TABLE_SIZE` RGBA entries.

    Entry 0 is for the low end of the volume's ``data_range``, the last for the high end. Build
    one from control points (:meth:`from_points`), a preset (:meth:`preset`: ``"grey"``, ``"ct"``,
    ``"seismic"``), a named colour map with an opacity ramp (:meth:`from_colormap`) or a message
    from a page (:meth:`from_message`). Instances are immutable:
    assign a new one to ``Volume.transfer_function`` to change the picture.
    """

    PRESETS: ClassVar[dict[str, list[tuple[float, float, float, float, float]]]] = {
        # position (0..1 of the data range), r, g, b, opacity
        "grey": [(0.0, 0.0, 0.0, 0.0, 0.0), (1.0, 1.0, 1.0, 1.0, 1.0)],
        # Air and fat clear, soft tissue faint red, bone opaque ivory (a CT range of -1000..3000 HU).
        "ct": [
            (0.0, 0.0, 0.0, 0.0, 0.0),
            (0.22, 0.0, 0.0, 0.0, 0.0),
            (0.26, 0.75, 0.35, 0.25, 0.012),
            (0.32, 0.85, 0.45, 0.35, 0.03),
            (0.38, 0.95, 0.9, 0.8, 0.35),
            (1.0, 1.0, 1.0, 0.95, 0.9),
        ],
        # Seismic amplitudes: strong troughs blue, strong peaks red, the quiet middle clear.
        "seismic": [
            (0.0, 0.0, 0.0, 0.7, 0.9),
            (0.35, 0.4, 0.5, 1.0, 0.3),
            (0.45, 1.0, 1.0, 1.0, 0.0),
            (0.55, 1.0, 1.0, 1.0, 0.0),
            (0.65, 1.0, 0.5, 0.4, 0.3),
            (1.0, 0.7, 0.0, 0.0, 0.9),
        ],
    }

    def __init__(self, table: npt.ArrayLike, name: str = "") -> None:
        rgba = np.array(table, dtype=np.float32)
        if rgba.shape != (TABLE_SIZE, 4) or not np.isfinite(rgba).all():
            raise ValueError(f"expected a ({TABLE_SIZE}, 4) table of finite RGBA values")
        rgba = np.clip(rgba, 0.0, 1.0)
        rgba.setflags(write=False)
        self._table = rgba
        self._name = name

    @property
    def table(self) -> npt.NDArray[np.float32]:
        """The ``(TABLE_SIZE, 4)`` RGBA table, read-only."""
        return self._table

    @property
    def name(self) -> str:
        """The colour map or preset the colours come from, or ``""`` for colours of your own."""
        return self._name

    @classmethod
    def from_colormap(
        cls, colormap: str, opacity: float | Iterable[Sequence[float]] = ((0.0, 0.0), (1.0, 1.0))
    ) -> TransferFunction:
        """Colours from a named colour map (see :func:`remoteviz.colormaps`) and ``opacity``:
        one number for all values, or ``(position, opacity)`` points interpolated linearly (by
        default a ramp from clear at the low end to opaque at the high end)."""
        colors = colormap_table(colormap)
        table = np.empty((TABLE_SIZE, 4), np.float32)
        x = np.linspace(0.0, 1.0, TABLE_SIZE)
        source = np.linspace(0.0, 1.0, len(colors))
        for k in range(3):
            table[:, k] = np.interp(x, source, colors[:, k])
        if isinstance(opacity, (int, float)):
            table[:, 3] = float(opacity)
        else:
            points = np.array([tuple(float(v) for v in p) for p in opacity], dtype=np.float64)
            if points.ndim != 2 or points.shape[1] != 2 or not len(points) or (np.diff(points[:, 0]) < 0).any():
                raise ValueError("opacity points must be (position, opacity) pairs in increasing position order")
            table[:, 3] = np.interp(x, points[:, 0], points[:, 1])
        if not (np.isfinite(table[:, 3]).all() and (table[:, 3] >= 0).all() and (table[:, 3] <= 1).all()):
            raise ValueError("opacities must be numbers from 0 to 1")
        return cls(table, name=colormap_name(colormap))

    def with_colormap(self, colormap: str) -> TransferFunction:
        """The colours of a named colour map with this function's opacities."""
        table = TransferFunction.from_colormap(colormap).table.copy()
        table[:, 3] = self._table[:, 3]
        return TransferFunction(table, name=colormap_name(colormap))

    @classmethod
    def from_points(cls, points: Iterable[Sequence[float]]) -> TransferFunction:
        """Interpolate linearly between ``(position, r, g, b, opacity)`` control points.

        Positions run from 0 (the low end of the data range) to 1, in increasing order; values
        before the first point take its colour, after the last one the last point's.
        """
        array = np.array([tuple(float(v) for v in p) for p in points], dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != 5 or len(array) < 1 or len(array) > TABLE_SIZE:
            raise ValueError(f"expected 1 to {TABLE_SIZE} points of (position, r, g, b, opacity)")
        if not np.isfinite(array).all() or (array < 0.0).any() or (array > 1.0).any():
            raise ValueError("transfer function points must be numbers from 0 to 1")
        if (np.diff(array[:, 0]) < 0.0).any():
            raise ValueError("transfer function points must be in increasing position order")
        x = np.linspace(0.0, 1.0, TABLE_SIZE)
        return cls(np.stack([np.interp(x, array[:, 0], array[:, k]) for k in range(1, 5)], axis=1))

    @classmethod
    def preset(cls, name: str, opacity: float = 1.0) -> TransferFunction:
        """A named preset (see :attr:`PRESETS`), its opacity scaled by ``opacity`` (0..1)."""
        if name not in cls.PRESETS:
            raise ValueError(f"unknown transfer function preset {name!r}; known: {', '.join(cls.PRESETS)}")
        return TransferFunction(cls.from_points(cls.PRESETS[name]).with_opacity(opacity).table, name=name)

    def with_opacity(self, factor: float) -> TransferFunction:
        """The same colours with every opacity multiplied by ``factor`` (0..1)."""
        factor = float(factor)
        if not 0.0 <= factor <= 1.0:
            raise ValueError(f"expected an opacity factor from 0 to 1, got {factor!r}")
        table = self._table.copy()
        table[:, 3] *= factor
        return TransferFunction(table, name=self._name)

    @classmethod
    def from_message(cls, message: str | bytes) -> TransferFunction:
        """A transfer function from a page's JSON message, checked as untrusted input.

        Either ``{"preset": "ct", "opacity": 0.5}`` or ``{"points": [[position, r, g, b,
        opacity], ...]}``; raises ``ValueError`` with a reason for anything else.
        """
        if len(message) > _MAX_MESSAGE_BYTES:
            raise ValueError(f"a transfer function message is at most {_MAX_MESSAGE_BYTES} bytes")
        try:
            spec = json.loads(message)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"a transfer function message must be JSON: {error}") from None
        if not isinstance(spec, dict):
            raise ValueError("a transfer function message must be a JSON object")
        try:
            if "points" in spec:
                if not isinstance(spec["points"], list):
                    raise ValueError("points must be a list")
                return cls.from_points(spec["points"])
            return cls.preset(str(spec.get("preset", "grey")), float(spec.get("opacity", 1.0)))
        except TypeError as error:
            raise ValueError(f"a malformed transfer function message: {error}") from None

    def __call__(self, position: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """RGBA for positions from 0 to 1, looked up as the GPU does (linear between entries)."""
        x = np.clip(np.asarray(position, dtype=np.float64), 0.0, 1.0) * (TABLE_SIZE - 1)
        return np.stack([np.interp(x, np.arange(TABLE_SIZE), self._table[:, k]) for k in range(4)], axis=-1)

    def visible_between(self, low: float, high: float) -> bool:
        """Whether any value from position ``low`` to ``high`` (0..1, clamped) has opacity,
        as the GPU's linear lookup between table entries sees it."""
        last = TABLE_SIZE - 1
        first = int(np.floor(np.clip(min(low, high), 0.0, 1.0) * last))
        end = int(np.ceil(np.clip(max(low, high), 0.0, 1.0) * last))
        return bool((self._table[first : end + 1, 3] > 0.0).any())

    def lowest_visible(self) -> float:
        """The lowest position whose opacity is above zero (1.0 when none is)."""
        visible = np.flatnonzero(self._table[:, 3] > 0.0)
        return float(visible[0] / (TABLE_SIZE - 1)) if len(visible) else 1.0


def as_volume_data(value: npt.ArrayLike) -> np.ndarray:
    """A non-empty ``(nz, ny, nx)`` uint8, uint16 or finite float32 array (not copied when it is one)."""
    data = np.asarray(value)
    if data.ndim != 3 or 0 in data.shape:
        raise ValueError(f"expected a non-empty (nz, ny, nx) array, got shape {data.shape}")
    if data.dtype not in _VOLUME_DTYPES:
        raise TypeError(f"volume data must be uint8, uint16 or float32, got {data.dtype}")
    if data.dtype == np.float32 and not np.isfinite(data).all():
        raise ValueError("volume data must be finite")
    return np.ascontiguousarray(data)


def _as_spacing(value: Iterable[float]) -> tuple[float, float, float]:
    spacing = as_vec3(value)
    if min(spacing) <= 0.0:
        raise ValueError(f"voxel spacing must be greater than 0, got {value!r}")
    return spacing


def _as_optional_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _as_optional_size(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
        raise ValueError(f"expected a brick size of 2 voxels or more, or None, got {value!r}")
    return int(value)


def _as_transfer_function(value: TransferFunction) -> TransferFunction:
    if not isinstance(value, TransferFunction):
        raise TypeError(f"expected a TransferFunction, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Brick:
    """One block of a volume: the voxels its texture holds and the box it draws.

    ``lo`` and ``hi`` (x, y, z voxel indices, ``hi`` excluded) include one voxel shared with each
    neighbour, so interpolation across the seam matches an unbricked volume; the brick draws
    only ``box_lo`` .. ``box_hi`` (in voxel index units, -0.5 at the volume's outer faces).
    """

    lo: tuple[int, int, int]
    hi: tuple[int, int, int]
    box_lo: tuple[float, float, float]
    box_hi: tuple[float, float, float]


def brick_layout(shape_xyz: tuple[int, int, int], max_size: int) -> list[Brick]:
    """Split a volume of ``(nx, ny, nz)`` voxels into bricks of at most ``max_size`` a side."""
    if max_size < 3:
        raise ValueError("bricks must be at least 3 voxels a side")
    axes = []
    for n in shape_xyz:
        # Each brick's texture holds its own cells plus one shared voxel on each inner side.
        step = max_size - 2 if n > max_size else n
        cuts = list(range(0, n, step)) + [n]
        axes.append([(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)])
    bricks = []
    for (x0, x1) in axes[0]:
        for (y0, y1) in axes[1]:
            for (z0, z1) in axes[2]:
                cells = ((x0, x1), (y0, y1), (z0, z1))
                lo = tuple(max(a - 1, 0) for a, _ in cells)
                hi = tuple(min(b + 1, n) for (_, b), n in zip(cells, shape_xyz, strict=True))
                box_lo = tuple(a - 0.5 if a > 0 else -0.5 for a, _ in cells)
                box_hi = tuple(b - 0.5 if b < n else n - 0.5 for (_, b), n in zip(cells, shape_xyz, strict=True))
                bricks.append(Brick(lo, hi, box_lo, box_hi))  # type: ignore[arg-type]
    return bricks


@dataclass(frozen=True, slots=True, eq=False)
class VolumeGeometry:
    """What the renderer and the picker need of a volume, fixed until the volume changes (it
    does not hold the volume, so a volume and its cached geometry make no reference cycle)."""

    label: str
    data: np.ndarray
    data_generation: int
    origin: npt.NDArray[np.float64]
    spacing: npt.NDArray[np.float64]
    data_range: tuple[float, float]
    bounding_box: BoundingBox
    transfer_function: TransferFunction
    brick_size: int | None
    pick_threshold: float

    def to_index(self, points: np.ndarray) -> np.ndarray:
        """Volume coordinates ``(N, 3)`` to fractional voxel indices ``(i, j, k)`` (x, y, z)."""
        return (points - self.origin) / self.spacing

    def transfer_position(self, values: npt.ArrayLike) -> np.ndarray:
        """Data values to transfer function positions (0..1 across the data range)."""
        low, high = self.data_range
        return (np.asarray(values, dtype=np.float64) - low) / (high - low)


class Volume(Shape):
    """A 3-D scalar field drawn by GPU ray casting (see the module description for the layout).

    ``spacing`` is the voxel size along x, y and z and ``origin`` the centre of voxel
    ``data[0, 0, 0]``. ``data_range`` (None: the data's minimum and maximum) spans the transfer
    function. ``samples_per_voxel`` sets the sampling of still frames and
    ``interactive_samples_per_voxel`` that of frames drawn while the view moves; opacity is
    corrected for the step, so both look alike, the still one finer. Picking finds the first
    voxel along the ray at or above ``pick_threshold`` (None: the lowest value the transfer
    function makes visible, or ``iso_value`` in ISOSURFACE mode) and reports its value.
    """

    memory_budget: ClassVar[int] = 2 * 1024**3
    """GPU bytes all volumes' textures may hold together; more raises :class:`VolumeMemoryError`."""

    data = Field(np.zeros((1, 1, 1), np.uint8), as_volume_data, "The voxels, (nz, ny, nx).")
    spacing = Field((1.0, 1.0, 1.0), _as_spacing, "Voxel size along x, y and z.")
    origin = Field((0.0, 0.0, 0.0), as_vec3, "The centre of voxel data[0, 0, 0].")
    data_range = Field(None, as_scalar_range, "Values at the ends of the transfer function, or None.")
    transfer_function = Field(TransferFunction.preset("grey"), _as_transfer_function, "Colour and opacity per value.")
    mode = Field(VolumeMode.COMPOSITE, VolumeMode, "Composite, MIP or isosurface.")
    iso_value = Field(None, _as_optional_float, "ISOSURFACE mode's value, or None for mid-range.")
    samples_per_voxel = Field(1.0, as_positive_float, "Samples per voxel along a ray, still frames.")
    interactive_samples_per_voxel = Field(0.5, as_positive_float, "Samples per voxel, interactive frames.")
    pick_threshold = Field(None, _as_optional_float, "Picking's threshold in data units, or None.")
    brick_size = Field(None, _as_optional_size, "Largest brick side in voxels, or None for the driver's limit.")

    def __init__(
        self,
        data: npt.ArrayLike,
        spacing: Iterable[float] = (1.0, 1.0, 1.0),
        origin: Iterable[float] = (0.0, 0.0, 0.0),
        *,
        name: str = "",
        **fields: Any,
    ) -> None:
        self._data_generation = 0
        super().__init__(name=name, data=data, spacing=spacing, origin=origin, **fields)

    @property
    def data_generation(self) -> int:
        """A counter bumped by :meth:`data_changed`."""
        return self._data_generation

    def data_changed(self) -> None:
        """Call after editing ``data`` in place: the voxels go to the GPU again (assigning a new
        array does this by itself; other field changes keep the voxels on the GPU)."""
        self._data_generation += 1
        self.touch()

    @property
    def nbytes(self) -> int:
        """The bytes the voxels take (in memory; on the GPU bricking adds a little)."""
        return int(self.data.nbytes)

    def effective_range(self) -> tuple[float, float]:
        """``data_range``, or the data's minimum and maximum (widened when they are equal)."""
        if self.data_range is not None:
            return self.data_range
        low, high = float(self.data.min()), float(self.data.max())
        return (low, high) if high > low else (low, low + 1.0)

    def color_mapping(self) -> ColorMapping:
        """The transfer function's colours across the data range (what a colour bar shows)."""
        low, high = self.effective_range()
        return ColorMapping(self.transfer_function.name, self.transfer_function.table, low, high)

    def effective_iso_value(self) -> float:
        """``iso_value``, or the middle of the data range."""
        if self.iso_value is not None:
            return self.iso_value
        low, high = self.effective_range()
        return (low + high) / 2.0

    def effective_pick_threshold(self) -> float:
        """The value picking stops at (see the class description)."""
        if self.pick_threshold is not None:
            return self.pick_threshold
        if self.mode is VolumeMode.ISOSURFACE:
            return self.effective_iso_value()
        low, high = self.effective_range()
        return low + self.transfer_function.lowest_visible() * (high - low)

    def _build_geometry(self) -> VolumeGeometry:
        origin, spacing = np.asarray(self.origin), np.asarray(self.spacing)
        shape_xyz = np.array(self.data.shape[::-1], dtype=np.float64)
        box = BoundingBox(as_vec3(origin - spacing / 2.0), as_vec3(origin + (shape_xyz - 0.5) * spacing))
        return VolumeGeometry(
            repr(self), self.data, self.data_generation, origin, spacing, self.effective_range(), box,
            self.transfer_function, self.brick_size, self.effective_pick_threshold(),
        )
