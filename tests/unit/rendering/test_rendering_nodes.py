"""Switch, visibility, face colours, clip planes, points, lines, textures and labels, rendered with
real OpenGL and compared with expectations computed in numpy; picking on each."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from PIL import Image

from remoteviz.rendering import (
    ClipPlane,
    Cone,
    Cube,
    ImagePlane,
    LineSet,
    Material,
    Mesh,
    PointSet,
    Separator,
    Switch,
    Text2D,
    Texture2D,
    TextureFilter,
    Transform,
)
from remoteviz.rendering.actions import gather

from .scenes import H, W, examiner, pixel_centres, render

BLACK_BACKGROUND = 0


def covered(image: np.ndarray) -> np.ndarray:
    """Pixels that are not the black background."""
    return image.max(axis=2) > 30


def flat(color: tuple[float, float, float]) -> Material:
    """A material that shows ``color`` exactly, whatever the light."""
    return Material(diffuse_color=(0.0, 0.0, 0.0), ambient_color=(0.0, 0.0, 0.0), emissive_color=color)


# ------------------------------------------------------------------ switch and visibility


def test_a_switch_shows_one_child_or_none(make_manager):
    cone, cube = Cone(bottom_radius=20, height=40), Cube(width=60, height=60, depth=60)
    switch = Switch([cone, cube])
    root = examiner([switch])
    manager = make_manager()
    assert not covered(render(manager, root)).any()  # -1: none
    switch.which_child = 1
    cube_mask = covered(render(manager, root))
    assert cube_mask.sum() == 60 * 60
    assert manager.pick(W // 2, H // 2, W, H).node is cube
    switch.which_child = 0
    cone_mask = covered(render(manager, root))
    assert 0 < cone_mask.sum() < cube_mask.sum() and manager.pick(W // 2, H // 2, W, H).node is cone
    switch.which_child = 5  # past the end: none
    assert not covered(render(manager, root)).any()
    assert manager.pick(W // 2, H // 2, W, H) is None
    with pytest.raises(ValueError):
        switch.which_child = -2


def test_a_hidden_node_is_neither_drawn_picked_nor_framed_with_everything_below_it(make_manager):
    cube = Cube(width=40, height=40, depth=40)
    far = Separator([Transform(translation=(200.0, 0.0, 0.0)), Cube()])
    root = examiner([cube, far])
    manager = make_manager()
    assert covered(render(manager, root)).sum() == 40 * 40
    assert gather(root).bounding_box.maximum[0] == pytest.approx(201.0)
    far.visible = False
    assert gather(root).bounding_box.maximum[0] == pytest.approx(20.0)  # not framed
    cube.visible = False
    assert not covered(render(manager, root)).any()
    assert manager.pick(W // 2, H // 2, W, H) is None
    cube.visible = True
    assert manager.pick(W // 2, H // 2, W, H).node is cube


# ------------------------------------------------------------------ face colours


def test_per_face_colours_colour_each_triangle(make_manager):
    square = np.array([[-40, -40, 0], [40, -40, 0], [40, 40, 0], [-40, 40, 0]], np.float32)
    mesh = Mesh(square, [[0, 1, 2], [0, 2, 3]], face_colors=[[255, 0, 0], [0, 0, 255]])
    image = render(make_manager(), examiner([mesh]))
    x, y = pixel_centres()
    lower_right = (np.abs(x) < 39) & (np.abs(y) < 39) & (y < x - 1)
    upper_left = (np.abs(x) < 39) & (np.abs(y) < 39) & (y > x + 1)
    # Lit head-on by the headlight, a pure colour saturates: exactly red and exactly blue.
    assert (image[lower_right] == (255, 0, 0)).all()
    assert (image[upper_left] == (0, 0, 255)).all()
    with pytest.raises(ValueError, match="face_colors"):
        _ = Mesh(square, [[0, 1, 2], [0, 2, 3]], face_colors=[[255, 0, 0]]).geometry


# ------------------------------------------------------------------ clip planes


def test_a_clip_plane_removes_exactly_the_half_behind_it(make_manager):
    plane = ClipPlane(normal=(1.0, 0.0, 0.0), offset=0.0)
    cube = Cube(width=80, height=80, depth=80)
    root = examiner([flat((1.0, 0.0, 0.0)), plane, cube])
    manager = make_manager()
    mask = covered(render(manager, root))
    x, y = pixel_centres()
    inside = (np.abs(x) < 40) & (np.abs(y) < 40)
    np.testing.assert_array_equal(mask, inside & (x > 0))
    assert manager.pick(W // 2 - 10, H // 2, W, H) is None  # clipped away: nothing to pick
    assert manager.pick(W // 2 + 10, H // 2, W, H).node is cube

    plane.move(15.0)  # what an application does on a message: slide the plane
    np.testing.assert_array_equal(covered(render(manager, root)), inside & (x > 15))
    plane.set_plane((0.0, 0.0, 0.0), (-1.0, 0.0, 0.0))  # keep the other half
    np.testing.assert_array_equal(covered(render(manager, root)), inside & (x < 0))

    root.insert_child(2, ClipPlane(normal=(0.0, 1.0, 0.0), offset=-10.0))  # two planes add up
    np.testing.assert_array_equal(covered(render(manager, root)), inside & (x < 0) & (y > -10))
    plane.on = False
    np.testing.assert_array_equal(covered(render(manager, root)), inside & (y > -10))


def test_a_clip_plane_affects_only_what_follows_it_in_its_separator(make_manager):
    left = Separator([Transform(translation=(-40, 0, 0)), ClipPlane(normal=(0, 1, 0)), Cube(width=30, height=30, depth=30)])
    right = Separator([Transform(translation=(40, 0, 0)), Cube(width=30, height=30, depth=30)])
    mask = covered(render(make_manager(), examiner([left, right])))
    x, y = pixel_centres()
    np.testing.assert_array_equal(mask[:, : W // 2], ((np.abs(x + 40) < 15) & (y > 0) & (y < 15))[:, : W // 2])
    np.testing.assert_array_equal(mask[:, W // 2 :], ((np.abs(x - 40) < 15) & (np.abs(y) < 15))[:, W // 2 :])


def test_a_clip_plane_under_a_transform_moves_with_it():
    plane = ClipPlane(normal=(1.0, 0.0, 0.0), offset=1.0)
    root = Separator([Transform(translation=(5.0, 0.0, 0.0), scale=(2.0, 2.0, 2.0)), plane, Cube()])
    (instance,) = gather(root).shapes
    # Local x >= 1 is world x >= 5 + 2 * 1.
    assert instance.keeps(np.array([[7.01, 0, 0], [6.99, 0, 0]])).tolist() == [True, False]


# ------------------------------------------------------------------ points


def test_points_cover_the_discs_they_should_in_their_colours(make_manager):
    centres = np.array([[-40.5, 20.5, 0.0], [0.5, 0.5, 0.0], [30.5, -20.5, 0.0]], np.float32)
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    points = PointSet(centres, colours, sizes=[5.0, 9.0, 1.0])
    image = render(make_manager(), examiner([points]))
    x, y = pixel_centres()
    expected = np.zeros((H, W), dtype=int) - 1
    for index, ((cx, cy, _), size) in enumerate(zip(centres, [5.0, 9.0, 1.0])):
        radius = size / 2.0
        square = (np.abs(x - cx) < radius) & (np.abs(y - cy) < radius)
        disc = (x - cx) ** 2 + (y - cy) ** 2 <= radius**2
        expected[square & (disc if size >= 3 else True)] = index
    np.testing.assert_array_equal(covered(image), expected >= 0)
    for index in range(3):
        assert (image[expected == index] == colours[index]).all()


def test_a_million_points_render_and_the_nearest_is_picked(make_manager):
    rng = np.random.default_rng(1)
    positions = rng.uniform(-50, 50, (1_000_000, 3)).astype(np.float32)
    positions[:, 2] = 0.0
    points = PointSet(positions, size=1.0)
    manager = make_manager()
    mask = covered(render(manager, examiner([Material(diffuse_color=(1, 1, 1)), points])))
    x, y = pixel_centres()
    inside = (np.abs(x) < 49.5) & (np.abs(y) < 49.5)
    assert mask[inside].all() and not mask[~((np.abs(x) < 51) & (np.abs(y) < 51))].any()  # boundary points may round either way
    picked = manager.pick(W // 2, H // 2, W, H)
    assert picked.node is points
    # The point picked is the nearest one to the pixel centre's ray (0.5, -0.5).
    distances = np.hypot(positions[:, 0] - 0.5, positions[:, 1] + 0.5)
    assert picked.index == int(np.argmin(distances))


def test_picking_points_finds_the_nearest_within_a_few_pixels(make_manager):
    points = PointSet([[0.5, -0.5, 0.0], [10.5, -0.5, 0.0]], size=2.0)
    manager = make_manager()
    manager.scene_graph = examiner([points])
    assert manager.pick(W // 2 + 3, H // 2, W, H).index == 0  # 3 pixels from the first point
    assert manager.pick(W // 2 + 7, H // 2, W, H).index == 1  # 3 pixels from the second
    assert manager.pick(W // 2 + 5, H // 2 + 6, W, H) is None  # more than 4 from both
    hit = manager.pick(W // 2 + 10, H // 2, W, H)
    np.testing.assert_allclose(hit.point, (10.5, -0.5, 0.0))


# ------------------------------------------------------------------ lines


def test_a_wide_line_covers_its_rectangle_and_polylines_break_between_counts(make_manager):
    # A horizontal segment from x = -30 to 30 at y = 0, 4 pixels wide (the ends grow by half the
    # width), and a separate vertical one.
    positions = np.array([[-30, 0, 0], [30, 0, 0], [50, -20, 0], [50, 20, 0]], np.float32)
    colours = np.array([[255, 0, 0], [255, 0, 0], [0, 255, 0], [0, 255, 0]], np.uint8)
    lines = LineSet(positions, counts=[2, 2], colors=colours, width=4.0)
    image = render(make_manager(), examiner([lines]))
    x, y = pixel_centres()
    horizontal = (np.abs(x) < 32) & (np.abs(y) < 2)
    vertical = (np.abs(x - 50) < 2) & (np.abs(y) < 22)
    np.testing.assert_array_equal(covered(image), horizontal | vertical)
    assert (image[horizontal] == (255, 0, 0)).all() and (image[vertical] == (0, 255, 0)).all()
    assert len(lines.geometry.segments) == 2  # no segment joins the two polylines


def test_lines_lie_on_top_of_the_surface_they_are_drawn_on(make_manager):
    box = Cube(width=60, height=60, depth=60)
    edge = LineSet([[-20, 0, 30], [20, 0, 30]], width=2.0)  # on the front face
    image = render(make_manager(), examiner([flat((0, 0, 1)), box, Material(diffuse_color=(1, 1, 0)), edge]))
    assert (image[H // 2 - 1 : H // 2 + 1, W // 2 - 15 : W // 2 + 15] == (255, 255, 0)).all()


def test_picking_lines_finds_the_nearest_segment(make_manager):
    positions = [[-30, 0, 0], [0, 0, 0], [0, 30, 0]]  # one polyline of two segments
    lines = LineSet(positions, width=2.0)
    manager = make_manager()
    manager.scene_graph = examiner([lines])
    assert manager.pick(W // 2 - 15, H // 2 + 2, W, H).index == 0
    picked = manager.pick(W // 2 + 2, H // 2 - 15, W, H)
    assert picked.index == 1 and picked.point[1] == pytest.approx(14.5, abs=0.01)
    assert manager.pick(W // 2 + 20, H // 2 + 20, W, H) is None


def test_mesh_edges_for_cad_are_the_boxs_twelve_edges():
    box = trimesh.creation.box(extents=(2, 2, 2))
    edges = LineSet.from_mesh_edges(Mesh(box.vertices, box.faces), width=2.0)
    assert len(edges.geometry.segments) == 12 and edges.width == 2.0
    lengths = np.linalg.norm(np.diff(edges.positions[edges.geometry.segments], axis=1)[:, 0], axis=1)
    np.testing.assert_allclose(lengths, 2.0)
    open_square = Mesh([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], [[0, 1, 2], [0, 2, 3]])
    assert len(LineSet.from_mesh_edges(open_square).geometry.segments) == 4  # the border only


# ------------------------------------------------------------------ textures


WHITE = Material(diffuse_color=(1.0, 1.0, 1.0))  # lit head-on, texture colours saturate to themselves
TEXELS = np.array(  # 2 x 2, top row first
    [[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]], np.uint8
)


def quadrant_colours(image: np.ndarray, cx: int, cy: int, d: int) -> list[tuple[int, ...]]:
    """Colours at (top-left, top-right, bottom-left, bottom-right) ``d`` pixels from a centre."""
    return [tuple(image[cy + dy, cx + dx]) for dy, dx in ((-d, -d), (-d, d), (d, -d), (d, d))]


def test_a_texture_pixel_appears_where_its_coordinates_say(make_manager):
    square = np.array([[-40, -40, 0], [40, -40, 0], [40, 40, 0], [-40, 40, 0]], np.float32)
    # Turned a quarter: texture (0, 0), the image's bottom-left texel, goes to the top-left corner.
    texcoords = [[0, 1], [0, 0], [1, 0], [1, 1]]
    mesh = Mesh(square, [[0, 1, 2], [0, 2, 3]], texcoords=texcoords)
    root = examiner([WHITE, Texture2D(TEXELS, filter=TextureFilter.NEAREST), mesh])
    image = render(make_manager(), root)
    # The image: top-left red, top-right green, bottom-left blue, bottom-right white. Corner
    # (-40, 40) has uv (1, 1), the image's top right: green; (40, 40) has (1, 0): white;
    # (-40, -40) has (0, 1): red; (40, -40) has (0, 0): blue.
    assert quadrant_colours(image, W // 2, H // 2, 20) == [(0, 255, 0), (255, 255, 255), (255, 0, 0), (0, 0, 255)]


def test_an_image_plane_shows_a_numpy_image_the_right_way_up(make_manager):
    plane = ImagePlane(TEXELS, width=80, filter="nearest")
    assert plane.height == 80
    manager = make_manager()
    image = render(manager, examiner([WHITE, plane]))
    assert quadrant_colours(image, W // 2, H // 2, 20) == [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
    assert manager.pick(W // 2 + 39, H // 2, W, H).node is plane
    assert manager.pick(W // 2 + 41, H // 2, W, H) is None


@pytest.mark.parametrize("file_type", ["glb", "obj"])
def test_a_textured_file_keeps_its_texture_coordinates(make_manager, tmp_path, file_type):
    square = trimesh.Trimesh(
        [[-40, -40, 0], [40, -40, 0], [40, 40, 0], [-40, 40, 0]], [[0, 1, 2], [0, 2, 3]], process=False
    )
    material = trimesh.visual.material.SimpleMaterial(image=Image.fromarray(TEXELS))
    square.visual = trimesh.visual.TextureVisuals(uv=[[0, 0], [1, 0], [1, 1], [0, 1]], material=material)
    path = tmp_path / f"square.{file_type}"
    square.export(path)
    mesh = Mesh.from_file(path)
    assert mesh.texture is not None and mesh.texcoords is not None
    mesh.texture.filter = TextureFilter.NEAREST
    image = render(make_manager(), examiner([WHITE, mesh]))
    assert quadrant_colours(image, W // 2, H // 2, 20) == [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]


def test_editing_a_texture_redraws_the_mesh_that_holds_it(make_manager):
    plane = ImagePlane(TEXELS, width=80, filter="nearest")
    changes = []
    manager = make_manager(on_change=lambda: changes.append(1))
    root = examiner([WHITE, plane])
    render(manager, root)
    changes.clear()
    plane.texture.image = np.zeros((2, 2, 3), np.uint8) + 128
    assert changes
    image = render(manager, root)
    assert quadrant_colours(image, W // 2, H // 2, 20)[0] != (255, 0, 0)


# ------------------------------------------------------------------ labels


def test_a_screen_label_is_drawn_at_its_place_on_top_of_everything(make_manager):
    label = Text2D("Hi 42", screen_position=(10, 8), font_size=20, color=(1, 1, 0), background=None)
    box = Cube(width=300, height=300, depth=300)
    image = render(make_manager(), examiner([flat((0, 0, 1)), box, label]))
    height, width = label.geometry.image.shape[:2]
    yellow = (image[..., 0] > 200) & (image[..., 1] > 200) & (image[..., 2] < 100)
    rows, cols = np.nonzero(yellow)
    assert len(rows) > 30  # glyph pixels
    assert rows.min() >= 8 and rows.max() < 8 + height and cols.min() >= 10 and cols.max() < 10 + width
    assert (image[~yellow & ~(image[..., 0] > 20)][:, 2] > 200).all()  # elsewhere: the blue box


def test_an_anchored_label_follows_its_point_and_is_picked(make_manager):
    label = Text2D("P", position=(20.0, 10.0, 0.0), offset=(0.0, 0.0), font_size=16)
    manager = make_manager()
    root = examiner([Cube(width=2, height=2, depth=2), label])
    image = render(manager, root)
    height, width = label.geometry.image.shape[:2]
    # The label's bottom-left corner is at the anchor's pixel: x = 20 -> column W/2 + 20.
    left, bottom = W // 2 + 20, H // 2 - 10
    in_label = np.zeros((H, W), bool)
    in_label[bottom - height : bottom, left : left + width] = True
    assert (image[in_label] > 200).all(axis=1).sum() > 10  # the white letter
    cube = np.zeros((H, W), bool)
    cube[H // 2 - 1 : H // 2 + 1, W // 2 - 1 : W // 2 + 1] = True
    assert not covered(image)[~in_label & ~cube].any()  # nothing else drawn
    picked = manager.pick(left + 2, bottom - 2, W, H)
    assert picked is not None and picked.node is label
    assert manager.pick(left - 5, bottom + 5, W, H) is None


def test_labels_read_the_right_way_up(make_manager):
    # A "T": its bar is at the top, so the top rows of its glyph hold more pixels than the bottom.
    label = Text2D("T", screen_position=(40, 20), font_size=40, background=None)
    image = render(make_manager(), examiner([label]))
    rows = np.nonzero(covered(image))[0]
    top, bottom = rows.min(), rows.max()
    counts = covered(image).sum(axis=1)
    assert counts[top : top + 4].sum() > 3 * counts[bottom - 3 : bottom + 1].sum()


def test_gpu_copies_are_freed_when_their_nodes_go(make_manager):
    import gc

    from OpenGL import GL

    from remoteviz.rendering.renderer import Renderer

    manager = make_manager()
    plane = ImagePlane(TEXELS, width=40)
    points = PointSet(np.zeros((10, 3)))
    root = examiner([plane, points])
    render(manager, root)
    renderer = Renderer.shared()
    texture = renderer._cache[plane.texture].gpu.texture.handle  # the cache is what is under test
    vao = renderer._cache[points].gpu.vertices.vao
    with renderer.bound():
        assert GL.glIsTexture(texture) and GL.glIsVertexArray(vao)
    manager.scene_graph = None
    del plane, points, root
    gc.collect()
    render(manager, examiner([]))  # the next render frees them, with the context current
    with renderer.bound():
        assert not GL.glIsTexture(texture) and not GL.glIsVertexArray(vao)
