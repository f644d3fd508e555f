"""Point clouds: millions of points with per-point colours and sizes in pixels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from remoteviz.rendering.fields import Field, as_positive_float
from remoteviz.rendering.math3d import BoundingBox
from remoteviz.rendering.mesh import as_colors, as_points
from remoteviz.rendering.scalars import ScalarShape

#: Picking finds a point this many pixels from the pick position, or nearer.
PICK_RADIUS_PIXELS = 4.0


@dataclass(frozen=True, slots=True, eq=False)
class PointGeometry:
    """Points: ``positions`` ``(N, 3)`` float32, ``colors`` ``(N, 4)`` float32 RGBA or None (the
    material's diffuse colour), ``sizes`` ``(N,)`` float32 pixels, ``scalars`` ``(N,)`` float32 for
    the colour map or None."""

    positions: npt.NDArray[np.float32]
    colors: npt.NDArray[np.float32] | None
    sizes: npt.NDArray[np.float32]
    scalars: npt.NDArray[np.float32] | None = None

    @property
    def bounding_box(self) -> BoundingBox | None:
        """The box around the points, or None when there are none."""
        return BoundingBox.of_points(self.positions)


def _as_sizes(value: npt.ArrayLike | None) -> npt.NDArray[np.float32] | None:
    if value is None:
        return None
    sizes = np.ascontiguousarray(value, dtype=np.float32).reshape(-1)
    if not (np.isfinite(sizes).all() and (sizes > 0).all()):
        raise ValueError("point sizes must be finite and greater than 0")
    return sizes


class PointSet(ScalarShape):
    """Points drawn as round dots of a size in pixels, unlit, in their own colours.

    ``positions`` is ``(N, 3)``; ``colors`` ``(N, 3)`` or ``(N, 4)`` (floats 0..1 or integers
    0..255; None: the material's diffuse colour); ``sizes`` ``(N,)`` in pixels (None: ``size``
    for every point). ``scalars`` (one per point) colour them through ``colormap`` instead (see
    :class:`~remoteviz.rendering.scalars.ScalarShape`). The driver caps sizes (255 pixels on Mesa). Picking finds the point nearest
    the ray within :data:`PICK_RADIUS_PIXELS` (or the point's own radius, if larger).
    """

    positions = Field(np.zeros((0, 3), np.float32), as_points, "Point positions, (N, 3).")
    colors = Field(None, as_colors, "Point colours as (N, 4) RGBA floats, or None.")
    sizes = Field(None, _as_sizes, "Point sizes in pixels, (N,), or None for ``size``.")
    size = Field(3.0, as_positive_float, "The size of every point without its own, in pixels.")

    def __init__(
        self,
        positions: npt.ArrayLike,
        colors: npt.ArrayLike | None = None,
        sizes: npt.ArrayLike | None = None,
        *,
        name: str = "",
        **fields: Any,
    ) -> None:
        super().__init__(name=name, positions=positions, colors=colors, sizes=sizes, **fields)

    def _build_geometry(self) -> PointGeometry:
        count = len(self.positions)
        for label, array in (("colors", self.colors), ("sizes", self.sizes)):
            if array is not None and len(array) != count:
                raise ValueError(f"{label} has {len(array)} rows for {count} points")
        sizes = self.sizes if self.sizes is not None else np.full(count, self.size, np.float32)
        scalars, _ = self._scalars_per(count, count, "point")
        return PointGeometry(self.positions, self.colors, sizes, scalars)
