"""Shapes coloured by scalars through named colour maps, rendered with real OpenGL: the pixels are
compared with the map's own colours read from the cmap package (not from remoteviz's code)."""

from __future__ import annotations

import math

import cmap
import numpy as np
import pytest

import remoteviz as rv
from remoteviz.rendering import LineSet, Material, Mesh, PointSet
from remoteviz.rendering.colormaps import ColorMapping, auto_range, colormap_table

from .scenes import H, W, examiner, render

# The cmap package's own names for the maps the tests use.
CATALOGUE = {"viridis": "bids:viridis", "plasma": "bids:plasma", "coolwarm": "matplotlib:coolwarm",
             "grey": "matlab:gray", "turbo": "google:turbo"}


def map_rgb(name: str, t: np.ndarray) -> np.ndarray:
    """The map's colour at positions 0..1, 0..255, from the cmap package's 256-entry table."""
    table = np.asarray(cmap.Colormap(CATALOGUE[name]).lut(256))[:, :3]
    x = np.clip(t, 0.0, 1.0) * 255.0
    return np.stack([np.interp(x, np.arange(256), table[:, k]) for k in range(3)], axis=-1) * 255.0


def unlit(nodes: list) -> rv.SceneExaminer:
    """Shapes in a scene whose surfaces show their own colour exactly (no light, full ambient)."""
    root = examiner([Material(ambient_color=(1, 1, 1), specular_color=(0, 0, 0)), *nodes])
    root.headlight.on = False
    return root


def ramp_quad(columns: int = 1, **fields) -> Mesh:
    """A rectangle x -60..60, y -40..40, in ``columns`` cells (two triangles each)."""
    xs = np.linspace(-60.0, 60.0, columns + 1)
    vertices = np.array([(x, y, 0.0) for x in xs for y in (-40.0, 40.0)], np.float32)
    faces = []
    for c in range(columns):
        a, b, d, e = 2 * c, 2 * c + 2, 2 * c + 3, 2 * c + 1
        faces += [(a, b, d), (a, d, e)]
    return Mesh(vertices, faces, **fields)


def column_x(px: np.ndarray) -> np.ndarray:
    return px + 0.5 - W / 2.0


def test_colormaps_lists_the_usual_maps_and_each_table_is_the_libraries():
    names = rv.colormaps()
    for wanted in ("viridis", "plasma", "inferno", "magma", "cividis", "turbo", "coolwarm", "grey", "gray",
                   "seismic", "RdBu"):
        assert wanted in names
    np.testing.assert_allclose(colormap_table("viridis"), cmap.Colormap("bids:viridis").lut(256), atol=1e-6)
    np.testing.assert_allclose(colormap_table("viridis_r"), colormap_table("viridis")[::-1], atol=1e-6)
    with pytest.raises(ValueError, match="unknown colour map 'nope'"):
        Mesh(np.zeros((3, 3)), colormap="nope")


