"""``rv.load``: files made by their formats' libraries, drawn with real OpenGL and picked. Volumes
land where their world coordinates say (a flipped NIfTI affine, a mirrored DICOM series), with the
defaults users expect; points take their RGB or intensity; STEP and glTF keep their part tree,
names and colours."""

from __future__ import annotations

import laspy
import nibabel
import numpy as np
import pytest
import trimesh

import remoteviz as rv
from remoteviz.loading import CT_VOLUME_RANGE, volume_look
from remoteviz.readers.formats import read_volume
from remoteviz.rendering import (
    Material,
    Mesh,
    OrthographicCamera,
    PointSet,
    SceneExaminer,
    Separator,
    TransferFunction,
    Transform,
    Volume,
    VolumeMode,
)

from ..rendering.scenes import H, W, examiner, render
from .files import phantom, reflectors, write_series, write_step_assembly, write_survey

OPAQUE_GREY = TransferFunction.from_points([(0.0, 0.0, 0.0, 0.0, 1.0), (1.0, 1.0, 1.0, 1.0, 1.0)])


def shape_of(node: rv.Node, kind: type) -> rv.Node:
    """The first node of ``kind`` below ``node``, depth first."""
    if isinstance(node, kind):
        return node
    for child in getattr(node, "children", ()):
        found = shape_of(child, kind)
        if found is not None:
            return found
    return None


def pixel_of(x: float, y: float) -> tuple[int, int]:
    """The pixel (column, row) that sees world (x, y) in ``scenes.examiner``'s view."""
    return int(np.floor(x + W / 2.0)), int(np.floor(H / 2.0 - y))


def mip_grey(node: rv.Node) -> Volume:
    volume = shape_of(node, Volume)
    volume.mode, volume.transfer_function, volume.data_range = VolumeMode.MIP, OPAQUE_GREY, (0.0, 255.0)
    return volume


def test_a_nifti_with_a_flipped_affine_draws_each_voxel_where_its_world_position_is(tmp_path, make_manager):
    rng = np.random.default_rng(1)
    top = rng.integers(80, 256, (12, 8)).astype(np.uint8)  # (i, j): the maximum along each column
    array = np.repeat(top[:, :, None], 4, axis=2)  # nibabel's (i, j, k), constant along k
    # x mirrored; voxel centres fall on pixel centres (one world unit per pixel)
    affine = np.array([[-5.0, 0, 0, 25.5], [0, 5.0, 0, -19.5], [0, 0, 5.0, 0], [0, 0, 0, 1]])
    nibabel.save(nibabel.Nifti1Image(array, affine), tmp_path / "flipped.nii")
    node = rv.load(tmp_path / "flipped.nii")
    assert node.name == "flipped.nii"
    mip_grey(node)
    manager = make_manager()
    image = render(manager, examiner([node]))
    for i in range(12):
        for j in range(8):
            x, y = affine[0, 0] * i + affine[0, 3], affine[1, 1] * j + affine[1, 3]
            column, row = pixel_of(x, y)
            assert abs(image[row, column, 0] - int(top[i, j])) <= 2, (i, j)
    column, row = pixel_of(25.5 - 5.0 * 3, -19.5 + 5.0 * 6)  # voxel i=3, j=6
    hit = manager.pick(column, row, W, H)
    assert hit is not None and hit.value == top[3, 6]
    assert np.allclose(hit.point[:2], (10.5, 10.5), atol=2.6)  # within half a voxel


