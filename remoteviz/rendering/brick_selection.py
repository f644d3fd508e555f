"""Which bricks a frame draws and which it asks for: the screen-space error cut of the octree.

Each frame starts from the coarsest level's bricks and splits, largest error first, every brick
whose voxels cover more than ``pixels_per_voxel`` pixels on screen (at the brick's nearest
point) into its children, as long as the bricks chosen fit the GPU budget; bricks outside the
view frustum or holding only values the transfer function hides are left out. That is the
*wanted* cut. What is drawn is, for each wanted brick, the brick itself when it is on the GPU,
else its nearest ancestor that is (the coarsest level always is), so the picture is whole at
once and sharpens as bricks arrive; the bricks missing on the way down are requested, coarse
levels first, then by screen error.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from remoteviz.rendering.brick_pyramid import BrickKey, BrickPyramid

Priority = tuple[float, float]
"""Sorts first what to load first: ``(-level, -screen error)``."""


@dataclass(frozen=True, slots=True)
class BrickView:
    """The camera as the selection needs it, in level-0 index units.

    ``to_view`` takes level-0 indices to view coordinates, ``to_clip`` on to clip coordinates;
    ``pixels_per_unit`` is how many pixels one view unit covers at distance 1 (perspective) or
    anywhere (orthographic).
    """

    to_view: np.ndarray
    to_clip: np.ndarray
    pixels_per_unit: float
    orthographic: bool


@dataclass(slots=True)
class Selection:
    """A frame's bricks: ``drawn`` (on the GPU, covering the volume without overlap) and
    ``requests`` (missing bricks with their priority); ``complete`` when nothing is missing."""

    drawn: list[BrickKey] = field(default_factory=list)
    requests: dict[BrickKey, Priority] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Whether every wanted brick was drawn."""
        return not self.requests


def _corners(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The 8 corners of each box, ``(N, 8, 3)``."""
    pick = np.array([(x, y, z) for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=bool)
    return np.where(pick[None], hi[:, None, :], lo[:, None, :])


def assess(pyramid: BrickPyramid, keys: list[BrickKey], view: BrickView) -> tuple[np.ndarray, np.ndarray]:
    """For each brick, whether it is in the view frustum, and its screen error (pixels per voxel)."""
    if not keys:
        return np.zeros(0, bool), np.zeros(0)
    places = [pyramid.place(k) for k in keys]
    lo = np.array([p.box_lo for p in places])
    hi = np.array([p.box_hi for p in places])
    corners = _corners(lo, hi)
    homogeneous = np.concatenate([corners, np.ones(corners.shape[:2] + (1,))], axis=-1)
    clip = homogeneous @ view.to_clip.T
    w = clip[..., 3:4]
    outside = (clip[..., :3] < -w).all(axis=1) | (clip[..., :3] > w).all(axis=1)
    inside = ~outside.any(axis=1)
    # One voxel of the brick's level, as long as it is along its longest view-space axis.
    axis_lengths = np.linalg.norm(view.to_view[:3, :3], axis=0)
    voxel = np.array([float((pyramid.voxel_size(k[0]) * axis_lengths).max()) for k in keys])
    if view.orthographic:
        return inside, voxel * view.pixels_per_unit
    centre_view = ((lo + hi) / 2.0) @ view.to_view[:3, :3].T + view.to_view[:3, 3]
    radius = np.linalg.norm(((hi - lo) / 2.0) * axis_lengths, axis=1)
    distance = np.maximum(np.linalg.norm(centre_view, axis=1) - radius, 1e-6 * (1.0 + radius))
    return inside, voxel * view.pixels_per_unit / distance


def select_bricks(
    pyramid: BrickPyramid,
    view: BrickView,
    *,
    shown: Callable[[BrickKey], bool],
    resident: Callable[[BrickKey], bool],
    budget_bricks: int,
    pixels_per_voxel: float,
) -> Selection:
    """The bricks to draw this frame and those to load (see the module description)."""
    roots = pyramid.level_bricks(pyramid.coarsest)
    inside, errors = assess(pyramid, roots, view)
    wanted: dict[BrickKey, float] = {}
    heap: list[tuple[float, BrickKey]] = []
    for key, seen, error in zip(roots, inside, errors, strict=True):
        if seen and shown(key):
            wanted[key] = float(error)
            if key[0] > 0 and error > pixels_per_voxel:
                heap.append((-float(error), key))
    heapq.heapify(heap)
    while heap:
        _, key = heapq.heappop(heap)
        children = pyramid.children(key)
        inside, errors = assess(pyramid, children, view)
        kept = [(c, float(e)) for c, seen, e in zip(children, inside, errors, strict=True) if seen and shown(c)]
        if len(wanted) - 1 + len(kept) > budget_bricks:
            continue  # a smaller split may still fit
        del wanted[key]
        for child, error in kept:
            wanted[child] = error
            if child[0] > 0 and error > pixels_per_voxel:
                heapq.heappush(heap, (-error, child))
    return _plan(pyramid, wanted, resident)


def _plan(pyramid: BrickPyramid, wanted: dict[BrickKey, float], resident: Callable[[BrickKey], bool]) -> Selection:
    selection = Selection()
    drawn: set[BrickKey] = set()
    for key, error in wanted.items():
        missing: list[BrickKey] = []
        current: BrickKey | None = key
        while current is not None and not resident(current):
            missing.append(current)
            current = pyramid.parent(current)
        if current is not None:
            drawn.add(current)
        for brick in missing:
            priority = (-float(brick[0]), -error)
            if brick not in selection.requests or priority < selection.requests[brick]:
                selection.requests[brick] = priority
    for key in drawn:
        ancestor = pyramid.parent(key)
        while ancestor is not None and ancestor not in drawn:
            ancestor = pyramid.parent(ancestor)
        if ancestor is None:  # no ancestor drawn covers it already
            selection.drawn.append(key)
    return selection
