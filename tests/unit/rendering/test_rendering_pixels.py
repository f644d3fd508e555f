"""Rendering with real OpenGL (EGL + Mesa llvmpipe when headless), checked on the pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

from remoteviz.events import (
    KeyAction,
    KeyEvent,
    Modifiers,
    MouseAction,
    MouseButton,
    MouseEvent,
    TouchAction,
    TouchEvent,
    WheelEvent,
)
from remoteviz.rendering import (
    Cone,
    Cube,
    EventCallback,
    GestureType,
    GradientBackground,
    InteractionMode,
    Material,
    Mesh,
    OrthographicCamera,
    SceneExaminer,
    Viewport,
)

W, H = 128, 96
BLUE, GREEN = (0.0, 0.0, 1.0), (0.0, 1.0, 0.0)


def red_mask(image: np.ndarray) -> np.ndarray:
    """Pixels that are clearly red, the colour given to the shapes being measured."""
    r, g, b = (image[..., k].astype(int) for k in range(3))
    return (r > 90) & (r > 2 * g + 20) & (r > 2 * b + 20)


def hello_cone(color: tuple[float, float, float] | None = (1.0, 0.0, 0.0)) -> SceneExaminer:
    """SceneExaminer + blue-to-green background + cone (red unless ``color`` is None), framed."""
    examiner = SceneExaminer()
    examiner.add_child(GradientBackground(top_color=BLUE, bottom_color=GREEN))
    if color is not None:
        examiner.add_child(Material(diffuse_color=color))
    examiner.add_child(Cone())
    examiner.view_all(Viewport(W, H))
    return examiner


def mouse(
    action: MouseAction, x: int, y: int, buttons: int = 0, modifiers: Modifiers = Modifiers.NONE
) -> MouseEvent:
    return MouseEvent(action, x, y, MouseButton.LEFT, buttons, modifiers)


def test_hello_cone_with_default_material_is_grey_on_the_gradient(make_manager):
    manager = make_manager()
    manager.scene_graph = hello_cone(color=None)
    image = manager.render(W, H).astype(int)
    assert image.shape == (H, W, 3)
    r, g, b = image[H // 2, W // 2]
    assert abs(r - g) <= 2 and abs(g - b) <= 2 and r > 150  # lit light grey
    # Rows run top to bottom: the top colour is on the first row.
    for corner in (image[0, 0], image[0, -1]):
        np.testing.assert_allclose(corner, (0, 0, 255), atol=6)
    for corner in (image[-1, 0], image[-1, -1]):
        np.testing.assert_allclose(corner, (0, 255, 0), atol=6)


def test_material_colours_the_cone(make_manager):
    manager = make_manager()
    manager.scene_graph = hello_cone()
    image = manager.render(W, H)
    assert red_mask(image)[H // 2, W // 2]
    assert not red_mask(image)[0, 0]


def test_wheel_towards_the_screen_zooms_in(make_manager):
    manager = make_manager()
    manager.scene_graph = hello_cone()
    before = red_mask(manager.render(W, H)).sum()
    assert manager.process_event(WheelEvent(W // 2, H // 2, delta=-3.0), W, H)
    after = red_mask(manager.render(W, H)).sum()
    assert after > before * 1.3
    assert manager.process_event(WheelEvent(W // 2, H // 2, delta=6.0), W, H)
    assert red_mask(manager.render(W, H)).sum() < before


@pytest.mark.parametrize("buttons,modifiers", [(2, Modifiers.NONE), (1, Modifiers.CTRL)])
def test_dragging_up_with_right_button_or_ctrl_zooms_in(make_manager, buttons, modifiers):
    manager = make_manager()
    manager.scene_graph = hello_cone()
    before = red_mask(manager.render(W, H)).sum()
    manager.process_event(mouse(MouseAction.DOWN, 64, 60, buttons, modifiers), W, H)
    assert manager.process_event(mouse(MouseAction.MOVE, 64, 40, buttons, modifiers), W, H)
    assert red_mask(manager.render(W, H)).sum() > before * 1.3


def silhouette_fill(mask: np.ndarray) -> float:
    """How much of its bounding rectangle a silhouette covers: 1/2 for a triangle, pi/4 for a disk."""
    rows, cols = np.nonzero(mask)
    return mask.sum() / ((np.ptp(rows) + 1) * (np.ptp(cols) + 1))


def test_dragging_down_orbits_the_apex_towards_the_viewer(make_manager):
    manager = make_manager()
    examiner = hello_cone()
    manager.scene_graph = examiner
    side = red_mask(manager.render(W, H))
    assert silhouette_fill(side) == pytest.approx(0.5, abs=0.06)  # a triangle seen from the side
    manager.process_event(mouse(MouseAction.DOWN, 64, 20, buttons=1), W, H)
    # Half the viewport's smaller side is a quarter turn: the apex now points at the camera.
    assert manager.process_event(mouse(MouseAction.MOVE, 64, 20 + H // 2, buttons=1), W, H)
    manager.process_event(mouse(MouseAction.UP, 64, 20 + H // 2), W, H)
    top = red_mask(manager.render(W, H))
    assert silhouette_fill(top) == pytest.approx(math.pi / 4, abs=0.06)  # a disk seen end-on
    np.testing.assert_allclose(examiner.camera.view_direction, (0.0, -1.0, 0.0), atol=1e-6)


def test_headlight_follows_the_camera_round_the_back(make_manager):
    manager = make_manager()
    examiner = SceneExaminer()
    examiner.add_child(Material(diffuse_color=(1.0, 0.0, 0.0)))
    examiner.add_child(Cube())
    examiner.view_all(Viewport(W, H))
    manager.scene_graph = examiner
    front = manager.render(W, H)[H // 2, W // 2].astype(int)
    manager.process_event(mouse(MouseAction.DOWN, 10, 50, buttons=1), W, H)
    manager.process_event(mouse(MouseAction.MOVE, 10 + H, 50, buttons=1), W, H)  # half a turn
    np.testing.assert_allclose(examiner.camera.view_direction, (0.0, 0.0, 1.0), atol=1e-6)
    back = manager.render(W, H)[H // 2, W // 2].astype(int)
    assert front[0] > 200
    np.testing.assert_allclose(back, front, atol=3)  # the face towards the camera is lit again


def test_middle_drag_pans_the_cone_with_the_pointer(make_manager):
    manager = make_manager()
    manager.scene_graph = hello_cone()
    before = np.nonzero(red_mask(manager.render(W, H)))[1].mean()
    manager.process_event(MouseEvent(MouseAction.DOWN, 60, 50, MouseButton.MIDDLE, 4), W, H)
    manager.process_event(MouseEvent(MouseAction.MOVE, 80, 50, MouseButton.MIDDLE, 4), W, H)
    after = np.nonzero(red_mask(manager.render(W, H)))[1].mean()
    assert after - before == pytest.approx(20, abs=2)


def framed_mesh() -> Mesh:
    box = trimesh.creation.box(extents=(4.0, 1.0, 2.0))
    box.apply_translation((10.0, -3.0, 2.0))
    return Mesh(box.vertices, box.faces)


@pytest.mark.parametrize("width,height", [(W, H), (H, W)])
@pytest.mark.parametrize("orthographic", [False, True])
def test_view_all_frames_the_mesh_bounding_box(make_manager, width, height, orthographic):
    examiner = SceneExaminer(camera=OrthographicCamera() if orthographic else None)
    examiner.add_child(Material(diffuse_color=(0.0, 0.0, 0.0), emissive_color=(1.0, 0.0, 0.0)))
    examiner.add_child(framed_mesh())
    examiner.view_all(Viewport(width, height))
    manager = make_manager()
    manager.scene_graph = examiner
    mask = red_mask(manager.render(width, height))
    rows, cols = np.nonzero(mask)
    # Nothing clipped: the border of the image stays clear on all four sides ...
    assert rows.min() > 0 and cols.min() > 0 and rows.max() < height - 1 and cols.max() < width - 1
    # ... and the mesh reaches close to the edges on its limiting side.
    assert max((np.ptp(cols) + 1) / width, (np.ptp(rows) + 1) / height) > 0.9


def test_picking_returns_the_cone_at_the_centre_and_none_on_the_background(make_manager):
    manager = make_manager()
    examiner = hello_cone()
    manager.scene_graph = examiner
    cone = examiner.children[-1]
    picked = manager.pick(W // 2, H // 2, W, H)
    assert picked is not None
    assert picked.node is cone
    assert picked.path == (examiner, cone)
    assert picked.point[2] > 0.0  # on the side facing the camera (which looks down -z)
    assert np.dot(picked.normal, examiner.camera.view_direction) < 0.0
    assert manager.pick(2, 2, W, H) is None
    assert examiner.pick(W // 2, H // 2, Viewport(W, H)).node is cone


def test_picking_with_an_orthographic_camera(make_manager):
    examiner = SceneExaminer(camera=OrthographicCamera())
    cone = examiner.add_child(Cone())
    examiner.view_all(Viewport(W, H))
    manager = make_manager()
    manager.scene_graph = examiner
    assert manager.pick(W // 2, H // 2, W, H).node is cone
    assert manager.pick(W // 2, 1, W, H) is None


def test_pinch_out_zooms_in(make_manager):
    manager = make_manager()
    manager.scene_graph = hello_cone()
    manager.touch_manager.add_default_recognizers()
    before = red_mask(manager.render(W, H)).sum()
    events = [
        TouchEvent(TouchAction.START, 1, 54, 48),
        TouchEvent(TouchAction.START, 2, 74, 48),
        TouchEvent(TouchAction.MOVE, 1, 44, 48),
        TouchEvent(TouchAction.MOVE, 2, 84, 48),
    ]
    handled = [manager.process_event(event, W, H) for event in events]
    assert handled[-2:] == [True, True]
    assert red_mask(manager.render(W, H)).sum() > before * 2.0  # the fingers spread 2x


def test_a_gesture_listener_can_claim_gestures_from_the_examiner(make_manager):
    manager = make_manager()
    examiner = hello_cone()
    manager.scene_graph = examiner
    manager.touch_manager.add_default_recognizers()
    seen = []
    manager.touch_manager.add_gesture_listener(lambda gesture: seen.append(gesture.type) or True)
    position = examiner.camera.position
    for event in [
        TouchEvent(TouchAction.START, 1, 54, 48),
        TouchEvent(TouchAction.START, 2, 74, 48),
        TouchEvent(TouchAction.MOVE, 2, 94, 48),
    ]:
        manager.process_event(event, W, H)
    assert GestureType.PINCH in seen
    assert examiner.camera.position == position


def test_escape_toggles_selection_mode_where_events_reach_event_callbacks(make_manager):
    manager = make_manager()
    examiner = hello_cone()
    callback_node = EventCallback()
    examiner.insert_child(0, callback_node)
    manager.scene_graph = examiner
    received = []
    callback_node.add_event_callback(MouseEvent, lambda action: received.append(action.picked_point) or True)
    click = mouse(MouseAction.DOWN, W // 2, H // 2)

    manager.process_event(click, W, H)
    assert received == []  # NAVIGATION: the examiner keeps the events

    assert manager.process_event(KeyEvent(KeyAction.DOWN, 0, 0, "Escape"), W, H)
    assert examiner.interaction_mode is InteractionMode.SELECTION
    position = examiner.camera.position
    assert manager.process_event(click, W, H)
    manager.process_event(mouse(MouseAction.MOVE, W // 2 + 30, H // 2, buttons=1), W, H)
    assert len(received) == 2 and received[0].node is examiner.children[-1]
    assert examiner.camera.position == position  # selection does not navigate

    manager.process_event(KeyEvent(KeyAction.DOWN, 0, 0, "Escape"), W, H)
    assert examiner.interaction_mode is InteractionMode.NAVIGATION


@pytest.mark.parametrize("file_type", ["stl", "obj", "ply", "glb"])
def test_a_mesh_file_loads_and_renders(make_manager, tmp_path, file_type):
    sphere = trimesh.creation.icosphere(subdivisions=2)
    coloured = file_type in ("ply", "glb")  # formats that carry vertex colours
    if coloured:
        sphere.visual.vertex_colors = np.tile([255, 0, 0, 255], (len(sphere.vertices), 1))
    path = tmp_path / f"sphere.{file_type}"
    sphere.export(path)
    mesh = Mesh.from_file(path)
    assert len(mesh.geometry.indices) == len(sphere.faces)
    examiner = SceneExaminer()
    if not coloured:
        examiner.add_child(Material(diffuse_color=(1.0, 0.0, 0.0)))
    examiner.add_child(mesh)
    examiner.view_all(Viewport(W, H))
    manager = make_manager()
    manager.scene_graph = examiner
    mask = red_mask(manager.render(W, H))
    rows, _ = np.nonzero(mask)
    assert mask[H // 2, W // 2]
    assert np.ptp(rows) + 1 > 0.6 * H and rows.min() > 0 and rows.max() < H - 1  # framed, whole
    assert silhouette_fill(mask) == pytest.approx(math.pi / 4, abs=0.06)


def test_editing_a_field_re_renders_with_the_new_value(make_manager):
    changes = []
    manager = make_manager(on_change=lambda: changes.append(1))
    examiner = hello_cone()
    manager.scene_graph = examiner
    material = examiner.children[1]
    assert red_mask(manager.render(W, H))[H // 2, W // 2]
    changes.clear()
    material.diffuse_color = (0.0, 0.0, 1.0)
    assert changes
    image = manager.render(W, H).astype(int)
    assert image[H // 2, W // 2, 2] > 150 and image[H // 2, W // 2, 0] < 40


def test_the_cached_background_follows_its_colours_the_size_and_the_samples(make_manager):
    # The gradient is drawn once into a cached buffer and copied in at every frame: a new colour,
    # a new size and the other sample count must each show the gradient as it is now.
    manager = make_manager()
    examiner = hello_cone()
    manager.scene_graph = examiner
    background = examiner.children[0]
    for interactive in (False, True):
        image = manager.render(W, H, interactive=interactive).astype(int)
        np.testing.assert_allclose(image[0, 0], (0, 0, 255), atol=6)
    background.top_color = (1.0, 0.0, 0.0)
    for interactive in (False, True):
        image = manager.render(W, H, interactive=interactive).astype(int)
        np.testing.assert_allclose(image[0, 0], (255, 0, 0), atol=6)
        np.testing.assert_allclose(image[-1, -1], (0, 255, 0), atol=6)
    small = manager.render(40, 30).astype(int)
    np.testing.assert_allclose(small[0, 0], (255, 0, 0), atol=10)
    np.testing.assert_allclose(small[-1, 0], (0, 255, 0), atol=10)
    examiner.remove_child(background)
    np.testing.assert_array_equal(manager.render(W, H)[0, 0], (0, 0, 0))  # no background: black


def test_framebuffer_follows_the_requested_size(make_manager):
    manager = make_manager()
    manager.scene_graph = hello_cone()
    assert manager.render(W, H).shape == (H, W, 3)
    small = manager.render(64, 40)
    assert small.shape == (40, 64, 3)
    assert red_mask(small)[20, 32]
    assert manager.render(200, 150).shape == (150, 200, 3)


def test_render_areas_have_their_own_framebuffers(make_manager):
    first, second = make_manager(), make_manager()
    first.scene_graph = hello_cone()
    second.scene_graph = hello_cone(color=(0.0, 0.0, 1.0))
    a = first.render(W, H)
    b = second.render(64, 48)
    assert a.shape == (H, W, 3) and b.shape == (48, 64, 3)
    assert red_mask(first.render(W, H))[H // 2, W // 2]
    np.testing.assert_array_equal(first.render(W, H), a)  # the same scene renders the same


def test_a_scene_without_camera_is_framed_and_lit(make_manager):
    from remoteviz.rendering import Group

    manager = make_manager()
    root = Group()
    root.add_child(Material(diffuse_color=(1.0, 0.0, 0.0)))
    root.add_child(Cone())
    manager.scene_graph = root
    image = manager.render(W, H)
    rows, _ = np.nonzero(red_mask(image))
    # Framed: the cone is big and whole (its bounding box, not its outline, touches the border).
    assert np.ptp(rows) + 1 > 0.75 * H and rows.min() > 0 and rows.max() < H - 1
    assert image[H // 2, W // 2, 0] > 150  # lit by the default headlight
    assert manager.pick(W // 2, H // 2, W, H).node is root.children[1]


def test_an_empty_scene_manager_renders_black(make_manager):
    image = make_manager().render(32, 16)
    assert image.shape == (16, 32, 3) and not image.any()


def test_a_disposed_manager_refuses_to_render(make_manager):
    manager = make_manager()
    manager.render(16, 16)
    manager.dispose()
    manager.dispose()
    with pytest.raises(RuntimeError, match="disposed"):
        manager.render(16, 16)


def test_computed_normals_keep_a_boxs_faces_flat_and_a_spheres_round(make_manager):
    box = trimesh.creation.box(extents=(2.0, 2.0, 2.0))  # 8 shared corners, like an STL file
    examiner = SceneExaminer()
    examiner.add_child(Mesh(box.vertices, box.faces))
    examiner.view_all(Viewport(W, H))
    manager = make_manager()
    manager.scene_graph = examiner
    face = manager.render(W, H)[H // 2 - 15 : H // 2 + 15, W // 2 - 15 : W // 2 + 15].astype(int)
    assert np.ptp(face) <= 2  # one flat colour across the front face
    examiner.remove_child(0)
    sphere = trimesh.creation.icosphere(subdivisions=3)
    examiner.add_child(Mesh(sphere.vertices, sphere.faces))
    row = manager.render(W, H)[H // 2, W // 2 - 30 : W // 2 + 30].astype(int)[:, 0]
    assert row[30] > row[0] + 20 and len(np.unique(row)) > 15  # shading falls off smoothly


def flat_red_cone() -> SceneExaminer:
    """A cone of pure emissive red, framed: an edge pixel's red tells how much of it is covered."""
    examiner = SceneExaminer()
    examiner.add_child(Material(diffuse_color=(0.0, 0.0, 0.0), emissive_color=(1.0, 0.0, 0.0)))
    examiner.add_child(Cone())
    examiner.view_all(Viewport(W, H))
    return examiner


