"""What every volume reader returns: the voxels, in memory or on disk, and where they sit.

Readers (DICOM, NIfTI, TIFF, SEG-Y, NumPy, zarr/OME-Zarr) return a :class:`VolumeData` and read
no voxel they do not have to: ``levels`` may be NumPy arrays, memory maps or zarr arrays, which
the in-memory :class:`~remoteviz.rendering.Volume` reads whole and the out-of-core volume reads
brick by brick.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class VoxelArray(Protocol):
    """A ``(z, y, x)`` array indexable by slices: NumPy arrays, memory maps and zarr arrays are."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> np.dtype[Any]: ...

    def __getitem__(self, key: Any) -> Any: ...


@dataclass(frozen=True)
class VolumeData:
    """A volume as read from a file, not yet drawn.

    ``levels[0]`` is the full resolution, ``(z, y, x)`` with x fastest; further levels, when the
    file has them (OME-Zarr multiscales, a converted store), are coarser copies. ``transforms[i]``
    is the 4x4 matrix taking ``(i, j, k, 1)`` (column, row, slice) voxel indices of ``levels[i]``
    to world coordinates (millimetres for medical data, the survey's units for seismic).
    ``window`` is the display range the file suggests (DICOM's WindowCenter/Width, OME-Zarr's
    omero window), in the units of the values (``units``, e.g. ``"HU"``); ``modality`` names the
    kind of data (``"CT"``, ``"MR"``, ``"seismic"``, ...) for picking defaults.
    """

    levels: tuple[VoxelArray, ...]
    transforms: tuple[np.ndarray, ...]
    source: str
    window: tuple[float, float] | None = None
    units: str = ""
    modality: str = ""

    def __post_init__(self) -> None:
        if not self.levels or len(self.levels) != len(self.transforms):
            raise ValueError(f"{self.source}: one 4x4 transform per level is needed")

    @property
    def shape(self) -> tuple[int, int, int]:
        """The full resolution's ``(z, y, x)``."""
        z, y, x = self.levels[0].shape
        return int(z), int(y), int(x)

    @property
    def nbytes(self) -> int:
        """The bytes of the full resolution, were it read whole."""
        z, y, x = self.shape
        return z * y * x * np.dtype(self.levels[0].dtype).itemsize

    @property
    def index_to_world(self) -> np.ndarray:
        """The full resolution's voxel-index-to-world matrix."""
        return self.transforms[0]
