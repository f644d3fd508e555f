"""Named colour maps and how a scalar array maps to their colours.

The tables come from the ``cmap`` package (a dependency of remoteviz's, needing only numpy), a maintained
collection of the usual scientific maps (matplotlib's perceptual ones, ColorBrewer's, MATLAB's),
imported only when a map is first used. A map is sampled into :data:`TABLE_SIZE` RGBA entries;
the GPU holds it as a 1-D texture and maps each fragment's scalar through it, so switching the map
or the range redraws without sending geometry again. ``name + "_r"`` is the map reversed.

A :class:`ColorMapping` is what a coloured node reports (its map's table, the value range, log or
linear): the renderer, the picker and the colour bar all read it, so they agree.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from remoteviz.rendering.fields import Color

TABLE_SIZE = 256
"""Entries in a colour map's table (as in matplotlib)."""

# Our names for the maps, and their fully qualified names in the cmap package's catalogue.
_CATALOGUE = {
    "viridis": "bids:viridis",
    "plasma": "bids:plasma",
    "inferno": "bids:inferno",
    "magma": "bids:magma",
    "cividis": "cividis:cividis",
    "turbo": "google:turbo",
    "coolwarm": "matplotlib:coolwarm",
    "grey": "matlab:gray",
    "gray": "matlab:gray",
    "seismic": "matplotlib:seismic",
    "RdBu": "colorbrewer:RdBu",
    "RdYlBu": "colorbrewer:RdYlBu",
    "Spectral": "colorbrewer:Spectral",
    "jet": "matlab:jet",
    "hot": "matlab:hot",
    "bone": "matlab:bone",
    # Qualitative: 10 or 20 distinct colours in equal blocks, so integer classes 0..N-1 over the
    # range (0, N-1) each take one (a point cloud's classification, a mesh's part numbers).
    "tab10": "tableau:tab10",
    "tab20": "tableau:tab20",
}
_BY_LOWER = {name.lower(): name for name in _CATALOGUE}


def colormaps() -> list[str]:
    """The names of the colour maps (each also reversed with ``"_r"`` appended)."""
    return list(_CATALOGUE)


def colormap_name(value: Any) -> str:
    """A known colour map's name as :func:`colormaps` spells it (any case, ``_r`` allowed)."""
    if not isinstance(value, str):
        raise TypeError(f"expected a colour map name, got {value!r}")
    base, reverse = (value[:-2], "_r") if value.lower().endswith("_r") else (value, "")
    name = _BY_LOWER.get(base.lower())
    if name is None:
        raise ValueError(f"unknown colour map {value!r}; known: {', '.join(_CATALOGUE)} (and each + '_r')")
    return name + reverse


@functools.lru_cache(maxsize=64)
def _table(name: str) -> npt.NDArray[np.float32]:
    import cmap  # only when a map is first used: its catalogue holds hundreds of maps
    base, reverse = (name[:-2], True) if name.endswith("_r") else (name, False)
    colormap = cmap.Colormap(_CATALOGUE[base])
    if reverse:
        colormap = colormap.reversed()
    # Sampled at even positions (not ``lut``, which gives a listed map's colours only once each).
    table = np.ascontiguousarray(colormap(np.linspace(0.0, 1.0, TABLE_SIZE)), dtype=np.float32)
    table.setflags(write=False)
    return table


def colormap_table(name: str) -> npt.NDArray[np.float32]:
    """The ``(TABLE_SIZE, 4)`` RGBA table (floats 0..1, read-only) of a named map."""
    return _table(colormap_name(name))


def as_scalars(value: npt.ArrayLike | None) -> npt.NDArray[np.float32] | None:
    """A 1-D float32 array of scalars (NaN allowed: drawn in the NaN colour), or None."""
    if value is None:
        return None
    scalars = np.asarray(value)
    if scalars.dtype == bool or not np.issubdtype(scalars.dtype, np.number):
        raise TypeError(f"scalars must be numbers, got {scalars.dtype}")
    if scalars.ndim != 1:
        raise ValueError(f"expected a 1-D array of scalars, one per vertex or per cell, got shape {scalars.shape}")
    if np.isinf(scalars).any():
        raise ValueError("scalars must be finite or NaN")
    return np.ascontiguousarray(scalars, dtype=np.float32)


def as_scalar_range(value: Sequence[float] | None) -> tuple[float, float] | None:
    """A ``(low, high)`` range with ``high > low``, or None (the data's own)."""
    if value is None:
        return None
    low, high = (float(v) for v in value)
    if not (math.isfinite(low) and math.isfinite(high) and high > low):
        raise ValueError(f"expected a (low, high) range with high > low, got {value!r}")
    return low, high


def auto_range(values: npt.NDArray[np.float32] | npt.NDArray[np.float64], log: bool) -> tuple[float, float]:
    """The range that spans ``values``: their finite minimum and maximum (positive ones only for a
    log scale), widened when they are equal; ``(0, 1)`` (``(1, 10)`` for log) when there are none."""
    finite = values[np.isfinite(values)]
    if log:
        finite = finite[finite > 0.0]
    if not len(finite):
        return (1.0, 10.0) if log else (0.0, 1.0)
    low, high = float(finite.min()), float(finite.max())
    if high > low:
        return low, high
    return (low / 10.0, low * 10.0) if log else (low - 0.5, high + 0.5)


@dataclass(frozen=True, slots=True)
class ColorMapping:
    """How a node's scalars become colours: ``table`` (``(N, 4)`` RGBA), values from ``low`` to
    ``high`` across it, on a log scale when ``log``; values outside the range take the end
    colours, NaN (and, on a log scale, zero and negative values) take ``nan_color``.

    ``colormap`` is the map's name (empty for a custom table, such as a volume's transfer
    function).
    """

    colormap: str
    table: npt.NDArray[np.float32]
    low: float
    high: float
    log: bool = False
    nan_color: Color = (0.5, 0.5, 0.5)

    def __post_init__(self) -> None:
        if self.log and self.low <= 0.0:
            raise ValueError(f"a log scale needs a positive range, got ({self.low:g}, {self.high:g})")

    def scale_ends(self) -> tuple[float, float]:
        """The range's ends as the shaders compare values with them: their logarithms (base 10)
        on a log scale."""
        if self.log:
            return math.log10(self.low), math.log10(self.high)
        return self.low, self.high

    def positions(self, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Values to positions along the map, 0..1 (clamped); NaN where the NaN colour shows."""
        v = np.asarray(values, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.log:
                v = np.where(v > 0.0, np.log10(v), np.nan)
            low, high = self.scale_ends()
            return np.clip((v - low) / (high - low), 0.0, 1.0)

    def colors(self, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """RGBA for values as the GPU draws them (linear between table entries)."""
        t = self.positions(values)
        size = len(self.table)
        # Position 0 is the first entry's colour and 1 the last's (the shaders sample so).
        x = np.nan_to_num(t) * (size - 1)
        rgba = np.stack([np.interp(x, np.arange(size), self.table[:, k]) for k in range(4)], axis=-1)
        rgba[np.isnan(t)] = (*self.nan_color, 1.0)
        return rgba
