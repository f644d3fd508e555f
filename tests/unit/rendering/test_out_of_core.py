"""Out-of-core volumes with real OpenGL and real zarr stores: the complete still against the
in-memory Volume's picture, the first picture from the coarsest level while the loader is held
(placement, likeness), full-resolution picking, a volume four times the budget turned within its
budgets, redraw requests as bricks arrive, slices reading only their plane, and volume_node."""

from __future__ import annotations

import threading

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")

from remoteviz.readers.ome_zarr import read_zarr  # noqa: E402
from remoteviz.readers.pyramid_store import write_pyramid  # noqa: E402
from remoteviz.readers.volume_data import VolumeData  # noqa: E402
from remoteviz.rendering import (  # noqa: E402
    ClipPlane,
    ObliqueSlice,
    OutOfCoreVolume,
    PerspectiveCamera,
    Rotation,
    SceneExaminer,
    Separator,
    TransferFunction,
    Volume,
    VolumeMode,
)
from remoteviz.rendering.out_of_core import volume_node  # noqa: E402

from .scenes import H, W, examiner, render  # noqa: E402

RED_RAMP = TransferFunction.from_points([(0.0, 1.0, 0.0, 0.0, 0.0), (0.1, 1.0, 0.0, 0.0, 0.0),
                                         (1.0, 1.0, 0.3, 0.1, 1.0)])


def blobs(n: int = 64) -> np.ndarray:
    """Mostly empty space with three balls of different values and a bright 8^3 cube (the landmark)."""
    k, j, i = np.mgrid[:n, :n, :n].astype(np.float32)
    volume = np.zeros((n, n, n), np.float32)
    for (x, y, z), radius, value in (((0.3, 0.3, 0.5), 0.15, 120.0), ((0.7, 0.6, 0.4), 0.2, 200.0),
                                     ((0.5, 0.75, 0.7), 0.1, 160.0)):
        distance = np.sqrt((i - x * n) ** 2 + (j - y * n) ** 2 + (k - z * n) ** 2)
        volume = np.maximum(volume, np.clip(radius * n - distance + 0.5, 0.0, 1.0) * value)
    volume[8:16, 40:48, 24:32] = 255.0  # z, y, x: around voxel (i, j, k) = (28, 44, 12)
    volume += (i + j + k) % 3  # a little texture everywhere, below the transfer function's threshold
    return volume.astype(np.uint8)


def origin_of(n: int) -> tuple[float, float, float]:
    return (-(n - 1) / 2.0,) * 3


def store_of(tmp_path, volume: np.ndarray, brick: int = 16, name: str = "store.zarr"):
    matrix = np.eye(4)
    matrix[:3, 3] = origin_of(volume.shape[0])
    return write_pyramid(VolumeData((volume,), (matrix,), "volume.npy"), tmp_path / name, brick=brick)


class HeldArray:
    """A level whose reads wait until ``gate`` is set: a disk that has not answered yet."""

    def __init__(self, array, gate: threading.Event) -> None:
        self.array, self.gate = array, gate
        self.chunks = array.chunks

    shape = property(lambda self: self.array.shape)
    dtype = property(lambda self: self.array.dtype)

    def __getitem__(self, key):
        self.gate.wait()
        return self.array[key]


class CountingArray:
    """A level that counts the voxels read from it."""

    def __init__(self, array) -> None:
        self.array, self.voxels = array, 0
        self.chunks = array.chunks

    shape = property(lambda self: self.array.shape)
    dtype = property(lambda self: self.array.dtype)

    def __getitem__(self, key):
        part = np.asarray(self.array[key])
        self.voxels += part.size
        return part


def held(data: VolumeData, gate: threading.Event) -> VolumeData:
    """``data`` with every level but the coarsest held behind ``gate``."""
    levels = [HeldArray(level, gate) for level in data.levels[:-1]] + [data.levels[-1]]
    return VolumeData(tuple(levels), data.transforms, data.source)


def complete(manager, volume: OutOfCoreVolume, root, width: int = W, height: int = H, frames: int = 40) -> np.ndarray:
    """Render until the volume drew every brick it wanted."""
    manager.antialiasing = 0
    manager.scene_graph = root
    for _ in range(frames):
        image = manager.render(width, height).astype(int)
        if volume.complete:
            return image
        assert volume.wait_for_bricks(30.0)
        volume.touch()
    raise AssertionError("the volume never completed")


