"""The octree of bricks and each frame's choice among them, without OpenGL: children cover their
parent, a distant view wants coarse bricks and a near one fine bricks, the GPU budget caps the
cut, bricks outside the view or hidden by the transfer function are left out, and what is drawn
covers the volume once while missing bricks are asked for coarse first."""

from __future__ import annotations

import numpy as np

from remoteviz.readers.pyramid_store import level_shapes, level_transform
from remoteviz.rendering.brick_pyramid import BrickPyramid
from remoteviz.rendering.brick_selection import BrickView, select_bricks
from remoteviz.rendering.math3d import perspective_matrix

N, BRICK = 256, 32


def pyramid() -> BrickPyramid:
    shapes = level_shapes((N, N, N), BRICK)  # 256, 128, 64, 32
    return BrickPyramid(shapes, [level_transform(np.eye(4), 2**level) for level in range(len(shapes))], BRICK)


def view_from(distance: float, pixels: int = 720) -> BrickView:
    """A camera on the +z axis looking at the volume's centre from ``distance`` voxels away."""
    to_view = np.eye(4)
    to_view[:3, 3] = (-(N - 1) / 2.0, -(N - 1) / 2.0, -(N - 1) / 2.0 - distance)
    projection = perspective_matrix(0.4, 0.4, 1.0, 100_000.0)
    return BrickView(to_view, projection @ to_view, float(projection[1, 1]) * pixels / 2.0, False)


def volume_box(bricks) -> float:
    """The level-0 voxels the bricks' boxes cover together."""
    p = pyramid()
    return sum(float(np.prod(p.place(k).box_hi - p.place(k).box_lo)) for k in bricks)


def test_children_tile_their_parent_exactly():
    p = pyramid()
    for key in [(3, 0, 0, 0), (2, 1, 0, 1), (1, 3, 2, 1)]:
        parent = p.place(key)
        children = [p.place(c) for c in p.children(key)]
        assert len(children) == 8
        assert np.allclose(np.min([c.box_lo for c in children], axis=0), parent.box_lo)
        assert np.allclose(np.max([c.box_hi for c in children], axis=0), parent.box_hi)
        assert np.isclose(sum(np.prod(c.box_hi - c.box_lo) for c in children), np.prod(parent.box_hi - parent.box_lo))
        assert all(p.parent(c) == key for c in p.children(key))


def everything(_key) -> bool:
    return True


def test_a_near_view_wants_finer_bricks_than_a_far_one():
    p = pyramid()
    far = select_bricks(p, view_from(20_000.0), shown=everything, resident=everything, budget_bricks=10_000,
                        pixels_per_voxel=1.0)
    near = select_bricks(p, view_from(600.0), shown=everything, resident=everything, budget_bricks=10_000,
                         pixels_per_voxel=1.0)
    assert far.drawn == [(3, 0, 0, 0)] and far.complete
    assert min(k[0] for k in near.drawn) == 0 and near.complete
    # Either way the bricks drawn cover the whole volume exactly once.
    assert np.isclose(volume_box(near.drawn), N**3) and np.isclose(volume_box(far.drawn), N**3)


def test_the_budget_caps_the_bricks_wanted():
    p = pyramid()
    chosen = select_bricks(p, view_from(600.0), shown=everything, resident=everything, budget_bricks=40,
                           pixels_per_voxel=1.0)
    assert len(chosen.drawn) <= 40 and np.isclose(volume_box(chosen.drawn), N**3)


def test_hidden_and_unseen_bricks_are_left_out():
    p = pyramid()
    # The transfer function shows only bricks with x >= 128: the other half is never drawn.
    right = select_bricks(p, view_from(600.0), shown=lambda k: p.place(k).box_hi[0] > 128.0,
                          resident=everything, budget_bricks=10_000, pixels_per_voxel=1.0)
    assert np.isclose(volume_box(right.drawn), N**3 / 2)
    # A camera inside the volume looking along -z sees nothing behind it.
    inside = view_from(-200.0)
    seen = select_bricks(p, inside, shown=everything, resident=everything, budget_bricks=10_000,
                         pixels_per_voxel=1.0)
    assert all(p.place(k).box_lo[2] < N - 1 - 200.0 + 1.0 for k in seen.drawn)


def test_missing_bricks_are_drawn_by_their_ancestor_and_asked_for_coarse_first():
    p = pyramid()
    resident = {key for level in (3, 2) for key in p.level_bricks(level)}
    chosen = select_bricks(p, view_from(600.0), shown=everything, resident=resident.__contains__,
                           budget_bricks=10_000, pixels_per_voxel=1.0)
    assert {k[0] for k in chosen.drawn} == {2} and np.isclose(volume_box(chosen.drawn), N**3)
    assert not chosen.complete
    ordered = sorted(chosen.requests, key=chosen.requests.__getitem__)
    levels = [k[0] for k in ordered]
    assert levels == sorted(levels, reverse=True) and levels[0] == 1 and 0 in levels
