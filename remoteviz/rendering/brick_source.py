"""A volume's levels cut into bricks: reading them, keeping them in host memory, loading them.

:class:`BrickSource` is what every renderer drawing one out-of-core volume shares: the octree
(:mod:`~remoteviz.rendering.brick_pyramid`), the level arrays it reads bricks from (converted to
a texture's dtype), the host cache (:mod:`~remoteviz.rendering.brick_cache`) with the coarsest
level pinned, the loader's threads (:mod:`~remoteviz.rendering.brick_loader`), the per-brick
value ranges a store keeps (or those found on loading), and reads at full resolution for picks
and slices, brick by brick.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from remoteviz.readers.volume_data import VolumeData
from remoteviz.rendering.brick_cache import HostBrickCache
from remoteviz.rendering.brick_loader import BrickLoader
from remoteviz.rendering.brick_pyramid import BrickKey, BrickPyramid

DEFAULT_BRICK = 64
"""Brick side for sources whose chunks do not suggest one."""

TEXTURE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))
"""Voxel types bricks keep as they are; others become float32."""


def _brick_size(level0: Any) -> int:
    chunks = getattr(level0, "chunks", None)
    if isinstance(chunks, tuple) and len(chunks) == 3 and len(set(chunks)) == 1 and 8 <= int(chunks[0]) <= 256:
        return int(chunks[0])
    return DEFAULT_BRICK


def _stored(source: str, count: int) -> tuple[list[np.ndarray | None], tuple[float, float] | None]:
    """Per-level brick ranges and the data range of a store :func:`write_pyramid` wrote, if it is one."""
    if not (Path(source) / "zarr.json").is_file():
        return [None] * count, None
    import zarr

    from remoteviz.readers.pyramid_store import brick_ranges, stored_attributes

    try:
        group = zarr.open_group(source, mode="r")
    except Exception:  # not a group: a plain array
        return [None] * count, None
    attributes = stored_attributes(group) or {}
    data_range = attributes.get("data_range")
    whole = (float(data_range[0]), float(data_range[1])) if isinstance(data_range, list) and len(data_range) == 2 else None
    return [brick_ranges(group, level) for level in range(count)], whole


class BrickSource:
    """A volume's levels cut into bricks: reads them, caches them on the host, loads them in the
    background; shared by every renderer drawing the volume."""

    def __init__(self, data: VolumeData, host_budget: int, brick: int | None = None) -> None:
        self.levels = data.levels
        self.label = data.source
        self.pyramid = BrickPyramid([level.shape for level in data.levels], data.transforms,
                                    brick or _brick_size(data.levels[0]))
        stored = np.dtype(data.levels[0].dtype)
        self.dtype = stored if stored in TEXTURE_DTYPES else np.dtype(np.float32)
        self.brick_bytes = self.pyramid.brick**3 * self.dtype.itemsize
        self._ranges, self.stored_range = _stored(data.source, len(data.levels))
        self._found: dict[BrickKey, tuple[float, float]] = {}  # level-0 ranges seen on loading
        self.cache = HostBrickCache(host_budget)
        self._listeners: list[Callable[[], None]] = []
        self.arrivals = 0
        """Bricks put in the host cache so far (a frame compares it before and after drawing)."""
        coarsest = self.pyramid.level_bricks(self.pyramid.coarsest)
        if len(coarsest) * self.brick_bytes > host_budget // 2:
            raise ValueError(
                f"{data.source}: its coarsest level takes {len(coarsest) * self.brick_bytes / 1e6:.1f} MB, more than "
                f"half the {host_budget / 1e6:.1f} MB host budget: convert it into a pyramid (remoteviz convert)"
            )
        for key in coarsest:
            self.cache.put(key, self.read(key), pinned=True)
        self.loader = BrickLoader(self.read, self._put, self._arrived)

    def read(self, key: BrickKey) -> np.ndarray:
        """Read one brick from its level (the texture's dtype, C-contiguous)."""
        place = self.pyramid.place(key)
        (x0, y0, z0), (x1, y1, z1) = place.lo, place.hi
        brick = np.ascontiguousarray(np.asarray(self.levels[key[0]][z0:z1, y0:y1, x0:x1]), dtype=self.dtype)
        if brick.dtype.kind == "f" and not np.isfinite(brick).all():
            brick = np.nan_to_num(brick, nan=0.0, posinf=0.0, neginf=0.0)
        return brick

    def _put(self, key: Any, brick: np.ndarray) -> None:
        if key[0] == 0 and self._ranges[0] is None:
            self._found[key] = (float(brick.min()), float(brick.max()))
        self.cache.put(key, brick)
        self.arrivals += 1

    def _arrived(self) -> None:
        for listener in tuple(self._listeners):
            listener()

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (on a loader thread) whenever a brick arrives."""
        self._listeners.append(callback)

    def value_range(self, key: BrickKey) -> tuple[float, float] | None:
        """What the brick's values, and those of every brick below it, can be; None when unknown."""
        ranges = self._ranges[key[0]]
        if ranges is not None:
            low, high = ranges[key[1], key[2], key[3]]
            return float(low), float(high)
        return self._found.get(key)

    def coarsest_range(self) -> tuple[float, float]:
        """The minimum and maximum of the coarsest level (read when the source was made)."""
        bricks = [self.cache.get(k) for k in self.pyramid.level_bricks(self.pyramid.coarsest)]
        present = [b for b in bricks if b is not None]
        return min(float(b.min()) for b in present), max(float(b.max()) for b in present)

    def first_at_or_above(self, voxels: np.ndarray, threshold: float) -> tuple[int, float] | None:
        """Of level-0 voxels ``(N, 3)`` (i, j, k) in ray order, the first whose value is at or
        above ``threshold``, and its value; reads only the bricks the voxels fall in and whose
        range may reach the threshold."""
        if not len(voxels):
            return None
        bricks = self.pyramid.brick_of(voxels)
        breaks = np.flatnonzero(np.any(np.diff(bricks, axis=0) != 0, axis=1)) + 1
        for start, end in zip([0, *breaks.tolist()], [*breaks.tolist(), len(voxels)], strict=True):
            key: BrickKey = (0, *(int(v) for v in bricks[start]))  # type: ignore[assignment]
            known = self.value_range(key)
            if known is not None and known[1] < threshold:
                continue
            brick = self.cache.get(key)
            if brick is None:
                brick = self.read(key)
            lo = np.array(self.pyramid.place(key).lo)
            local = voxels[start:end] - lo
            values = brick[local[:, 2], local[:, 1], local[:, 0]]
            above = np.flatnonzero(values >= threshold)
            if len(above):
                return start + int(above[0]), float(values[above[0]])
        return None

    def voxel_values(self, z: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Level-0 values at integer voxel indices, reading only the bricks they fall in (through
        the host cache)."""
        voxels = np.stack([np.asarray(x), np.asarray(y), np.asarray(z)], axis=-1).reshape(-1, 3).astype(np.int64)
        values = np.zeros(len(voxels), np.float64)
        bricks = self.pyramid.brick_of(voxels)
        found, which = np.unique(bricks, axis=0, return_inverse=True)
        for number, (bz, by, bx) in enumerate(found.tolist()):
            key: BrickKey = (0, bz, by, bx)
            brick = self.cache.get(key)
            if brick is None:
                brick = self.read(key)
                self._put(key, brick)
            chosen = which.reshape(-1) == number
            local = voxels[chosen] - np.array(self.pyramid.place(key).lo)
            values[chosen] = brick[local[:, 2], local[:, 1], local[:, 0]]
        return values.reshape(np.shape(z))

    def close(self) -> None:
        """Stop loading."""
        self.loader.close()


class FullResolution:
    """A source's level 0 as :func:`~remoteviz.rendering.slices.sample_trilinear` reads it: a
    shape, and values at arrays of z, y and x indices, read brick by brick."""

    def __init__(self, source: BrickSource) -> None:
        self._source = source

    @property
    def shape(self) -> tuple[int, int, int]:
        """Level 0's ``(z, y, x)``."""
        x, y, z = self._source.pyramid.shapes[0]
        return z, y, x

    def __getitem__(self, key: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        return self._source.voxel_values(*key)
