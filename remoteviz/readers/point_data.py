"""What the point-cloud readers return: positions near the origin, where they are, and their attributes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class PointData:
    """Points as read from a file, not yet drawn.

    ``positions`` ``(N, 3)`` float32 are relative to ``origin`` (float64 world coordinates), so
    survey coordinates of millions of metres keep their centimetres. ``colors`` ``(N, 3)`` are the
    file's RGB as floats 0..1 (None if it has none); ``intensity`` ``(N,)`` and
    ``classification`` ``(N,)`` (ASPRS codes) are the LAS attributes, None where absent.
    """

    positions: npt.NDArray[np.float32]
    origin: npt.NDArray[np.float64]
    source: str
    colors: npt.NDArray[np.float32] | None = None
    intensity: npt.NDArray[np.uint16] | None = None
    classification: npt.NDArray[np.uint8] | None = None

    def __len__(self) -> int:
        return len(self.positions)