@pytest.mark.parametrize("samples", [0, 4])
def test_multisampling_blends_the_edges(make_manager, samples):
    examiner = flat_red_cone()
    manager = make_manager()
    manager.antialiasing = samples
    manager.scene_graph = examiner
    levels = np.unique(manager.render(W, H)[..., 0])
    if samples:
        assert len(levels) >= 4  # partly covered edge pixels get in-between reds
    else:
        assert set(levels) == {0, 255}


@pytest.mark.parametrize("samples", [0, 4])
def test_the_driver_flipped_readback_gives_the_same_image_as_numpys_flip(samples):
    # GL_MESA_pack_invert has glReadPixels write the rows top-down; the same frame read with
    # numpy's flip instead must give an identical image, top row first.
    from remoteviz.rendering.actions import Frame, gather
    from remoteviz.rendering.framebuffer import Framebuffer
    from remoteviz.rendering.renderer import Renderer

    examiner = hello_cone()
    examiner.camera.position = np.asarray(examiner.camera.position) + (0.0, -0.5, 0.0)  # cone high up
    gathered = gather(examiner)
    frame = Frame(gathered.shapes, gathered.camera, gathered.camera_model, gathered.background)
    renderer = Renderer.shared()
    with renderer.bound():
        framebuffer = Framebuffer(W, H, samples)
        try:
            assert framebuffer.flips_in_driver  # Mesa (llvmpipe) has the extension
            renderer.draw(frame, framebuffer)
            by_driver = framebuffer.read_pixels()
            framebuffer.flips_in_driver = False
            by_numpy = framebuffer.read_pixels()
        finally:
            framebuffer.delete()
    np.testing.assert_array_equal(by_driver, by_numpy)
    assert by_driver.flags.c_contiguous and by_driver.shape == (H, W, 3)
    np.testing.assert_allclose(by_driver[0, 0], (0, 0, 255), atol=6)  # blue top row
    np.testing.assert_allclose(by_driver[-1, 0], (0, 255, 0), atol=6)  # green bottom row
    rows = np.flatnonzero(red_mask(by_driver).any(axis=1))
    assert rows.size and rows.mean() < H / 2  # the raised cone is in the upper half


def test_a_still_of_more_triangles_than_the_limit_is_not_multisampled(make_manager):
    examiner = flat_red_cone()
    manager = make_manager()
    manager.scene_graph = examiner
    assert manager.antialiasing == 4 and manager.antialiasing_max_triangles == 500_000
    assert len(np.unique(manager.render(W, H)[..., 0])) >= 4  # a small scene: blended edges
    manager.antialiasing_max_triangles = 10  # fewer than the cone's
    hard = manager.render(W, H)
    assert set(np.unique(hard[..., 0])) == {0, 255}
    np.testing.assert_array_equal(hard, manager.render(W, H, interactive=True))  # as a drag draws it
    manager.antialiasing_max_triangles = None
    assert len(np.unique(manager.render(W, H)[..., 0])) >= 4
    with pytest.raises(ValueError):
        manager.antialiasing_max_triangles = -1