@pytest.mark.parametrize("mode", [VolumeMode.COMPOSITE, VolumeMode.MIP, VolumeMode.ISOSURFACE])
@pytest.mark.parametrize("clipped", [False, True])
def test_the_complete_still_matches_the_in_memory_volume(make_manager, tmp_path, mode, clipped):
    data = blobs()
    fields = {"transfer_function": RED_RAMP, "data_range": (0.0, 255.0), "mode": mode, "iso_value": 100.0}
    reference = Volume(data, origin=origin_of(64), **fields)
    volume = OutOfCoreVolume(store_of(tmp_path, data), **fields)
    clip = [ClipPlane(normal=(0.3, -1.0, 0.2), offset=2.0)] if clipped else []
    expected = render(make_manager(), examiner([*clip, reference], height=80))
    clip = [ClipPlane(normal=(0.3, -1.0, 0.2), offset=2.0)] if clipped else []
    image = complete(make_manager(), volume, examiner([*clip, volume], height=80))
    assert (expected.max(axis=-1) > 60).mean() > 0.02  # the picture is not empty
    # Within a brick both cast the same rays through the same texels. Across the one-voxel band
    # at a brick seam the out-of-core texture clamps to each side's voxel instead of blending
    # the two: a few pixels there differ, by at most the step between neighbouring voxels.
    difference = np.abs(image - expected)
    assert difference.mean() < 1.5
    assert np.percentile(difference, 99) <= 40


