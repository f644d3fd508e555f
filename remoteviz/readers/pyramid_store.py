"""The multi-resolution store: a volume written once as an OME-Zarr 0.5 (zarr v3) pyramid.

:func:`write_pyramid` writes level 0 (the voxels as they are) and coarser levels, each half the
previous along x, y and z (the mean of 2x2x2 voxels, or their maximum for MIP pictures), until one
brick holds the whole level. Every level is chunked in cubes of ``brick`` voxels, the bricks the
out-of-core volume loads, and for each brick its minimum and maximum are kept
(``remoteviz_ranges/<level>``, ``(bricks_z, bricks_y, bricks_x, 2)`` float64), so bricks the
transfer function hides are never read (a coarse brick's range spans its children's). The work goes tile by tile (``2 * brick`` slices by
``2 * brick`` rows of the level below), so memory stays near ``4 * brick**2 * nx`` voxels
however large the input is (a memory map or a zarr array bigger than RAM).

Any OME-Zarr reader can open the result; remoteviz's own attributes (``remoteviz`` in the group's
attributes) add what NGFF cannot say: the brick size, the whole data range, the full 4x4
index-to-world matrix (oblique DICOM series) and the modality.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from remoteviz.readers.volume_data import VolumeData

DEFAULT_BRICK = 64
"""Bricks (and zarr chunks) of 64^3 voxels: 256 KB of uint8, small enough that a frame's
missing bricks load in a few milliseconds each, large enough that a 1024^3 volume has 4096."""

RANGES_GROUP = "remoteviz_ranges"
"""The group holding each level's per-brick minimum and maximum."""

ProgressCallback = Callable[[float, str], None]
"""Called with the fraction done (0..1) and what is being written."""


