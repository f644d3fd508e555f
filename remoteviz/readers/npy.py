"""NumPy ``.npy`` volumes, memory-mapped: ``(z, y, x)`` arrays (x fastest), one unit per voxel."""

from __future__ import annotations

import os

import numpy as np

from remoteviz.readers.errors import ReadError, check_claimed_size, reading
from remoteviz.readers.volume_data import VolumeData

_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def read_npy(path: str | os.PathLike[str]) -> VolumeData:
    """The ``.npy`` file's 3-D array, memory-mapped (nothing is read until a voxel is needed).

    Axes of length 1 beyond three are dropped (a ``(1, z, y, x)`` array is a volume); the header's
    shape is checked against the file's size before anything is mapped.
    """
    with reading(path, ".npy file"), open(path, "rb") as file:
        version = np.lib.format.read_magic(file)
        if version not in _HEADER_READERS:
            raise ReadError(path, f".npy format version {version} is not supported")
        shape, _, dtype = _HEADER_READERS[version](file)
        offset = file.tell()
    if dtype.hasobject or dtype.fields is not None or dtype.kind not in "uifb":
        raise ReadError(path, f"the array's type {dtype} is not a number type")
    check_claimed_size(path, shape, dtype.itemsize, available=os.path.getsize(path) - offset)
    volume_shape = tuple(shape) if len(shape) <= 3 else tuple(n for n in shape if n != 1)
    if len(volume_shape) != 3:
        raise ReadError(path, f"expected a 3-D (z, y, x) array, the file holds shape {tuple(shape)}")
    with reading(path, ".npy file"):
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    return VolumeData((array.reshape(volume_shape),), (np.eye(4),), os.fspath(path))
