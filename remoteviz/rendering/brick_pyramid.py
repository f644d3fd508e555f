"""Where the bricks of a multi-resolution volume sit: the octree over its levels.

Level 0 is the full resolution; each coarser level halves some axes (or keeps them, as pyramids
that do not downsample z do). Every level is cut into bricks of ``brick`` voxels a side at the
same grid, so a brick of level ``L`` covers exactly the bricks of level ``L - 1`` below it, its
children (1, 2, 4 or 8). Boxes and texture mappings are given in level-0 voxel index units
(``(i, j, k)``, x first), where voxel centres of level 0 sit at whole numbers and the volume's
box runs from -0.5 to ``n - 0.5``.

A brick's texture holds its own voxels and no neighbour's: across the one-voxel band at a seam
between two bricks the sampler clamps to each side's outer voxel instead of interpolating
between them (a brick that shared its neighbours' border voxels would read up to 27 zarr chunks
instead of one).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BrickKey = tuple[int, int, int, int]
"""``(level, z, y, x)``: a brick's level and its position in that level's brick grid."""


@dataclass(frozen=True, slots=True)
class BrickPlace:
    """One brick: the level voxels its texture holds (``lo`` to ``hi``, x, y, z, ``hi`` excluded)
    and the box it draws, in level-0 index units (``box_lo`` to ``box_hi``)."""

    lo: tuple[int, int, int]
    hi: tuple[int, int, int]
    box_lo: np.ndarray
    box_hi: np.ndarray


class BrickPyramid:
    """The bricks of every level of a volume, from the levels' shapes and index-to-world matrices.

    Raises ``ValueError`` when a level is not the one below it coarsened by 1 or 2 along each
    axis (within a voxel): such pyramids cannot be drawn brick by brick and must be converted
    (``remoteviz convert``).
    """

    def __init__(self, shapes: Sequence[tuple[int, ...]], transforms: Sequence[np.ndarray], brick: int) -> None:
        if brick < 2:
            raise ValueError("bricks must be at least 2 voxels a side")
        self.brick = brick
        self.shapes = [tuple(int(n) for n in s[::-1]) for s in shapes]  # x, y, z
        to_level0 = np.linalg.inv(np.asarray(transforms[0], dtype=np.float64))
        self.factors: list[np.ndarray] = []  # level voxel size in level-0 voxels, x, y, z
        self.offsets: list[np.ndarray] = []  # level-0 index of the level's voxel 0
        for level, transform in enumerate(transforms):
            relative = to_level0 @ np.asarray(transform, dtype=np.float64)
            factor = np.diag(relative)[:3].copy()
            if not np.allclose(relative[:3, :3], np.diag(factor), atol=1e-6 * max(1.0, float(np.abs(factor).max()))):
                raise ValueError(f"level {level} is rotated against level 0")
            self.factors.append(factor)
            self.offsets.append(relative[:3, 3].copy())
            if level:
                ratio = factor / self.factors[level - 1]
                expected = -(-np.array(self.shapes[level - 1]) // np.rint(ratio).clip(1, 2)).astype(int)
                if not np.allclose(ratio, np.rint(ratio), atol=1e-3) or not set(np.rint(ratio)) <= {1.0, 2.0} or \
                        (np.abs(np.array(self.shapes[level]) - expected) > 1).any():
                    raise ValueError(
                        f"level {level} is not the level below halved or kept along each axis "
                        f"(shape {self.shapes[level]}, ratio {ratio.round(3).tolist()}); convert the volume"
                    )
        self.ratios = [np.ones(3, int)] + [
            np.rint(self.factors[i] / self.factors[i - 1]).astype(int) for i in range(1, len(self.factors))
        ]
        self.grids = [tuple(-(-n // brick) for n in shape) for shape in self.shapes]  # bricks along x, y, z
        self.volume_lo = np.full(3, -0.5)
        self.volume_hi = np.array(self.shapes[0], dtype=np.float64) - 0.5

    @property
    def coarsest(self) -> int:
        """The coarsest level's number."""
        return len(self.shapes) - 1

    def level_bricks(self, level: int) -> list[BrickKey]:
        """Every brick of ``level``."""
        nx, ny, nz = self.grids[level]
        return [(level, z, y, x) for z in range(nz) for y in range(ny) for x in range(nx)]

    def place(self, key: BrickKey) -> BrickPlace:
        """Where ``key`` sits (see :class:`BrickPlace`)."""
        level, z, y, x = key
        cell = np.array([x, y, z])
        lo = cell * self.brick
        hi = np.minimum(lo + self.brick, self.shapes[level])
        factor, offset = self.factors[level], self.offsets[level]
        box_lo = np.maximum(factor * (lo - 0.5) + offset, self.volume_lo)
        box_hi = np.minimum(factor * (hi - 0.5) + offset, self.volume_hi)
        return BrickPlace(tuple(int(v) for v in lo), tuple(int(v) for v in hi), box_lo, box_hi)  # type: ignore[arg-type]

    def texture_mapping(self, key: BrickKey) -> tuple[np.ndarray, np.ndarray]:
        """``(origin, extent)`` in level-0 index units: texture coordinate = (p - origin) / extent."""
        place = self.place(key)
        factor, offset = self.factors[key[0]], self.offsets[key[0]]
        lo, size = np.array(place.lo), np.subtract(place.hi, place.lo)
        return factor * (lo - 0.5) + offset, factor * size

    def children(self, key: BrickKey) -> list[BrickKey]:
        """The bricks of the level below that ``key`` covers (none on level 0)."""
        level, z, y, x = key
        if level == 0:
            return []
        rx, ry, rz = self.ratios[level]
        gx, gy, gz = self.grids[level - 1]
        return [
            (level - 1, cz, cy, cx)
            for cz, cy, cx in itertools.product(range(z * rz, min(z * rz + rz, gz)),
                                                range(y * ry, min(y * ry + ry, gy)),
                                                range(x * rx, min(x * rx + rx, gx)))
        ]

    def parent(self, key: BrickKey) -> BrickKey | None:
        """The brick of the level above covering ``key`` (None on the coarsest level)."""
        level, z, y, x = key
        if level == self.coarsest:
            return None
        rx, ry, rz = self.ratios[level + 1]
        return (level + 1, z // rz, y // ry, x // rx)

    def voxel_size(self, level: int) -> np.ndarray:
        """A voxel of ``level`` in level-0 voxels along x, y and z."""
        return self.factors[level]

    def brick_of(self, voxel: np.ndarray) -> np.ndarray:
        """The level-0 brick ``(z, y, x)`` holding each level-0 voxel ``(N, 3)`` (i, j, k)."""
        return (np.asarray(voxel)[:, ::-1] // self.brick).astype(np.int64)