def level_shapes(shape: tuple[int, int, int], brick: int) -> list[tuple[int, int, int]]:
    """The ``(z, y, x)`` shape of each level: halved (rounded up) until one brick holds a level."""
    shapes = [tuple(int(n) for n in shape)]
    while max(shapes[-1]) > brick:
        shapes.append(tuple((n + 1) // 2 for n in shapes[-1]))
    return shapes  # type: ignore[return-value]


def level_transform(index_to_world: np.ndarray, factor: int) -> np.ndarray:
    """The index-to-world matrix of a level ``factor`` times coarser than ``index_to_world``'s:
    its voxel ``i`` is the mean of fine voxels ``factor * i .. factor * i + factor - 1``."""
    to_fine = np.eye(4)
    to_fine[:3, :3] *= factor
    to_fine[:3, 3] = (factor - 1) / 2.0
    return np.asarray(index_to_world, dtype=np.float64) @ to_fine


def _stored_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    if dtype == np.float64:
        return np.dtype(np.float32)
    if dtype == np.bool_:
        return np.dtype(np.uint8)
    if dtype.kind not in "uif":
        raise ValueError(f"cannot store voxels of type {dtype}")
    return dtype


def _halve(block: np.ndarray, reduce: str, dtype: np.dtype[Any]) -> np.ndarray:
    """``block`` at half resolution along each axis (odd sizes: the last voxel repeated)."""
    pad = [(0, n % 2) for n in block.shape]
    if any(p for _, p in pad):
        block = np.pad(block, pad, mode="edge")
    z, y, x = (n // 2 for n in block.shape)
    grouped = block.reshape(z, 2, y, 2, x, 2)
    if reduce == "max":
        halved: np.ndarray = grouped.max(axis=(1, 3, 5)).astype(dtype, copy=False)
        return halved
    mean = grouped.mean(axis=(1, 3, 5), dtype=np.float32)
    if dtype.kind in "ui":
        mean = np.rint(mean)
    halved = mean.astype(dtype)
    return halved


def _record_ranges(ranges: np.ndarray, tile: np.ndarray, z0: int, y0: int, brick: int) -> None:
    """Each brick's minimum and maximum within ``tile`` (one brick deep, one brick high)."""
    bz, by = z0 // brick, y0 // brick
    for bx in range(ranges.shape[2]):
        part = tile[:, :, bx * brick:(bx + 1) * brick]
        ranges[bz, by, bx] = (float(part.min()), float(part.max()))


def _union_of_children(finer: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Per brick of the coarser level, the lowest minimum and highest maximum of its children."""
    pad = [(0, 2 * n - f) for n, f in zip(shape[:3], finer.shape[:3], strict=True)] + [(0, 0)]
    padded = np.pad(finer, pad, mode="edge")
    z, y, x = shape[:3]
    grouped = padded.reshape(z, 2, y, 2, x, 2, 2)
    return np.stack([grouped[..., 0].min(axis=(1, 3, 5)), grouped[..., 1].max(axis=(1, 3, 5))], axis=-1)


def write_pyramid(
    data: VolumeData,
    path: str | Path,
    *,
    brick: int = DEFAULT_BRICK,
    reduce: str = "mean",
    progress: ProgressCallback | None = None,
) -> Path:
    """Write ``data``'s full resolution and its coarser levels to a new store at ``path``.

    ``reduce`` is ``"mean"`` (the default) or ``"max"`` (coarse levels that keep the brightest
    voxel, for maximum intensity projections). ``progress`` is called after each tile. An existing
    store at ``path`` is replaced. Returns the store's path.
    """
    import zarr  # an optional dependency (remoteviz[data])

    if reduce not in ("mean", "max"):
        raise ValueError(f"reduce must be 'mean' or 'max', not {reduce!r}")
    if isinstance(brick, bool) or not isinstance(brick, int) or not 8 <= brick <= 512:
        raise ValueError(f"expected a brick size from 8 to 512 voxels, got {brick!r}")
    if 0 in data.shape:
        raise ValueError(f"{data.source}: the volume is empty, shape {data.shape}")
    target = Path(path)
    source = data.levels[0]
    dtype = _stored_dtype(np.dtype(source.dtype))
    shapes = level_shapes(data.shape, brick)
    group = zarr.open_group(str(target), mode="w", zarr_format=3)
    arrays = [
        group.create_array(str(level), shape=shape, chunks=(brick,) * 3, dtype=dtype, fill_value=0)
        for level, shape in enumerate(shapes)
    ]
    total = float(sum(math.prod(s) for s in shapes))
    done = 0.0
    all_ranges: list[np.ndarray] = []
    for level, (array, shape) in enumerate(zip(arrays, shapes, strict=True)):
        nz, ny, nx = shape
        ranges = np.zeros((-(-nz // brick), -(-ny // brick), -(-nx // brick), 2))
        below = source if level == 0 else arrays[level - 1]
        for z0 in range(0, nz, brick):
            for y0 in range(0, ny, brick):
                z1, y1 = min(z0 + brick, nz), min(y0 + brick, ny)
                if level == 0:
                    tile = np.asarray(below[z0:z1, y0:y1, :]).astype(dtype, copy=False)
                else:
                    tile = _halve(np.asarray(below[2 * z0:2 * z1, 2 * y0:2 * y1, :]), reduce, dtype)[:, :, :nx]
                array[z0:z1, y0:y1, :] = tile
                if level == 0:
                    _record_ranges(ranges, tile, z0, y0, brick)
                done += tile.size
                if progress is not None:
                    progress(done / total, f"level {level} of {len(shapes) - 1}")
        if level:
            # A coarse brick's range spans its children's (the finer values its averages hide), so a
            # brick the transfer function hides has nothing to show at any level below it either.
            ranges = _union_of_children(all_ranges[-1], ranges.shape)
        all_ranges.append(ranges)
    ranges_group = group.create_group(RANGES_GROUP)
    for level, ranges in enumerate(all_ranges):
        ranges_group.create_array(str(level), data=ranges, chunks=ranges.shape)
    group.attrs.update(_attributes(data, shapes, all_ranges, brick, reduce))
    return target


def _attributes(
    data: VolumeData, shapes: list[tuple[int, int, int]], ranges: list[np.ndarray], brick: int, reduce: str
) -> dict[str, Any]:
    matrix = np.asarray(data.index_to_world, dtype=np.float64)
    spacing = np.linalg.norm(matrix[:3, :3], axis=0)  # x, y, z
    origin = matrix[:3, 3]
    datasets = []
    for level in range(len(shapes)):
        factor = 2**level
        datasets.append({
            "path": str(level),
            "coordinateTransformations": [
                {"type": "scale", "scale": [float(s * factor) for s in spacing[::-1]]},
                {"type": "translation", "translation": [float(o + s * (factor - 1) / 2.0)
                                                        for o, s in zip(origin[::-1], spacing[::-1], strict=True)]},
            ],
        })
    unit = {"mm": "millimeter", "um": "micrometer", "m": "meter"}.get(data.units)
    axes = [{"name": n, "type": "space", **({"unit": unit} if unit else {})} for n in ("z", "y", "x")]
    low, high = float(ranges[0][..., 0].min()), float(ranges[0][..., 1].max())
    ome: dict[str, Any] = {
        "version": "0.5",
        "multiscales": [{"name": Path(data.source).name, "axes": axes, "datasets": datasets,
                         "type": "max" if reduce == "max" else "mean"}],
    }
    if data.window is not None:
        start, end = data.window
        ome["omero"] = {"channels": [{"window": {"start": start, "end": end, "min": low, "max": high}}]}
    return {
        "ome": ome,
        "remoteviz": {
            "brick": brick, "reduce": reduce, "data_range": [low, high], "units": data.units,
            "modality": data.modality, "index_to_world": matrix.tolist(),
        },
    }


def stored_attributes(group: Any) -> dict[str, Any] | None:
    """A store's ``remoteviz`` attributes (None for stores written by other tools)."""
    value = dict(group.attrs).get("remoteviz")
    return value if isinstance(value, dict) else None


def brick_ranges(group: Any, level: int) -> np.ndarray | None:
    """The per-brick ``(min, max)`` of a level written by :func:`write_pyramid`, or None."""
    try:
        return np.asarray(group[f"{RANGES_GROUP}/{level}"][...], dtype=np.float64)
    except KeyError:
        return None