def test_the_first_picture_comes_from_the_coarsest_level_in_place(make_manager, tmp_path):
    data = blobs()
    gate = threading.Event()
    try:
        coarse = OutOfCoreVolume(held(read_zarr(store_of(tmp_path, data)), gate),
                                 transfer_function=RED_RAMP, data_range=(0.0, 255.0))
        first = render(make_manager(), examiner([coarse], height=80))
        assert not coarse.complete  # the loader is held: only the coarsest level (16^3) is there
    finally:
        gate.set()
    fine = complete(make_manager(), coarse, examiner([coarse], height=80))
    assert (first.max(axis=-1) > 60).mean() > 0.05  # not blank
    # Alike once both are brought down to the coarsest level's resolution (a voxel there is 4
    # full-resolution voxels, 5 pixels here).
    def pooled(image: np.ndarray) -> np.ndarray:
        h, w = (n // 8 * 8 for n in image.shape[:2])
        return image[:h, :w].reshape(h // 8, 8, w // 8, 8, 3).mean(axis=(1, 3))

    error = np.mean((pooled(first) - pooled(fine)) ** 2)
    assert 10 * np.log10(255.0**2 / error) > 20.0
    # The landmark (the brightest cube) is where it is at full resolution, within one coarsest
    # voxel (4 full-resolution voxels, 6 pixels here): blurred over 2x2x2 coarse voxels, its
    # brightest part may shift by a fraction of one.
    def landmark(image: np.ndarray) -> np.ndarray:
        bright = image[..., 1] > 0.8 * image[..., 1].max()
        return np.argwhere(bright).mean(axis=0)

    assert np.linalg.norm(landmark(first) - landmark(fine)) < 6.0


def test_picking_reads_the_full_resolution_value(make_manager, tmp_path):
    data = blobs()
    gate = threading.Event()
    try:
        volume = OutOfCoreVolume(held(read_zarr(store_of(tmp_path, data)), gate),
                                 transfer_function=RED_RAMP, data_range=(0.0, 255.0), pick_threshold=250.0)
        reference = Volume(data, origin=origin_of(64), transfer_function=RED_RAMP, data_range=(0.0, 255.0),
                           pick_threshold=250.0)
        manager = make_manager()
        render(manager, examiner([volume], height=80))
        # The landmark cube's voxel (28, 44, 12) is at x = 28 - 31.5, y = 44 - 31.5; 1.5 pixels a unit.
        x, y = 80 + round((28 - 31.5) * 1.5), 60 - round((44 - 31.5) * 1.5)
        gate.set()  # a pick reads the one brick it needs synchronously, held or not: let it through
        picked = manager.pick(x, y, W, H)
        assert picked is not None and picked.value == 255.0
        k, j, i = picked.voxel
        assert data[k, j, i] == 255 and 24 <= i < 32 and 40 <= j < 48
        expected = make_manager()
        render(expected, examiner([reference], height=80))
        assert expected.pick(x, y, W, H).voxel == picked.voxel
    finally:
        gate.set()


def orbit_views(camera: PerspectiveCamera, steps: int):
    for step in range(steps):
        camera.orbit(Rotation.from_axis_angle((0.3, 1.0, 0.1), 2.0 * np.pi * step / steps))
        yield step


def test_a_volume_four_times_the_budget_turns_within_it_and_ends_like_the_in_memory_one(make_manager, tmp_path):
    n = 168  # 4.7 MB of uint8 against 1 MiB of budgets (512 KiB host, 512 KiB GPU)
    k, j, i = np.mgrid[:n, :n, :n].astype(np.float32)
    data = (np.clip(22.0 - np.sqrt((i - 70) ** 2 + (j - 90) ** 2 + (k - 80) ** 2), 0.0, 1.0) * 200).astype(np.uint8)
    data[100:110, 30:40, 120:130] = 255
    host, gpu = 512 * 1024, 512 * 1024
    assert data.nbytes >= 4 * (host + gpu)
    volume = OutOfCoreVolume(store_of(tmp_path, data), host_budget=host, gpu_budget=gpu,
                             transfer_function=RED_RAMP, data_range=(0.0, 255.0))
    reference = Volume(data, origin=origin_of(n), transfer_function=RED_RAMP, data_range=(0.0, 255.0))

    def scene(node):
        camera = PerspectiveCamera(position=(0.0, 0.0, 260.0), focal_distance=260.0)
        root = SceneExaminer(camera=camera)
        root.add_child(node)
        return root, camera

    root, camera = scene(volume)
    manager = make_manager()
    manager.antialiasing = 0
    manager.scene_graph = root
    for _ in orbit_views(camera, 12):
        manager.render(W, H, interactive=True)
        assert volume.bricks.cache.nbytes <= host
        assert volume.last_frame.gpu_bytes <= gpu
    camera.orbit(Rotation.from_axis_angle((0.0, 1.0, 0.0), 0.7))
    image = complete(manager, volume, root)
    assert volume.bricks.cache.nbytes <= host and volume.last_frame.gpu_bytes <= gpu
    assert volume.last_frame.finest_level == 0  # the sparse picture fits the budget at full resolution
    reference_root, reference_camera = scene(reference)
    reference_camera.orientation = camera.orientation
    reference_camera.position = camera.position
    expected = render(make_manager(), reference_root)
    assert (expected.max(axis=-1) > 60).mean() > 0.02
    difference = np.abs(image - expected)
    assert difference.mean() < 1.5 and np.percentile(difference, 99) <= 40


def test_arriving_bricks_ask_for_a_redraw_until_the_picture_is_complete(make_manager, tmp_path):
    volume = OutOfCoreVolume(store_of(tmp_path, blobs()), transfer_function=RED_RAMP, data_range=(0.0, 255.0))
    posted: list = []
    volume.redraw_through(posted.append)
    changes: list[int] = []
    manager = make_manager(lambda: changes.append(1))
    manager.antialiasing = 0
    manager.scene_graph = examiner([volume], height=80)
    for _ in range(40):
        changes.clear()
        manager.render(W, H)
        if volume.complete:
            break
        volume.wait_for_bricks(30.0)
        assert len(posted) == 1  # one request per frame drawn, however many bricks arrived
        posted.pop()()  # what Service.call_soon does on the dispatch thread
        assert changes  # the scene manager heard of the change: the area redraws
    assert volume.complete
    volume.wait_for_bricks(30.0)
    assert not posted  # a complete picture asks for nothing more


def test_an_ortho_slice_reads_only_its_plane(tmp_path):
    data = blobs()
    stored = read_zarr(store_of(tmp_path, data))
    counted = CountingArray(stored.levels[0])
    volume = OutOfCoreVolume(VolumeData((counted, *stored.levels[1:]), stored.transforms, stored.source))
    plane = volume.ortho_slice("y", 44, colormap="grey")
    assert np.array_equal(plane.plane(), data[:, 44, :])
    assert counted.voxels == 64 * 64  # one plane, not the volume
    assert np.allclose(plane.bounding_box.minimum[1], 44 - 31.5)


def test_an_oblique_slice_reads_only_the_bricks_its_plane_cuts(tmp_path):
    data = blobs()
    volume = OutOfCoreVolume(store_of(tmp_path, data))  # 64^3 in 4x4x4 bricks of 16^3
    reference = ObliqueSlice(data, origin=origin_of(64), point=(0.0, 0.0, -20.0), normal=(0.0, 0.3, 1.0))
    cut = volume.oblique_slice(point=(0.0, 0.0, -20.0), normal=(0.0, 0.3, 1.0))
    values = cut.geometry.values
    assert np.allclose(values, reference.geometry.values, equal_nan=True, atol=1e-3)
    assert cut.value_range() == pytest.approx(reference.value_range(), abs=1.0)
    # A plane nearly along z cuts one or two layers of bricks of the four: not the whole level.
    read = [key for key in volume.bricks.cache.keys() if key[0] == 0]
    assert 0 < len(read) <= 2 * 16


def test_volume_node_converts_once_and_places_a_rotated_source(tmp_path):
    data = blobs(32)
    angle = np.pi / 6
    matrix = np.eye(4)
    matrix[:3, :3] = [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    matrix[:3, :3] *= 2.0
    matrix[:3, 3] = (5.0, 6.0, 7.0)
    source = VolumeData((data,), (matrix,), str(tmp_path / "volume.npy"))
    node = volume_node(source, 8 * 1024**2, cache_folder=tmp_path / "cache")
    assert isinstance(node, Separator)
    transform, volume = node.children
    assert isinstance(volume, OutOfCoreVolume) and np.allclose(volume.spacing, 2.0)
    stores = list((tmp_path / "cache").glob("*.zarr"))
    assert len(stores) == 1
    # Voxel (3, 4, 5) lands where the source's matrix puts it.
    local = volume.origin + np.array([3, 4, 5]) * volume.spacing
    assert np.allclose((transform.matrix @ [*local, 1.0])[:3], (matrix @ [3, 4, 5, 1])[:3])
    again = volume_node(source, 8 * 1024**2, cache_folder=tmp_path / "cache")
    assert list((tmp_path / "cache").glob("*.zarr")) == stores and isinstance(again, Separator)


def test_a_pyramid_that_does_not_halve_is_refused_with_a_reason(tmp_path):
    data = blobs(32)
    bad = VolumeData((data, data[::3, ::3, ::3]), (np.eye(4), np.diag([3.0, 3.0, 3.0, 1.0])), "odd")
    with pytest.raises(ValueError, match="convert"):
        OutOfCoreVolume(bad)


def test_a_quick_volume_layer_under_multisampling_gets_the_scene_depth(make_manager, tmp_path):
    """Interactive frames (and quick stills) cast rays at half size: with a multisampled
    framebuffer the depth is resolved first, then scaled (one blit cannot do both)."""
    data = blobs()
    volume = Volume(data, origin=origin_of(64), transfer_function=RED_RAMP, data_range=(0.0, 255.0))
    manager = make_manager()
    manager.interactive_antialiasing = 4
    manager.scene_graph = examiner([volume], height=80)
    image = manager.render(W, H, interactive=True).astype(int)
    assert (image.max(axis=-1) > 60).mean() > 0.05


def test_volume_node_draws_a_brick_chunked_pyramid_where_it_is_and_converts_slice_chunked_data(tmp_path):
    cache = tmp_path / "cache"
    pyramid_store = read_zarr(store_of(tmp_path, blobs(32)))
    node = volume_node(pyramid_store, 8 * 1024**2, cache_folder=cache)
    assert isinstance(node, OutOfCoreVolume) and not cache.exists()  # nothing converted
    slices = zarr.create_array(str(tmp_path / "slices.zarr"), shape=(8, 300, 300), chunks=(1, 300, 300), dtype=np.uint8)
    slices[...] = 7
    node = volume_node(read_zarr(tmp_path / "slices.zarr"), 8 * 1024**2, cache_folder=cache)
    assert isinstance(node, OutOfCoreVolume) and len(list(cache.glob("*.zarr"))) == 1
    assert node.bricks.pyramid.brick == 64 and len(node.bricks.levels) == 4
