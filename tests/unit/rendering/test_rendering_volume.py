"""Volumes and slices rendered with real OpenGL and compared with numpy: a sphere's disc, MIP of
a known maximum, isosurfaces, bricking, the memory budget, slices through the colour map,
transfer functions from messages, and picking the first voxel above a threshold."""

from __future__ import annotations

import gc
import json
import math

import numpy as np
import pytest

from remoteviz.rendering import (
    ClipPlane,
    Material,
    Mesh,
    ObliqueSlice,
    OrthoSlice,
    TransferFunction,
    Volume,
    VolumeMemoryError,
    VolumeMode,
)
from remoteviz.rendering.slices import sample_trilinear
from remoteviz.rendering.volume import TABLE_SIZE, brick_layout

from .scenes import H, W, examiner, pixel_centres, render

RED_RAMP = TransferFunction.from_points([(0.0, 1.0, 0.0, 0.0, 0.0), (1.0, 1.0, 0.0, 0.0, 1.0)])
OPAQUE_GREY = TransferFunction.from_points([(0.0, 0.0, 0.0, 0.0, 1.0), (1.0, 1.0, 1.0, 1.0, 1.0)])


def sphere_volume(n: int = 64, radius: float = 20.0, dtype=np.uint8) -> np.ndarray:
    """A ball of value 255 (antialiased over one voxel) centred in an ``n``-cube, 0 outside."""
    k, j, i = np.mgrid[:n, :n, :n]
    c = (n - 1) / 2.0
    distance = np.sqrt((i - c) ** 2 + (j - c) ** 2 + (k - c) ** 2)
    return (np.clip(radius - distance + 0.5, 0.0, 1.0) * 255).astype(dtype)


def centred(volume: Volume) -> Volume:
    """Place a volume so that its box is centred on the origin."""
    nz, ny, nx = volume.data.shape
    spacing = np.asarray(volume.spacing)
    volume.origin = -(np.array([nx, ny, nz]) - 1) / 2.0 * spacing
    return volume


def red_mask(image: np.ndarray) -> np.ndarray:
    return (image[..., 0] > 128) & (image[..., 1] < 60) & (image[..., 2] < 60)