def test_a_volume_over_the_memory_budget_is_drawn_out_of_core_where_its_world_position_is(
        tmp_path, make_manager, monkeypatch):
    monkeypatch.setenv("REMOTEVIZ_CACHE", str(tmp_path / "cache"))  # where the one conversion goes
    rng = np.random.default_rng(2)
    top = rng.integers(80, 256, (12, 8)).astype(np.uint8)
    # Each value a block of 16 x 16 voxels (1.6 MB in all), the blocks' centres where the in-memory
    # test's voxels are: x mirrored, 5 world units a block.
    array = np.repeat(np.repeat(top, 16, axis=0), 16, axis=1)[:, :, None].repeat(64, axis=2)
    step = 5.0 / 16
    affine = np.array([[-step, 0, 0, 25.5 + 7.5 * step], [0, step, 0, -19.5 - 7.5 * step], [0, 0, step, 0],
                       [0, 0, 0, 1]])
    nibabel.save(nibabel.Nifti1Image(array, affine), tmp_path / "big.nii")
    node = rv.load(tmp_path / "big.nii", memory_budget=1_400_000)  # too big for memory
    assert shape_of(node, Volume) is None
    volume = shape_of(node, rv.OutOfCoreVolume)
    assert volume is not None and list((tmp_path / "cache").rglob("zarr.json"))  # converted once, cached
    volume.mode, volume.transfer_function, volume.data_range = VolumeMode.MIP, OPAQUE_GREY, (0.0, 255.0)
    manager = make_manager()
    for _ in range(20):  # a script's loop: draw, let the bricks come, draw again
        image = render(manager, examiner([node]))
        if volume.complete:
            break
        assert volume.wait_for_bricks(30.0)
        volume.touch()
    assert volume.complete
    for i in range(12):
        for j in range(8):
            column, row = pixel_of(25.5 - 5.0 * i, -19.5 + 5.0 * j)
            assert abs(image[row, column, 0] - int(top[i, j])) <= 2, (i, j)
    column, row = pixel_of(25.5 - 5.0 * 3, -19.5 + 5.0 * 6)
    hit = manager.pick(column, row, W, H)
    assert hit is not None and hit.value == top[3, 6]  # the full-resolution voxel


def test_a_dicom_marker_is_picked_at_its_patient_coordinates(tmp_path, make_manager):
    hu = np.full((6, 10, 12), -1000, np.int16)
    hu[4, 2, 9] = 1000  # slice 4, row 2, column 9
    orientation = (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # rows run along -x: a mirror of the usual
    write_series(tmp_path, hu, orientation=orientation, spacing=(4.0, 3.0, 2.0), origin=(30.0, -20.0, 40.0))
    node = rv.load(tmp_path)
    volume = shape_of(node, Volume)
    volume.mode, volume.transfer_function, volume.data_range = VolumeMode.MIP, OPAQUE_GREY, (-1000.0, 1000.0)
    # Slices step along the normal (0, 0, -1): slice 4 lies at z = 40 - 8.
    expected = np.array([30.0 - 9 * 4.0, -20.0 + 2 * 3.0, 40.0 - 4 * 2.0])
    manager = make_manager()
    image = render(manager, examiner([node]))
    assert image[..., 0].max() > 120  # one voxel among -1000s: interpolation dims its peak
    row, column = np.argwhere(image[..., 0] == image[..., 0].max()).mean(axis=0)
    assert abs(column + 0.5 - W / 2 - expected[0]) <= 2.0 and abs(H / 2 - row - 0.5 - expected[1]) <= 1.5
    volume.pick_threshold = 0.0  # the first voxel above water along the ray
    hit = manager.pick(*pixel_of(*expected[:2]), W, H)
    assert hit is not None and hit.value == 1000.0
    assert np.allclose(hit.point, expected, atol=2.1)  # within half a voxel (4 mm along x)


def test_ct_defaults_the_ct_preset_in_hu_and_the_files_window_for_slices(tmp_path):
    write_series(tmp_path, phantom((8, 32, 32)), window=(-600.0, 1500.0))
    volume = shape_of(rv.load(tmp_path), Volume)
    assert np.array_equal(volume.data, phantom((8, 32, 32)).astype(np.float32))  # HU, as float32
    assert volume.data_range == CT_VOLUME_RANGE
    assert np.array_equal(volume.transfer_function.table, TransferFunction.preset("ct").table)
    look = volume_look(read_volume(tmp_path))
    assert look.slice_window == (-1350.0, 150.0)
    write_series(tmp_path / "plain", phantom((3, 16, 16)), window=None)
    assert volume_look(read_volume(tmp_path / "plain")).slice_window == (-150.0, 250.0)  # soft tissue 50/400


def test_seismic_defaults_are_symmetric_about_zero(tmp_path):
    amplitude = reflectors((10, 12, 60)) * 3.0 + 0.5  # an offset: the range must still centre on 0
    volume = shape_of(rv.load(write_survey(tmp_path / "s.sgy", amplitude)), Volume)
    top = float(np.percentile(np.abs(amplitude), 99.0))
    assert volume.data_range == pytest.approx((-top, top))
    assert np.array_equal(volume.transfer_function.table, TransferFunction.preset("seismic").table)


def test_other_volumes_span_their_histograms_percentiles(tmp_path):
    data = np.random.default_rng(0).normal(100.0, 10.0, (20, 30, 40)).astype(np.float32)
    data[0, 0, 0] = 1e6  # one outlier does not squash the range
    np.save(tmp_path / "v.npy", data)
    volume = shape_of(rv.load(tmp_path / "v.npy"), Volume)
    low, high = np.percentile(data, [0.1, 99.9])
    assert volume.data_range == pytest.approx((low, high))
    assert volume.data.dtype == np.float32 and volume.spacing == (1.0, 1.0, 1.0)


def test_a_nan_in_a_float_volume_is_shown_as_its_minimum(tmp_path):
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4) + 5
    data[1, 1, 1] = np.nan
    np.save(tmp_path / "nan.npy", data)
    assert shape_of(rv.load(tmp_path / "nan.npy"), Volume).data[1, 1, 1] == 5.0


