"""PLY files of points only (no faces): scanners' and photogrammetry's point clouds."""

from __future__ import annotations

import os

import numpy as np

from remoteviz.readers.errors import ReadError, reading
from remoteviz.readers.point_data import PointData

_HEADER_LIMIT = 64 * 1024


def ply_header(path: str | os.PathLike[str]) -> dict[str, int]:
    """The PLY header's element counts (``{"vertex": N, "face": M}``), or {} if it is no PLY file."""
    with open(path, "rb") as file:
        head = file.read(_HEADER_LIMIT)
    if not head.startswith(b"ply"):
        return {}
    end = head.find(b"end_header")
    counts: dict[str, int] = {}
    for line in head[: end if end >= 0 else len(head)].decode("latin-1").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "element" and parts[2].isdigit():
            counts[parts[1]] = int(parts[2])
    return counts


def read_ply_points(path: str | os.PathLike[str]) -> PointData:
    """The PLY file's vertices as points, with their colours when it has them."""
    import trimesh

    with reading(path, "PLY file"):
        cloud = trimesh.load(os.fspath(path), file_type="ply")
    vertices = np.asarray(getattr(cloud, "vertices", np.zeros((0, 3))), dtype=np.float64)
    if len(vertices) == 0:
        raise ReadError(path, "the PLY file holds no points")
    origin = vertices.min(axis=0)
    raw = getattr(cloud, "colors", None)
    colors = None
    if raw is not None and len(raw) == len(vertices) and np.ptp(np.asarray(raw)[:, :3]) > 0:
        colors = (np.asarray(raw)[:, :3] / 255.0).astype(np.float32)
    return PointData((vertices - origin).astype(np.float32), origin, os.fspath(path), colors)