def disc(radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixels surely inside and surely outside a disc of ``radius`` at the view's centre."""
    x, y = pixel_centres()
    distance = np.hypot(x, y)
    return distance < radius - 1.5, distance > radius + 1.5


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_a_sphere_volume_shows_a_disc_of_its_radius_and_colour(make_manager, dtype):
    data = sphere_volume(dtype=dtype)
    volume = centred(Volume(data, transfer_function=RED_RAMP, data_range=(0, 255)))
    image = render(make_manager(), examiner([volume]))
    inside, outside = disc(20.0)
    mask = red_mask(image)
    assert mask[inside].all() and not mask[outside].any()
    # Opaque red inside: early termination stops the ray once the ball is solid.
    assert (np.abs(image[inside] - (255, 0, 0)) <= 3).all()


def test_spacing_scales_the_volume(make_manager):
    volume = centred(Volume(sphere_volume(n=32, radius=10.0), spacing=(2.0, 2.0, 2.0), transfer_function=RED_RAMP))
    image = render(make_manager(), examiner([volume]))
    inside, outside = disc(20.0)
    mask = red_mask(image)
    assert mask[inside].all() and not mask[outside].any()


def test_mip_shows_each_rays_known_maximum(make_manager):
    rng = np.random.default_rng(3)
    data = rng.integers(0, 60, (16, 12, 20), dtype=np.uint8)  # (nz, ny, nx)
    maximum = rng.integers(80, 256, (12, 20)).astype(np.uint8)
    depth = rng.integers(2, 13, (12, 20))
    for j in range(12):
        for i in range(20):
            # A plateau three voxels deep, so that samples between voxels see the maximum too.
            data[depth[j, i] - 1 : depth[j, i] + 2, j, i] = maximum[j, i]
    # 5 pixels per voxel: pixel rows and columns at voxel centres see one column of voxels.
    volume = centred(Volume(data, spacing=(5.0, 5.0, 5.0), mode=VolumeMode.MIP, transfer_function=OPAQUE_GREY, data_range=(0, 255)))
    image = render(make_manager(), examiner([volume]))
    columns = W // 2 - 50 + 2 + 5 * np.arange(20)  # the pixels at voxel centres
    rows = H // 2 + 30 - 3 - 5 * np.arange(12)  # voxel row 0 is at the bottom (y up)
    shown = image[rows[:, None], columns[None, :], 0]
    np.testing.assert_allclose(shown, maximum, atol=2)


def test_the_isosurface_mode_shades_the_sphere(make_manager):
    volume = centred(Volume(sphere_volume(), mode=VolumeMode.ISOSURFACE, iso_value=128, transfer_function=RED_RAMP))
    image = render(make_manager(), examiner([volume]))
    inside, outside = disc(20.0)
    red = image[..., 0]
    assert (red[inside] > 50).all() and (red[outside] == 0).all()
    # Facing the headlight at the centre, turning away towards the rim: darker outwards.
    assert red[H // 2, W // 2] > 240 and red[H // 2, W // 2 + 17] < red[H // 2, W // 2] - 60


def test_interactive_frames_take_fewer_samples_and_look_alike(make_manager):
    data = sphere_volume()
    soft = TransferFunction.from_points([(0.0, 1.0, 0.0, 0.0, 0.0), (1.0, 1.0, 0.0, 0.0, 0.05)])
    volume = centred(Volume(data, transfer_function=soft, samples_per_voxel=4.0, interactive_samples_per_voxel=0.5))
    manager = make_manager()
    root = examiner([volume])
    still = render(manager, root)
    moving = render(manager, root, interactive=True)
    assert not np.array_equal(still, moving)  # a different sampling
    # Opacity is corrected for the step: the two pictures agree to a few levels.
    assert np.abs(still - moving)[..., 0].mean() < 3
    x, y = pixel_centres()
    path = 2.0 * np.sqrt(np.clip(20.0**2 - x**2 - y**2, 0.0, None))  # voxels crossed in the ball
    expected = 255.0 * (1.0 - (1.0 - 0.05) ** path)
    middle = np.hypot(x, y) < 17
    np.testing.assert_allclose(still[..., 0][middle], expected[middle], atol=10)


def test_bricks_draw_the_same_picture_as_one_texture(make_manager):
    data = sphere_volume(n=40, radius=15.0)
    soft = TransferFunction.from_points([(0.0, 1.0, 0.0, 0.0, 0.0), (1.0, 1.0, 0.5, 0.0, 0.1)])
    whole = centred(Volume(data, transfer_function=soft))
    bricked = centred(Volume(data, transfer_function=soft, brick_size=12))
    manager = make_manager()
    one = render(manager, examiner([whole]))
    many = render(manager, examiner([bricked]))
    assert len(manager_bricks(bricked)) == 4**3
    assert np.abs(one - many).max() <= 1  # the layer between bricks is a 16-bit float


def manager_bricks(volume: Volume) -> list:
    return brick_layout(volume.data.shape[::-1], volume.brick_size)


def test_brick_layout_covers_every_voxel_once_with_shared_borders():
    bricks = brick_layout((10, 7, 3), 5)
    cells = np.zeros((10, 7, 3), int)
    for brick in bricks:
        assert all(h - lo <= 5 for lo, h in zip(brick.lo, brick.hi))
        lo = np.ceil(np.add(brick.box_lo, 0.5)).astype(int)
        hi = np.ceil(np.add(brick.box_hi, 0.5)).astype(int)
        cells[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] += 1
        # The texture reaches one voxel beyond the drawn box inside the volume.
        assert all(t <= max(b + 0.5 - 1, 0) for t, b in zip(brick.lo, brick.box_lo))
    assert (cells == 1).all()


def test_a_volume_over_the_memory_budget_is_refused_with_a_clear_error(make_manager, monkeypatch):
    monkeypatch.setattr(Volume, "memory_budget", 100_000)
    manager = make_manager()
    small = Volume(np.zeros((40, 40, 40), np.uint8))  # 64 kB: fits
    render(manager, examiner([small]))
    big = Volume(np.zeros((40, 40, 40), np.uint8))  # another 64 kB: over the budget together
    with pytest.raises(VolumeMemoryError, match=r"needs 0\.1 MB .* Volume\.memory_budget"):
        render(manager, examiner([small, big]))
    manager.scene_graph = None
    del small
    gc.collect()  # the traceback's frames held the first volume
    render(manager, examiner([big]))  # the first one's textures were freed with it


def test_a_clip_plane_cuts_the_volume(make_manager):
    volume = centred(Volume(sphere_volume(), transfer_function=RED_RAMP))
    image = render(make_manager(), examiner([ClipPlane(normal=(0.0, 1.0, 0.0), offset=5.0), volume]))
    inside, outside = disc(20.0)
    _, y = pixel_centres()
    mask = red_mask(image)
    assert mask[inside & (y > 6)].all() and not mask[outside | (y < 4)].any()


def test_picking_a_volume_finds_the_first_voxel_above_the_threshold(make_manager):
    data = np.zeros((30, 20, 20), np.uint8)  # (nz, ny, nx)
    data[10:14, 5:15, 5:15] = 200  # behind
    data[20:22, 8:12, 8:12] = 120  # in front (the camera looks down -z), below the threshold
    data[16:18, 5:15, 5:15] = 180  # in front of the first block
    volume = Volume(data, spacing=(2.0, 2.0, 2.0), origin=(-19.0, -19.0, -29.0), pick_threshold=150)
    manager = make_manager()
    manager.scene_graph = examiner([volume])
    picked = manager.pick(W // 2, H // 2, W, H)
    assert picked.node is volume and picked.value == 180.0
    assert picked.voxel == (17, 9, 10) and data[picked.voxel] == 180
    assert picked.point[2] == pytest.approx(-29.0 + 17.5 * 2.0, abs=0.6)  # the block's front face
    volume.pick_threshold = 190
    assert manager.pick(W // 2, H // 2, W, H).value == 200.0
    assert manager.pick(2, 2, W, H) is None


def test_the_default_pick_threshold_is_what_the_transfer_function_shows():
    tf = TransferFunction.from_points([(0.0, 0, 0, 0, 0), (0.5, 0, 0, 0, 0), (1.0, 1, 1, 1, 1)])
    volume = Volume(np.zeros((2, 2, 2), np.uint8), transfer_function=tf, data_range=(0, 100))
    assert volume.effective_pick_threshold() == pytest.approx(50.0, abs=0.5)
    volume.mode = VolumeMode.ISOSURFACE
    volume.iso_value = 70
    assert volume.effective_pick_threshold() == 70


def test_changing_the_transfer_function_keeps_the_voxels_on_the_gpu(make_manager):
    from remoteviz.rendering.renderer import Renderer

    volume = centred(Volume(sphere_volume(), transfer_function=RED_RAMP))
    manager = make_manager()
    root = examiner([volume])
    before = render(manager, root)
    # The renderer's cache of GPU copies is what is under test here.
    textures = list(Renderer.shared()._cache[volume].gpu.bricks)
    volume.transfer_function = TransferFunction.preset("ct")
    after = render(manager, root)
    assert Renderer.shared()._cache[volume].gpu.bricks == textures
    assert not np.array_equal(before, after)
    volume.data_changed()
    render(manager, root)
    assert Renderer.shared()._cache[volume].gpu.bricks != textures


# ------------------------------------------------------------------ transfer functions


def test_a_transfer_function_knows_which_value_ranges_it_shows():
    tf = TransferFunction.from_points([(0.0, 0, 0, 0, 0), (0.5, 0, 0, 0, 0), (0.6, 1, 1, 1, 1), (1.0, 1, 1, 1, 1)])
    assert not tf.visible_between(0.0, 0.45)  # a brick of these values is skipped
    assert tf.visible_between(0.45, 0.55) and tf.visible_between(0.9, 2.0)


def test_empty_bricks_are_skipped_and_the_picture_is_unchanged(make_manager):
    # Most bricks of a small ball in a large box hold nothing the transfer function shows.
    data = sphere_volume(n=60, radius=8.0)
    whole = centred(Volume(data, transfer_function=RED_RAMP))
    bricked = centred(Volume(data, transfer_function=RED_RAMP, brick_size=8))
    manager = make_manager()
    one = render(manager, examiner([whole]))
    many = render(manager, examiner([bricked]))
    from remoteviz.rendering.renderer import Renderer

    layout = brick_layout(data.shape[::-1], 8)
    holding = [b for b in layout if data[b.lo[2] : b.hi[2], b.lo[1] : b.hi[1], b.lo[0] : b.hi[0]].max() > 0]
    assert len(layout) == 1000 and Renderer.shared().bricks_drawn == len(holding) < 100
    assert np.abs(one - many).max() <= 1
    inside, outside = disc(8.0)
    assert red_mask(many)[inside].all() and not red_mask(many)[outside].any()


def test_transfer_function_points_presets_and_opacity():
    tf = TransferFunction.from_points([(0.0, 0, 0, 0, 0), (1.0, 1, 0.5, 0, 1)])
    np.testing.assert_allclose(tf(0.5), (0.5, 0.25, 0.0, 0.5), atol=1 / TABLE_SIZE)
    assert tf.with_opacity(0.5)(1.0)[3] == pytest.approx(0.5)
    for name in ("grey", "ct", "seismic"):
        assert TransferFunction.preset(name).table.shape == (TABLE_SIZE, 4)
    seismic = TransferFunction.preset("seismic")
    assert seismic(0.5)[3] == 0.0 and seismic(0.0)[2] > 0.5 and seismic(1.0)[0] > 0.5
    with pytest.raises(ValueError, match="increasing"):
        TransferFunction.from_points([(0.5, 0, 0, 0, 0), (0.2, 0, 0, 0, 0)])
    with pytest.raises(ValueError, match="unknown"):
        TransferFunction.preset("mri")


def test_transfer_functions_from_messages_are_checked():
    tf = TransferFunction.from_message(json.dumps({"preset": "ct", "opacity": 0.5}))
    np.testing.assert_allclose(tf.table[:, 3], TransferFunction.preset("ct").table[:, 3] * 0.5, atol=1e-6)
    points = TransferFunction.from_message(json.dumps({"points": [[0, 0, 0, 0, 0], [1, 1, 1, 1, 1]]}))
    assert points(1.0)[3] == pytest.approx(1.0)
    for bad in ["not json", "[1, 2]", '{"points": 3}', '{"points": [[0, 1]]}', '{"preset": "x"}',
                '{"opacity": 7}', '{"points": [[0, 2, 0, 0, 0]]}', "x" * 70000]:
        with pytest.raises(ValueError):
            TransferFunction.from_message(bad)


# ------------------------------------------------------------------ slices


def test_an_ortho_slice_equals_the_arrays_plane_through_the_colour_map(make_manager):
    rng = np.random.default_rng(5)
    data = rng.integers(0, 256, (6, 8, 10), dtype=np.uint8)  # (nz, ny, nx)
    volume = Volume(data, spacing=(10.0, 10.0, 10.0), origin=(-45.0, -35.0, -25.0))
    colormap = TransferFunction.preset("seismic")
    ortho = OrthoSlice.of_volume(volume, axis="z", index=3, colormap=colormap, nearest=True, window=200.0, level=120.0)
    manager = make_manager()
    image = render(manager, examiner([ortho]))
    columns = W // 2 - 50 + 5 + 10 * np.arange(10)
    rows = H // 2 + 40 - 5 - 10 * np.arange(8)
    shown = image[rows[:, None], columns[None, :]]
    low, high = 120.0 - 100.0, 120.0 + 100.0
    expected = colormap(np.clip((data[3].astype(float) - low) / (high - low), 0.0, 1.0))[..., :3] * 255.0
    np.testing.assert_allclose(shown, expected, atol=2)
    picked = manager.pick(columns[4], rows[2], W, H)
    assert picked.node is ortho and picked.value == data[3, 2, 4]


@pytest.mark.parametrize("axis,index", [("x", 4), ("y", 2)])
def test_ortho_slices_along_x_and_y_hold_the_right_plane(axis, index):
    data = np.arange(6 * 8 * 10, dtype=np.float32).reshape(6, 8, 10)
    ortho = OrthoSlice(data, axis=axis, index=index)
    geometry = ortho.geometry
    expected = data[:, :, index] if axis == "x" else data[:, index, :]
    np.testing.assert_array_equal(geometry.values, expected)
    # The rectangle sits at the plane of voxel centres ``index`` along the axis.
    k = "xyz".index(axis)
    np.testing.assert_allclose(geometry.triangles.positions[:, k], index)


def test_window_and_level_redraw_the_slice(make_manager):
    data = np.full((4, 4, 4), 100, np.uint8)
    data[0, 0, 0] = 0
    data[0, 0, 1] = 200
    ortho = OrthoSlice(data, spacing=(20, 20, 20), origin=(-30, -30, -30), index=1)
    manager = make_manager()
    root = examiner([ortho])
    assert abs(render(manager, root)[H // 2, W // 2, 0] - 128) <= 2  # 100 is mid-range of 0..200
    ortho.level, ortho.window = 100.0, 50.0
    assert abs(render(manager, root)[H // 2, W // 2, 0] - 128) <= 2
    ortho.level = 60.0  # 100 is now above the window's top end (85): white
    assert render(manager, root)[H // 2, W // 2, 0] >= 254


def test_an_oblique_slice_resamples_any_plane(make_manager):
    rng = np.random.default_rng(7)
    data = rng.random((8, 8, 8)).astype(np.float32)
    flat = ObliqueSlice(data, point=(0.0, 0.0, 3.0), normal=(0.0, 0.0, 1.0), resolution=8)
    # A plane through voxel centres along z, sampled once per voxel, holds exactly that plane.
    np.testing.assert_allclose(flat.geometry.values, data[3], atol=1e-6)
    tilted = ObliqueSlice(data, point=(3.5, 3.5, 3.5), normal=(1.0, 1.0, 1.0), resolution=64)
    values = tilted.geometry.values
    assert np.isnan(values).any() and np.isfinite(values).mean() > 0.3  # the hexagonal cut
    index = np.array([[1.25, 2.5, 3.75]])
    expected = (
        data[3, 2, 1] * 0.75 * 0.5 * 0.25 + data[3, 2, 2] * 0.25 * 0.5 * 0.25
        + data[3, 3, 1] * 0.75 * 0.5 * 0.25 + data[3, 3, 2] * 0.25 * 0.5 * 0.25
        + data[4, 2, 1] * 0.75 * 0.5 * 0.75 + data[4, 2, 2] * 0.25 * 0.5 * 0.75
        + data[4, 3, 1] * 0.75 * 0.5 * 0.75 + data[4, 3, 2] * 0.25 * 0.5 * 0.75
    )
    assert sample_trilinear(data, index)[0] == pytest.approx(expected, rel=1e-6)
    # Drawn: the visible part shows grey levels, and what is outside the cut is not drawn.
    manager = make_manager()
    image = render(manager, examiner([ObliqueSlice(data, spacing=(10, 10, 10), origin=(-35, -35, -35), normal=(0.0, 0.3, 1.0))]))
    assert (image.max(axis=2) > 0).mean() > 0.2
    assert manager.pick(W // 2, H // 2, W, H).value is not None


def test_volume_data_is_checked():
    with pytest.raises(TypeError, match="uint8, uint16 or float32"):
        Volume(np.zeros((2, 2, 2), np.int32))
    with pytest.raises(ValueError, match="finite"):
        Volume(np.full((2, 2, 2), np.nan, np.float32))
    with pytest.raises(ValueError):
        Volume(np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="spacing"):
        Volume(np.zeros((2, 2, 2), np.uint8), spacing=(1, 0, 1))
    with pytest.raises(ValueError, match="outside"):
        _ = OrthoSlice(np.zeros((2, 2, 2), np.uint8), index=5).geometry


def test_rays_stop_at_opaque_surfaces_inside_the_volume(make_manager):
    # A uniform faint volume 60 voxels deep, and a small opaque blue square at its middle depth:
    # where the square is, only the volume in front of it (30 voxels) shows over it.
    data = np.full((60, 60, 60), 255, np.uint8)
    faint = TransferFunction.from_points([(0.0, 1.0, 0.0, 0.0, 0.02), (1.0, 1.0, 0.0, 0.0, 0.02)])
    volume = centred(Volume(data, transfer_function=faint, data_range=(0, 255)))
    square = Mesh(np.array([[-10, -10, 0], [10, -10, 0], [10, 10, 0], [-10, 10, 0]], np.float32), [[0, 1, 2], [0, 2, 3]])
    root = examiner([Material(diffuse_color=(0, 0, 0), ambient_color=(0, 0, 0), emissive_color=(0, 0, 1)), square, volume])
    image = render(make_manager(), root).astype(float)
    alpha_front, alpha_all = 1 - 0.98**30, 1 - 0.98**60
    assert image[H // 2, W // 2, 0] == pytest.approx(255 * alpha_front, abs=6)
    assert image[H // 2, W // 2, 2] == pytest.approx(255 * (1 - alpha_front), abs=6)
    assert image[H // 2, W // 2 + 20, 0] == pytest.approx(255 * alpha_all, abs=6)


def test_a_perspective_camera_sees_the_sphere_at_its_projected_size(make_manager):
    from remoteviz.rendering import PerspectiveCamera, SceneExaminer

    camera = PerspectiveCamera(position=(0.0, 0.0, 100.0), height_angle=math.radians(40.0))
    root = SceneExaminer([centred(Volume(sphere_volume(), transfer_function=RED_RAMP))], camera=camera)
    image = render(make_manager(), root)
    # A ball of radius r at distance d shows as a disc of angular radius asin(r / d).
    pixels_per_unit = (H / 2.0) / math.tan(math.radians(20.0))
    radius = math.tan(math.asin(20.0 / 100.0)) * pixels_per_unit
    inside, outside = disc(radius)
    mask = red_mask(image)
    assert mask[inside].all() and not mask[outside].any()


def test_a_camera_inside_the_volume_still_sees_it(make_manager):
    from remoteviz.rendering import PerspectiveCamera, SceneExaminer

    data = np.full((40, 40, 40), 255, np.uint8)
    faint = TransferFunction.from_points([(0.0, 1.0, 0.0, 0.0, 0.05), (1.0, 1.0, 0.0, 0.0, 0.05)])
    camera = PerspectiveCamera(position=(0.0, 0.0, 0.0))  # at the centre, looking down -z
    root = SceneExaminer([centred(Volume(data, transfer_function=faint, data_range=(0, 255)))], camera=camera)
    image = render(make_manager(), root).astype(float)
    # Straight ahead the ray crosses half the volume: 20 voxels from the camera to the far face.
    assert image[H // 2, W // 2, 0] == pytest.approx(255 * (1 - 0.95**20), abs=8)
