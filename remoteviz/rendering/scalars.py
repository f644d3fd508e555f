"""Shapes coloured by a scalar array through a named colour map (meshes, points, lines).

A :class:`ScalarShape` takes ``scalars``, one value per vertex or per cell (triangle or segment),
and draws them through ``colormap`` across ``scalar_range`` (None: the data's own), on a log
scale when ``log_scale``. The scalars travel to the GPU once, as a vertex attribute; the map is a
1-D texture the fragment shader samples, so changing ``colormap``, ``scalar_range``,
``log_scale`` or ``nan_color`` redraws without rebuilding or uploading the geometry.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from remoteviz.rendering.colormaps import (
    ColorMapping,
    as_scalar_range,
    as_scalars,
    auto_range,
    colormap_name,
    colormap_table,
)
from remoteviz.rendering.fields import Field, as_bool, as_color
from remoteviz.rendering.shapes import Shape

ASSOCIATIONS = ("auto", "vertex", "cell")
"""What one scalar belongs to: ``"vertex"``, ``"cell"`` (a triangle, a segment), or ``"auto"``:
decided by the array's length (a vertex when both counts match)."""


def _as_association(value: Any) -> str:
    if value not in ASSOCIATIONS:
        raise ValueError(f"expected a scalar association of {', '.join(map(repr, ASSOCIATIONS))}, got {value!r}")
    return str(value)


def _as_arrays(value: Mapping[str, npt.ArrayLike]) -> Mapping[str, npt.NDArray[np.float32]]:
    arrays = {}
    for name, values in dict(value).items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"array names are non-empty strings, got {name!r}")
        checked = as_scalars(values)
        assert checked is not None  # as_scalars returns None only for None
        arrays[name] = checked
    return MappingProxyType(arrays)


class ScalarShape(Shape):
    """A shape that may be coloured by a scalar per vertex or per cell (see the module description).

    Without ``scalars`` the shape keeps its own colours or the material's. With them, values
    outside the range take the map's end colours; NaN, and on a log scale zero and negative
    values, take ``nan_color``. A log scale's automatic range spans the positive values; a set
    range must then be positive (``ValueError`` when drawn otherwise).

    ``arrays`` holds named scalar arrays a shape can show one at a time (a file's properties:
    a PLY's per-vertex pressure, a point cloud's intensity and classification); :meth:`color_by`
    shows one, and its name becomes ``scalars_name`` (a colour bar's default title).
    """

    scalars = Field(None, as_scalars, "One value per vertex or per cell, (N,), or None.")
    scalar_association = Field("auto", _as_association, "'vertex', 'cell' or 'auto' (by the array's length).")
    colormap = Field("viridis", colormap_name, "The colour map's name (see remoteviz.colormaps()).", appearance=True)
    scalar_range = Field(
        None, as_scalar_range, "Values at the map's ends, (low, high), or None for the data's.", appearance=True
    )
    log_scale = Field(False, as_bool, "Map the logarithm of the values.", appearance=True)
    nan_color = Field((0.5, 0.5, 0.5), as_color, "Colour of NaN (and, on a log scale, non-positive) values.",
                      appearance=True)

    arrays = Field(MappingProxyType({}), _as_arrays, "Named scalar arrays to colour by, read-only.",
                   appearance=True)
    scalars_name = Field("", str, "What the scalars are (a colour bar's default title).", appearance=True)

    _auto_range: tuple[int, bool, tuple[float, float]] | None = None

    def color_by(self, name: str) -> None:
        """Colour by the array ``name`` of :attr:`arrays` (per vertex or per cell by its length)."""
        if name not in self.arrays:
            known = ", ".join(map(repr, self.arrays)) or "none"
            raise KeyError(f"{self!r} has no array {name!r}; it has {known}")
        self.scalars = self.arrays[name]
        self.scalar_association = "auto"
        self.scalars_name = name

    def effective_scalar_range(self) -> tuple[float, float]:
        """``scalar_range``, or the range of the scalars (see :func:`~remoteviz.rendering.colormaps.auto_range`)."""
        if self.scalar_range is not None:
            return self.scalar_range
        cached = self._auto_range
        if cached is None or cached[:2] != (self.geometry_version, self.log_scale):
            values = self.scalars if self.scalars is not None else np.zeros(0, np.float32)
            cached = self._auto_range = (self.geometry_version, self.log_scale, auto_range(values, self.log_scale))
        return cached[2]

    def color_mapping(self) -> ColorMapping | None:
        """How the scalars are drawn now, or None without scalars."""
        if self.scalars is None:
            return None
        low, high = self.effective_scalar_range()
        return ColorMapping(
            self.colormap, colormap_table(self.colormap), low, high, self.log_scale, self.nan_color
        )

    def _scalars_per(self, vertices: int, cells: int, cell_name: str) -> tuple[np.ndarray | None, bool]:
        """The scalars and whether they are per cell, checked against the counts."""
        scalars = self.scalars
        if scalars is None:
            return None, False
        association = self.scalar_association
        if association == "auto":
            if len(scalars) == vertices:
                return scalars, False
            if len(scalars) == cells:
                return scalars, True
            raise ValueError(
                f"scalars has {len(scalars)} values for {vertices} vertices and {cells} {cell_name}s"
            )
        count = vertices if association == "vertex" else cells
        if len(scalars) != count:
            what = "vertices" if association == "vertex" else f"{cell_name}s"
            raise ValueError(f"scalars has {len(scalars)} values for {count} {what}")
        return scalars, association == "cell"


def scalars_at(values: npt.NDArray[np.float32], corners: npt.ArrayLike, weights: npt.ArrayLike) -> float:
    """A scalar interpolated between vertices ``corners`` with ``weights`` (picking's value)."""
    return float(np.dot(values[np.asarray(corners)].astype(np.float64), np.asarray(weights, np.float64)))
