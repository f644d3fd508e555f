"""NIfTI-1/2 volumes (``.nii``, ``.nii.gz``) through nibabel, placed by their affine.

World coordinates are the file's: millimetres in RAS+ (x grows towards the patient's right, y
to the front, z to the head), from the sform when its code is set, else the qform (nibabel's best
affine). ``.nii`` files are memory-mapped; ``.nii.gz`` ones are decompressed whole.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from remoteviz.readers.errors import ReadError, check_claimed_size, reading
from remoteviz.readers.volume_data import VolumeData

log = logging.getLogger("remoteviz.readers")


def read_nifti(path: str | os.PathLike[str]) -> VolumeData:
    """The file's first 3-D volume (a 4-D series shows its first time point) with its affine."""
    import nibabel  # an optional dependency, loaded on first use

    with reading(path, "NIfTI file"):
        image: Any = nibabel.load(os.fspath(path))  # a Nifti1Image or Nifti2Image
        header = image.header
        shape = tuple(int(n) for n in header.get_data_shape())
        dtype = np.dtype(header.get_data_dtype())
        compressed = os.fspath(path).lower().endswith(".gz")
        offset = int(header.get_data_offset())
    if len(shape) < 3:
        shape = shape + (1,) * (3 - len(shape))
    available = None if compressed else os.path.getsize(path) - offset
    check_claimed_size(path, shape, dtype.itemsize, available=available)
    extra = [n for n in shape[3:] if n != 1]
    if extra:
        log.warning("%s holds %d volumes; showing the first", os.fspath(path), int(np.prod(extra)))
    with reading(path, "NIfTI file"):
        # dataobj applies the header's scaling (scl_slope/inter) and stays a memory map when unscaled.
        data = image.dataobj[(slice(None),) * 3 + (0,) * (len(shape) - 3)] if len(shape) > 3 else image.dataobj
        array = np.asanyarray(data)
        if array.dtype == np.float64:  # scaled data: float32 holds what a display needs in half the memory
            array = array.astype(np.float32)
        if array.ndim < 3:
            array = array.reshape(shape[:3])
        affine = np.asarray(image.affine, dtype=np.float64)
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise ReadError(path, "the header's affine is not a valid placement")
    low, high = float(header["cal_min"]), float(header["cal_max"])
    window = (low, high) if np.isfinite([low, high]).all() and high > low else None
    # nibabel's array is (i, j, k), i fastest on disk: its transpose is the (z, y, x) view.
    return VolumeData((array.transpose(2, 1, 0),), (affine,), os.fspath(path), window=window, units="",
                      modality="")