@pytest.mark.parametrize("name", ["viridis", "coolwarm", "grey"])
def test_a_vertex_scalar_ramp_shows_the_maps_colours_across_the_mesh(make_manager, name):
    mesh = ramp_quad(colormap=name)
    mesh.scalars = mesh.vertices[:, 0] * 10.0  # -600 .. 600 across x; the auto range spans them
    image = render(make_manager(), unlit([mesh]))
    columns = np.arange(25, 135)
    shown = image[H // 2, columns]
    expected = map_rgb(name, (column_x(columns) + 60.0) / 120.0)
    np.testing.assert_allclose(shown, expected, atol=3)


def test_per_cell_scalars_give_flat_faces(make_manager):
    mesh = ramp_quad(columns=4, scalars=[0, 0, 1, 1, 2, 2, 3, 3], colormap="plasma")  # 8 triangles
    image = render(make_manager(), unlit([mesh]))
    for cell in range(4):
        left = int(W / 2 - 60 + 30 * cell)
        block = image[H // 2 - 35 : H // 2 + 35, left + 2 : left + 28].reshape(-1, 3)
        expected = map_rgb("plasma", np.array([cell / 3.0]))[0]
        np.testing.assert_allclose(block, np.broadcast_to(expected, block.shape), atol=2)


def test_vertex_count_decides_unless_the_association_is_given():
    mesh = ramp_quad(columns=1, scalars=[0.0, 1.0, 2.0, 3.0])  # 4 vertices, 2 triangles
    assert len(mesh.geometry.positions) == 4
    mesh.scalars = [5.0, 6.0]
    assert len(mesh.geometry.positions) == 6 and list(mesh.geometry.scalars) == [5, 5, 5, 6, 6, 6]
    mesh.scalars = [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="3 values for 4 vertices and 2 triangles"):
        _ = mesh.geometry
    mesh.scalar_association = "cell"
    with pytest.raises(ValueError, match="3 values for 2 triangles"):
        _ = mesh.geometry


def test_log_scale_spaces_decades_evenly_and_shows_non_positive_values_in_the_nan_colour(make_manager):
    values = [1.0, 10.0, 100.0, 1000.0, -5.0, np.nan]
    mesh = ramp_quad(columns=6, scalars=np.repeat(values, 2), colormap="viridis", log_scale=True,
                     nan_color=(1.0, 0.0, 1.0))
    assert mesh.effective_scalar_range() == (1.0, 1000.0)  # the positive values only
    image = render(make_manager(), unlit([mesh]))
    for cell in range(6):
        x = int(W / 2 - 60 + 20 * cell + 10)
        shown = image[H // 2, x]
        expected = map_rgb("viridis", np.array([cell / 3.0]))[0] if cell < 4 else (255, 0, 255)
        np.testing.assert_allclose(shown, expected, atol=2)


def test_a_log_scale_with_a_non_positive_range_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="log scale needs a positive range"):
        ColorMapping("viridis", colormap_table("viridis"), 0.0, 10.0, log=True)
    assert auto_range(np.array([-1.0, 0.0], np.float32), log=True) == (1.0, 10.0)
    mesh = ramp_quad(scalars=[1.0, 2.0, 3.0, 4.0], scalar_range=(-1.0, 4.0), log_scale=True)
    with pytest.raises(ValueError, match="positive range"):
        mesh.color_mapping()


def test_a_set_range_clamps_values_outside_it_to_the_end_colours(make_manager):
    mesh = ramp_quad(scalars=[-60.0, -60.0, 60.0, 60.0], scalar_range=(-20.0, 20.0), colormap="turbo")
    image = render(make_manager(), unlit([mesh]))
    columns = np.arange(25, 135)
    expected = map_rgb("turbo", (column_x(columns) + 20.0) / 40.0)
    np.testing.assert_allclose(image[H // 2, columns], expected, atol=3)
    assert (np.abs(image[H // 2, 30] - map_rgb("turbo", np.array([0.0]))[0]) <= 2).all()
    assert (np.abs(image[H // 2, 130] - map_rgb("turbo", np.array([1.0]))[0]) <= 2).all()


def test_switching_the_map_keeps_the_geometry_and_redraws(make_manager):
    mesh = ramp_quad(scalars=[0.0, 0.0, 1.0, 1.0])
    redraws = []
    manager = make_manager(lambda: redraws.append(1))
    manager.scene_graph = unlit([mesh])
    manager.antialiasing = 0
    first = manager.render(W, H).astype(int)
    geometry, version = mesh.geometry, mesh.geometry_version
    before, asked = mesh.version, len(redraws)
    mesh.colormap = "grey"
    mesh.scalar_range = (0.0, 2.0)
    assert mesh.version > before and len(redraws) > asked
    assert mesh.geometry_version == version and mesh.geometry is geometry  # nothing rebuilt or uploaded
    second = manager.render(W, H).astype(int)
    columns = np.arange(25, 135)
    np.testing.assert_allclose(second[H // 2, columns], map_rgb("grey", (column_x(columns) + 60.0) / 240.0), atol=3)
    assert not np.array_equal(first, second)


def test_a_point_set_coloured_by_scalars(make_manager):
    positions = np.array([(-50.0, 0.0, 0.0), (0.0, 0.0, 0.0), (50.0, 0.0, 0.0)], np.float32)
    points = PointSet(positions, size=9.0, scalars=[2.0, 3.0, 4.0], colormap="plasma")
    manager = make_manager()
    image = render(manager, examiner([points]))
    for (x, _, _), t in zip(positions, (0.0, 0.5, 1.0), strict=True):
        px = int(x + W / 2)
        np.testing.assert_allclose(image[H // 2, px], map_rgb("plasma", np.array([t]))[0], atol=2)
    picked = manager.pick(int(W / 2), H // 2, W, H)
    assert picked.node is points and picked.index == 1 and picked.value == 3.0


def test_a_line_set_coloured_per_vertex_and_per_segment(make_manager):
    positions = np.array([(-60.0, 0.0, 0.0), (0.0, 0.0, 0.0), (60.0, 0.0, 0.0)], np.float32)
    lines = LineSet(positions, width=5.0, scalars=[0.0, 1.0], colormap="viridis")  # one per segment
    manager = make_manager()
    image = render(manager, examiner([lines]))
    np.testing.assert_allclose(image[H // 2, 40], map_rgb("viridis", np.array([0.0]))[0], atol=2)
    np.testing.assert_allclose(image[H // 2, 120], map_rgb("viridis", np.array([1.0]))[0], atol=2)
    lines.scalars = [0.0, 5.0, 10.0]  # per vertex: a ramp along each segment
    lines.scalar_association = "vertex"
    image = render(manager, examiner([lines]))
    np.testing.assert_allclose(image[H // 2, 50], map_rgb("viridis", np.array([(50 + 0.5 - 20) / 120]))[0], atol=4)
    picked = manager.pick(110, H // 2, W, H)
    assert picked.node is lines and math.isclose(picked.value, (110 + 0.5 - 80 + 60) / 120 * 10, abs_tol=0.1)


def test_picking_a_coloured_mesh_reports_the_scalar_under_the_pointer(make_manager):
    mesh = ramp_quad(scalars=[-600.0, -600.0, 600.0, 600.0])
    manager = make_manager()
    render(manager, unlit([mesh]))
    for px in (30, 80, 121):
        picked = manager.pick(px, H // 2, W, H)
        assert picked.node is mesh and math.isclose(picked.value, column_x(px) * 10.0, abs_tol=0.05)
    flat = ramp_quad(columns=2, scalars=[1.0, 1.0, 7.0, 7.0])
    render(manager, unlit([flat]))
    assert manager.pick(60, H // 2, W, H).value == 1.0 and manager.pick(100, H // 2, W, H).value == 7.0
    assert manager.pick(5, 5, W, H) is None


# ------------------------------------------------------------------ slices and volumes


def slab_volume() -> rv.Volume:
    """Values 0..9 rising along x, 10 columns of 10 units, centred on the view (a 4 x 8 x 10 array)."""
    data = np.broadcast_to(np.arange(10, dtype=np.float32), (4, 8, 10)).copy()
    return rv.Volume(data, spacing=(10.0, 10.0, 10.0), origin=(-45.0, -35.0, -15.0))


def column_centres() -> np.ndarray:
    return (W // 2 - 50 + 5 + 10 * np.arange(10)).astype(int)


def test_an_ortho_slice_through_a_named_map_and_switched_without_resampling(make_manager):
    volume = slab_volume()
    plane = rv.OrthoSlice.of_volume(volume, axis="z", index=2, colormap="viridis", nearest=True)
    manager = make_manager()
    image = render(manager, examiner([plane]))
    shown = image[H // 2, column_centres()]
    np.testing.assert_allclose(shown, map_rgb("viridis", np.arange(10) / 9.0), atol=2)
    geometry = plane.geometry
    plane.colormap = "coolwarm"
    plane.window, plane.level = 4.0, 2.0  # 0..4: the columns from 4 on take the last colour
    image = render(manager, examiner([plane]))
    assert plane.geometry is geometry
    np.testing.assert_allclose(image[H // 2, column_centres()], map_rgb("coolwarm", np.arange(10) / 4.0), atol=2)
    mapping = plane.color_mapping()
    assert (mapping.colormap, mapping.low, mapping.high) == ("coolwarm", 0.0, 4.0)


def test_a_slice_on_a_log_scale(make_manager):
    volume = slab_volume()
    volume.data = (10.0 ** (volume.data / 3.0)).astype(np.float32)  # 1 .. 1000: 3 columns a decade
    volume.data[:, :, 0] = 0.0
    plane = rv.OrthoSlice.of_volume(volume, axis="z", index=1, colormap="plasma", nearest=True, log_scale=True,
                                    nan_color=(0.0, 1.0, 0.0))
    image = render(make_manager(), examiner([plane]))
    shown = image[H // 2, column_centres()]
    np.testing.assert_allclose(shown[0], (0, 255, 0), atol=1)
    low, high = plane.value_range()  # the positive values' range: 10^(1/3) .. 1000
    np.testing.assert_allclose((low, high), (10 ** (1 / 3), 1000.0), rtol=1e-5)
    expected = map_rgb("plasma", (np.arange(1, 10) / 3.0 - 1 / 3) / (3.0 - 1 / 3))
    np.testing.assert_allclose(shown[1:], expected, atol=2)


def test_a_volume_coloured_by_a_named_map(make_manager):
    volume = slab_volume()
    volume.transfer_function = rv.TransferFunction.from_colormap("inferno", opacity=1.0)
    volume.mode = rv.VolumeMode.MIP
    assert volume.color_mapping().colormap == "inferno" and volume.color_mapping().high == 9.0
    image = render(make_manager(), examiner([volume]))
    shown = image[H // 2, column_centres()]
    table = np.asarray(cmap.Colormap("bids:inferno").lut(256))[:, :3] * 255.0
    # The volume's table lookup puts position t at texel t * 256 - 0.5.
    x = np.clip(np.arange(10) / 9.0 * 256 - 0.5, 0, 255)
    expected = np.stack([np.interp(x, np.arange(256), table[:, k]) for k in range(3)], axis=-1)
    np.testing.assert_allclose(shown, expected, atol=5)  # through a half-float layer
    ramp = rv.TransferFunction.from_colormap("viridis")
    assert ramp.table[0, 3] == 0.0 and ramp.table[-1, 3] == 1.0
    recoloured = rv.TransferFunction.preset("ct").with_colormap("grey")
    np.testing.assert_array_equal(recoloured.table[:, 3], rv.TransferFunction.preset("ct").table[:, 3])
    assert recoloured.name == "grey"


# ------------------------------------------------------------------ files that carry scalars


def test_a_ply_files_vertex_and_face_properties_become_arrays_to_colour_by(make_manager, tmp_path):
    import trimesh

    # Two triangles with a shared edge written as separate vertices: trimesh would merge them on
    # loading, so the mesh must keep the file's vertex order for the arrays to line up.
    vertices = np.array([(-60, -40, 0), (60, -40, 0), (60, 40, 0), (-60, -40, 0), (60, 40, 0), (-60, 40, 0)], float)
    part = trimesh.Trimesh(vertices, [(0, 1, 2), (3, 4, 5)], process=False)
    part.vertex_attributes["pressure"] = (vertices[:, 0] * 10.0).astype(np.float32)
    part.face_attributes["zone"] = np.array([3.0, 7.0], np.float32)
    path = tmp_path / "part.ply"
    path.write_bytes(trimesh.exchange.ply.export_ply(part, encoding="binary", include_attributes=True))

    mesh = Mesh.from_file(path, scalars="pressure")
    assert set(mesh.arrays) == {"pressure", "zone"} and mesh.scalars_name == "pressure"
    np.testing.assert_array_equal(mesh.scalars, mesh.vertices[:, 0] * 10.0)
    manager = make_manager()
    image = render(manager, unlit([mesh]))
    columns = np.arange(25, 135)
    np.testing.assert_allclose(image[H // 2, columns], map_rgb("viridis", (column_x(columns) + 60.0) / 120.0), atol=3)
    assert math.isclose(manager.pick(100, H // 2, W, H).value, column_x(100) * 10.0, abs_tol=0.05)
    mesh.color_by("zone")  # one value per face
    render(manager, unlit([mesh]))
    assert {manager.pick(100, 80, W, H).value, manager.pick(60, 40, W, H).value} == {3.0, 7.0}
    with pytest.raises(KeyError, match="no array 'nope'; it has 'pressure', 'zone'"):
        mesh.color_by("nope")
    bar = rv.ColorBar(mesh)
    assert bar.picture_key(None)[-1] == "zone"  # the bar's title defaults to the array's name


# ------------------------------------------------------------------ big meshes


def test_decimated_copies_carry_the_scalars_and_a_map_switch_keeps_them(make_manager):
    from remoteviz.rendering.level_of_detail import LOD_MIN_TRIANGLES, decimate
    from remoteviz.rendering.renderer import Renderer

    from .test_level_of_detail import render_until_decimated, torus

    mesh = torus(250, 450)  # 225,000 triangles
    mesh.scalars = mesh.vertices[:, 1] * 10.0
    light = decimate(mesh.geometry, 8_000)
    # Each kept vertex takes the mean scalar of the vertices merged into it: near its own height.
    assert len(light.scalars) == len(light.positions)
    assert np.corrcoef(light.scalars, light.positions[:, 1])[0, 1] > 0.99
    assert np.abs(light.scalars - light.positions[:, 1] * 10.0).mean() < 0.2
    full = len(mesh.indices)
    assert full > LOD_MIN_TRIANGLES
    manager = make_manager()
    manager.scene_graph = unlit([mesh])
    manager.antialiasing = 0
    manager.render(W, H)
    render_until_decimated(manager, full)
    mesh.colormap = "inferno"
    manager.render(W, H, interactive=True)
    assert Renderer.shared().triangles_drawn < full / 2  # the copy is still there: nothing to decimate again


def test_integer_classes_through_a_qualitative_map_take_one_colour_each(make_manager):
    classes = np.arange(10)
    positions = np.column_stack([classes * 14.0 - 63.0, np.zeros(10), np.zeros(10)]).astype(np.float32)
    points = PointSet(positions, size=7.0, arrays={"classification": classes}, colormap="tab10")
    points.color_by("classification")
    image = render(make_manager(), examiner([points]))
    shown = image[H // 2, (positions[:, 0] + W / 2).astype(int)]
    np.testing.assert_allclose(shown, np.asarray(cmap.Colormap("tableau:tab10").lut(10))[:, :3] * 255.0, atol=1)