def write_las(path, rgb: bool, offset=(500000.0, 6700000.0, 100.0)):
    las = laspy.create(point_format=7 if rgb else 6, file_version="1.4")
    las.header.offsets, las.header.scales = list(offset), [0.001, 0.001, 0.001]
    las.x = offset[0] + np.array([-30.0, 0.0, 30.0])
    las.y = offset[1] + np.array([10.0, -10.0, 10.0])
    las.z = offset[2] + np.zeros(3)
    las.intensity = np.array([100, 200, 300])
    las.classification = np.array([2, 6, 9])
    if rgb:
        las.red, las.green, las.blue = [65535, 0, 0], [0, 65535, 0], [0, 0, 65535]
    las.write(path)
    return path


def test_laz_points_keep_their_survey_position_and_their_rgb(tmp_path, make_manager):
    node = rv.load(write_las(tmp_path / "cloud.laz", rgb=True))
    cloud = shape_of(node, PointSet)
    assert np.allclose(cloud.colors[:, :3], np.eye(3))
    shift = shape_of(node, Transform).translation
    points = cloud.positions + np.array(shift)
    assert np.allclose(points[:, :2], [[499970, 6700010], [500000, 6699990], [500030, 6700010]], atol=0.01)
    cloud.size = 7.0
    camera = OrthographicCamera(position=(500000.0, 6700000.0, 600.0), height=H)
    root = SceneExaminer(camera=camera)
    root.add_child(node)
    image = render(make_manager(), root)
    for (x, y), rgb in zip([(-30, 10), (0, -10), (30, 10)], np.eye(3) * 255):
        column, row = pixel_of(x, y)
        assert np.abs(image[row, column] - rgb).max() <= 3, (x, y, image[row, column])


def test_points_without_rgb_are_coloured_by_their_intensity_through_the_grey_map(tmp_path):
    cloud = shape_of(rv.load(write_las(tmp_path / "grey.las", rgb=False)), PointSet)
    assert cloud.colors is None and cloud.scalars_name == "intensity" and "intensity" in cloud.arrays
    mapping = cloud.color_mapping()
    assert mapping.colormap in ("grey", "gray")
    position = (cloud.scalars - mapping.low) / (mapping.high - mapping.low)
    assert position[0] <= 0.0 < position[1] < 1.0 <= position[2]  # the ramp spans the 1st to 99th percentile
    cloud.color_by("classification")  # what the page's colour map control switches to
    assert cloud.scalars_name == "classification"


def test_a_ply_of_points_is_a_point_set_with_its_colours(tmp_path):
    positions = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0]], float)
    colors = np.array([[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]], np.uint8)
    trimesh.PointCloud(positions, colors=colors).export(tmp_path / "p.ply")
    node = rv.load(tmp_path / "p.ply")
    cloud = shape_of(node, PointSet)
    assert np.allclose(cloud.colors[:, :3], colors[:, :3] / 255.0)
    assert np.allclose(cloud.positions + np.array(shape_of(node, Transform).translation), positions)


def names(node: rv.Node, depth: int = 0) -> list[tuple[int, str, str]]:
    found = [(depth, type(node).__name__, node.name)]
    for child in getattr(node, "children", ()):
        found += names(child, depth + 1)
    return found


