"""LAS and LAZ point clouds through laspy (LAZ decompressed by lazrs)."""

from __future__ import annotations

import os

import numpy as np

from remoteviz.readers.errors import ReadError, check_claimed_size, reading
from remoteviz.readers.point_data import PointData

_POSITION_BYTES = 3 * 4 + 2 + 1 + 3 * 4  # what is kept per point: positions, intensity, class, colours


def read_las(path: str | os.PathLike[str]) -> PointData:
    """The file's points with their intensity, classification and RGB (when the point format has it).

    Positions are made relative to the header's minimum corner before they become float32.
    RGB is 16-bit in the standard, but some writers store 0..255: those are recognised by their
    maximum.
    """
    import laspy  # an optional dependency, loaded on first use

    with reading(path, "LAS/LAZ file"), laspy.open(os.fspath(path)) as reader:
        header = reader.header
        count = int(header.point_count)
        compressed = bool(header.are_points_compressed)
        record = int(header.point_format.size)
        offset = int(header.offset_to_point_data)
        origin = np.asarray(header.mins, dtype=np.float64)
    available = None if compressed else os.path.getsize(path) - offset
    check_claimed_size(path, (max(count, 1), record), 1, available=available, what="bytes of points")
    check_claimed_size(path, (max(count, 1), _POSITION_BYTES), 1, what="bytes of points")
    with reading(path, "LAS/LAZ file"):
        las = laspy.read(os.fspath(path))
        positions = np.stack([np.asarray(las.x) - origin[0], np.asarray(las.y) - origin[1],
                              np.asarray(las.z) - origin[2]], axis=1).astype(np.float32)
        names = set(las.point_format.dimension_names)
        colors = None
        if {"red", "green", "blue"} <= names:
            rgb = np.stack([np.asarray(las.red), np.asarray(las.green), np.asarray(las.blue)], axis=1)
            top = int(rgb.max()) if len(rgb) else 0
            if top > 0:
                colors = (rgb / (255.0 if top <= 255 else 65535.0)).astype(np.float32)
        if not np.isfinite(positions).all():
            raise ReadError(path, "its scales or offsets make coordinates that are not finite numbers")
        intensity = np.asarray(las.intensity, dtype=np.uint16)
        classification = np.asarray(las.classification, dtype=np.uint8)
    return PointData(positions, origin, os.fspath(path), colors, intensity, classification)
