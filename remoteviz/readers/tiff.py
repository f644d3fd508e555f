"""TIFF stacks through tifffile: a multi-page file, or a folder or glob of single-slice files.

The voxel size comes from OME metadata (PhysicalSizeX/Y/Z), ImageJ's ``spacing`` for z and the
X/YResolution tags (pixels per unit) for x and y; one unit per voxel where the file says nothing.
An uncompressed, untiled file is memory-mapped read-only; others are decoded whole.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from remoteviz.readers.errors import ReadError, check_claimed_size, reading
from remoteviz.readers.volume_data import VolumeData

ProgressCallback = Callable[[float], None]

TIFF_SUFFIXES = (".tif", ".tiff")


def _natural_key(path: str) -> list[Any]:
    """slice2 before slice10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path)]


def tiff_slices(path: str | os.PathLike[str]) -> list[str]:
    """The TIFF files a folder or a glob pattern names, in natural order (empty if it names none)."""
    text = os.fspath(path)
    if os.path.isdir(text):
        names = [os.path.join(text, n) for n in os.listdir(text) if n.lower().endswith(TIFF_SUFFIXES)]
    elif glob.has_magic(text):
        names = [n for n in glob.glob(text) if os.path.isfile(n)]
    else:
        return []
    return sorted(names, key=_natural_key)


def _resolution(page: Any, tag: str) -> float | None:
    """Voxel size along x or y from a resolution tag (pixels per unit), or None."""
    value = page.tags.get(tag)
    if value is None:
        return None
    numerator, denominator = value.value
    return denominator / numerator if numerator > 0 and denominator > 0 else None


def _spacing(tif: Any) -> tuple[float, float, float]:
    page = tif.pages[0]
    x, y, z = _resolution(page, "XResolution"), _resolution(page, "YResolution"), None
    ome = getattr(tif, "ome_metadata", None)
    if ome:
        found = {axis: re.search(rf'PhysicalSize{axis}="([0-9.eE+-]+)"', ome) for axis in "XYZ"}
        x, y, z = (float(m.group(1)) if m else v for m, v in zip(found.values(), (x, y, z)))
    imagej = getattr(tif, "imagej_metadata", None) or {}
    if imagej.get("spacing"):
        z = float(imagej["spacing"])
    x = x or 1.0
    return x, y or x, z or x


def _volume(path: str | os.PathLike[str], array: Any, axes: str) -> Any:
    """The ``(z, y, x)`` part of a series: leading axes of length 1 dropped, samples refused."""
    if "S" in axes and array.shape[axes.index("S")] > 1:
        raise ReadError(path, "it holds colour (RGB) images, not a volume of values")
    keep = [i for i, (axis, n) in enumerate(zip(axes, array.shape)) if n > 1 or axis in "YX"]
    if len(keep) == 2:
        keep = [axes.index(a) for a in axes if a not in "YX"][-1:] + keep
    if len(keep) != 3:
        raise ReadError(path, f"expected a stack of 2-D images, the file holds axes {axes} of shape {array.shape}")
    index = tuple(slice(None) if i in keep else 0 for i in range(array.ndim))
    return array[index]


def _read_file(path: str | os.PathLike[str]) -> VolumeData:
    import tifffile  # an optional dependency, loaded on first use

    with reading(path, "TIFF file"), tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        shape, dtype, axes = tuple(series.shape), np.dtype(series.dtype), series.axes
        spacing = _spacing(tif)
        compressed = any(page.compression != 1 for page in tif.pages[:1]) or series.dataoffset is None
    check_claimed_size(path, shape, dtype.itemsize, available=None if compressed else os.path.getsize(path))
    with reading(path, "TIFF file"):
        array: np.ndarray
        try:
            array = tifffile.memmap(path, mode="r")
        except ValueError:  # compressed, tiled or not contiguous: decode it
            array = tifffile.imread(path)
    array = array.reshape(shape)
    if array.ndim == 2:  # one image: a volume one slice deep
        array, axes = array[None], "Z" + axes
    return VolumeData((_volume(path, array, axes),), (np.diag([*spacing, 1.0]),), os.fspath(path))


def _read_slices(source: str | os.PathLike[str], names: list[str], progress: ProgressCallback | None) -> VolumeData:
    import tifffile

    with reading(names[0], "TIFF file"), tifffile.TiffFile(names[0]) as tif:
        first_shape, dtype = tuple(tif.series[0].shape), np.dtype(tif.series[0].dtype)
        spacing = _spacing(tif)
    if len(first_shape) != 2:
        raise ReadError(names[0], f"a slice of a stack must be one 2-D image, it has shape {first_shape}")
    check_claimed_size(source, (len(names), *first_shape), dtype.itemsize)
    volume = np.empty((len(names), *first_shape), dtype)
    for number, name in enumerate(names):
        with reading(name, "TIFF file"):
            plane = tifffile.imread(name)
        if plane.shape != first_shape:
            raise ReadError(name, f"its image is {plane.shape}, the stack's first is {first_shape}")
        volume[number] = plane
        if progress is not None:
            progress((number + 1) / len(names))
    return VolumeData((volume,), (np.diag([*spacing, 1.0]),), os.fspath(source))


def read_tiff(path: str | os.PathLike[str], progress: ProgressCallback | None = None) -> VolumeData:
    """A TIFF stack: a multi-page file, or a folder or glob pattern of one-image files (natural
    order: ``slice2.tif`` before ``slice10.tif``)."""
    if os.path.isfile(path):
        return _read_file(path)
    names = tiff_slices(path)
    if not names:
        raise ReadError(path, "no TIFF file (.tif, .tiff) is there")
    return _read_slices(path, names, progress)