def test_a_step_assembly_keeps_its_parts_names_colours_and_placement(tmp_path, make_manager):
    node = rv.load(write_step_assembly(tmp_path / "bracket.step"))
    tree = names(node)
    separators = [name for _, kind, name in tree if kind == "Separator"]
    assert separators[:2] == ["bracket.step", "Bracket"]
    assert sorted(separators[2:]) == ["Pin", "Pin_1", "Plate"]
    colours = {name: None for name in ("Plate", "Pin", "Pin_1")}
    for part in shape_of(node, Separator).children[0].children:
        material = shape_of(part, Material)
        colours[part.name] = tuple(np.round(material.diffuse_color, 2))
    assert colours == {"Plate": (1.0, 0.0, 0.0), "Pin": (0.0, 0.0, 1.0), "Pin_1": (0.0, 0.0, 1.0)}
    # Drawn from above (OpenCASCADE gives metres): the red plate, the blue pins where they stand.
    camera = OrthographicCamera(position=(0.02, 0.01, 1.0), height=0.03)
    root = SceneExaminer(camera=camera)
    root.add_child(node)
    image = render(make_manager(), root)
    per_pixel = 0.03 / H
    for (x, y), expected in (((0.02, 0.005), "red"), ((0.01, 0.01), "blue"), ((0.03, 0.01), "blue")):
        column, row = int(W / 2 + (x - 0.02) / per_pixel), int(H / 2 - (y - 0.01) / per_pixel)
        r, g, b = image[row, column]
        assert (r > 100 and g < 40 and b < 40) if expected == "red" else (b > 100 and r < 40 and g < 40), (x, y)


def test_a_gltf_scene_keeps_its_node_tree(tmp_path):
    scene = trimesh.Scene()
    box = trimesh.creation.box()
    box.visual = trimesh.visual.TextureVisuals(material=trimesh.visual.material.PBRMaterial(
        baseColorFactor=[0, 255, 0, 255]))
    scene.add_geometry(box, node_name="Chassis", geom_name="chassis",
                       transform=trimesh.transformations.translation_matrix([2.0, 0.0, 0.0]))
    scene.add_geometry(trimesh.creation.icosphere(), node_name="Wheel", geom_name="wheel", parent_node_name="Chassis")
    (tmp_path / "car.glb").write_bytes(scene.export(file_type="glb"))
    node = rv.load(tmp_path / "car.glb")
    assert [(depth, name) for depth, kind, name in names(node) if kind == "Separator"] == [
        (0, "car.glb"), (1, "Chassis"), (2, "Wheel")]
    chassis = node.children[0]
    assert shape_of(chassis, Transform).translation == (2.0, 0.0, 0.0)
    assert shape_of(chassis, Material).diffuse_color == (0.0, 1.0, 0.0)


def test_a_mesh_file_is_a_mesh_named_after_it(tmp_path):
    trimesh.creation.box().export(tmp_path / "box.stl")
    mesh = rv.load(tmp_path / "box.stl")
    assert isinstance(mesh, Mesh) and mesh.name == "box.stl" and len(mesh.indices) == 12


def test_slices_of_a_loaded_series_reach_every_index_of_their_axis(tmp_path):
    write_series(tmp_path, phantom((4, 20, 30)))  # (z, y, x): fewer slices than rows or columns
    volume = shape_of(rv.load(tmp_path), Volume)
    for axis, count in (("x", 30), ("y", 20), ("z", 4)):
        plane = rv.OrthoSlice.of_volume(volume, axis=axis, index=count - 1).plane()
        expected = {"x": volume.data[:, :, -1], "y": volume.data[:, -1, :], "z": volume.data[-1]}[axis]
        assert np.array_equal(plane, expected), axis


def test_an_iges_file_loads_as_its_tessellated_shape_in_its_own_units(tmp_path):
    node = rv.load(write_step_assembly(tmp_path / "bracket.igs"))  # IGES: shapes, no assembly tree
    meshes = []

    def collect(item):
        if isinstance(item, Mesh):
            meshes.append(item)
        for child in getattr(item, "children", ()):
            collect(child)

    collect(node)
    assert node.name == "bracket.igs" and meshes
    vertices = np.concatenate([m.vertices for m in meshes])
    extent = vertices.max(axis=0) - vertices.min(axis=0)
    # 40 x 20 mm, pins 15 mm on a 5 mm plate; unlike STEP, OpenCASCADE leaves IGES in the file's mm.
    assert np.allclose(extent, (40.0, 20.0, 20.0), atol=0.1)


def test_points_without_rgb_or_intensity_take_their_class_colours():
    from remoteviz.loading import point_colors
    from remoteviz.readers.point_data import PointData

    points = PointData(np.zeros((3, 3), np.float32), np.zeros(3), "x.las", None,
                       np.zeros(3, np.uint16), np.array([2, 6, 9], np.uint8))
    assert np.allclose(point_colors(points), [(0.63, 0.32, 0.18), (1.0, 0.66, 0.0), (0.0, 0.0, 1.0)])
