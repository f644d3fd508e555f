"""The scene graph without OpenGL: fields, change notification, traversal state, math, shapes."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from remoteviz.events import MouseAction, MouseButton, MouseEvent
from remoteviz.rendering import (
    Cone,
    Cube,
    Cylinder,
    DirectionalLight,
    Group,
    Material,
    Mesh,
    PerspectiveCamera,
    RenderingUnavailableError,
    Rotation,
    SceneExaminer,
    SceneManager,
    Separator,
    Sphere,
    Transform,
    Viewport,
    gl_platform,
)
from remoteviz.rendering.actions import gather


class Counter:
    """An on_change callback that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


def test_field_edits_anywhere_below_the_root_notify_the_scene_manager():
    counter = Counter()
    manager = SceneManager(on_change=counter)
    root = Group()
    inner = root.add_child(Separator())
    material = inner.add_child(Material())
    manager.scene_graph = root
    assert counter.calls == 1  # setting the scene graph

    material.diffuse_color = (1.0, 0.0, 0.0)
    assert counter.calls == 2
    cone = inner.add_child(Cone())
    assert counter.calls == 3
    cone.height = 3.0
    assert counter.calls == 4
    inner.remove_child(cone)
    assert counter.calls == 5
    cone.height = 4.0  # no longer in the scene
    assert counter.calls == 5

    manager.scene_graph = Group()
    material.diffuse_color = (0.0, 1.0, 0.0)  # the old scene is no longer observed
    assert counter.calls == 6


def test_navigation_notifies_through_the_examiners_camera():
    counter = Counter()
    manager = SceneManager(on_change=counter)
    examiner = SceneExaminer([Cone()])
    manager.scene_graph = examiner
    before = counter.calls
    manager.process_event(MouseEvent(MouseAction.DOWN, 10, 10, MouseButton.LEFT, 1), 64, 64)
    manager.process_event(MouseEvent(MouseAction.MOVE, 20, 10, MouseButton.LEFT, 1), 64, 64)
    assert counter.calls > before
    after_move = counter.calls
    examiner.camera.focal_distance = 3.0
    assert counter.calls == after_move + 1


def test_fields_check_their_values():
    with pytest.raises(ValueError):
        Material(diffuse_color=(2.0, 0.0, 0.0))
    with pytest.raises(ValueError):
        Cone(height=-1.0)
    with pytest.raises(TypeError, match="no field"):
        Cone(radius=1.0)
    with pytest.raises(TypeError):
        DirectionalLight(on=1)
    assert DirectionalLight(direction=(0.0, 0.0, -5.0)).direction == (0.0, 0.0, -1.0)


def test_a_group_refuses_cycles():
    outer = Group()
    inner = outer.add_child(Group())
    with pytest.raises(ValueError, match="cycle"):
        inner.add_child(outer)
    with pytest.raises(ValueError, match="cycle"):
        outer.add_child(outer)


def test_separators_contain_transforms_materials_and_lights():
    red = Material(diffuse_color=(1.0, 0.0, 0.0))
    inside, outside = Cube(name="inside"), Cube(name="outside")
    root = Group(
        [
            Separator([Transform(translation=(1.0, 2.0, 3.0)), red, DirectionalLight(), inside]),
            outside,
        ]
    )
    shapes = {instance.shape.name: instance for instance in gather(root).shapes}
    np.testing.assert_allclose(shapes["inside"].model[:3, 3], (1.0, 2.0, 3.0))
    assert shapes["inside"].material is red and len(shapes["inside"].lights) == 1
    np.testing.assert_allclose(shapes["outside"].model, np.eye(4))
    assert shapes["outside"].material is not red and shapes["outside"].lights == ()
    assert shapes["inside"].path == (root, root.children[0], inside)


def test_transform_applies_scale_then_rotation_then_translation():
    transform = Transform(
        translation=(1.0, 0.0, 0.0), rotation=((0.0, 0.0, 1.0), math.pi / 2), scale=(2.0, 1.0, 1.0)
    )
    point = transform.matrix @ np.array([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(point[:3], (1.0, 2.0, 0.0), atol=1e-12)


def test_rotation_forms_agree():
    quarter = Rotation.from_axis_angle((0.0, 1.0, 0.0), math.pi / 2)
    np.testing.assert_allclose(quarter.rotate((1.0, 0.0, 0.0)), (0.0, 0.0, -1.0), atol=1e-12)
    np.testing.assert_allclose((quarter * quarter).rotate((1.0, 0.0, 0.0)), (-1.0, 0.0, 0.0), atol=1e-12)
    axis, angle = quarter.axis_angle
    np.testing.assert_allclose(axis, (0.0, 1.0, 0.0), atol=1e-12)
    assert angle == pytest.approx(math.pi / 2)
    for rotation in (quarter, Rotation.from_axis_angle((1.0, 2.0, 3.0), 3.1), Rotation(0.0, 0.0, 1.0, 0.0)):
        again = Rotation.from_matrix(rotation.as_matrix3())
        np.testing.assert_allclose(again.as_matrix3(), rotation.as_matrix3(), atol=1e-9)
    np.testing.assert_allclose(
        Rotation.between((1, 0, 0), (0, 0, 1)).rotate((1, 0, 0)), (0, 0, 1), atol=1e-12
    )
    np.testing.assert_allclose(
        Rotation.between((1, 0, 0), (-1, 0, 0)).rotate((1, 0, 0)), (-1, 0, 0), atol=1e-12
    )
    assert Transform(rotation=(0.0, 0.0, 0.0, 2.0)).rotation == Rotation()


@pytest.mark.parametrize("shape", [Cone(), Cube(), Sphere(), Cylinder()], ids=lambda s: type(s).__name__)
def test_primitives_wind_outwards_and_have_inventor_sizes(shape):
    geometry = shape.geometry
    corners = geometry.positions[geometry.indices].astype(np.float64)
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    areas = np.linalg.norm(face_normals, axis=1)
    real = areas > 1e-9  # the sphere's pole rows hold degenerate triangles
    mean_vertex_normal = geometry.normals[geometry.indices].mean(axis=1)
    assert (np.einsum("ij,ij->i", face_normals[real], mean_vertex_normal[real]) > 0).all()
    np.testing.assert_allclose(shape.bounding_box.minimum, (-1.0, -1.0, -1.0), atol=1e-6)
    np.testing.assert_allclose(shape.bounding_box.maximum, (1.0, 1.0, 1.0), atol=1e-6)


def test_shape_geometry_is_cached_until_a_field_changes():
    cone = Cone()
    first = cone.geometry
    assert cone.geometry is first
    cone.bottom_radius = 2.0
    assert cone.geometry is not first
    assert cone.bounding_box.maximum[0] == pytest.approx(2.0)


def test_mesh_validates_its_arrays():
    with pytest.raises(ValueError):
        Mesh(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="index"):
        _ = Mesh(np.zeros((3, 3)), [[0, 1, 5]]).geometry
    with pytest.raises(ValueError, match="multiple of 3"):
        _ = Mesh(np.zeros((4, 3))).geometry
    mesh = Mesh(np.eye(3), colors=[[255, 0, 0], [0, 255, 0], [0, 0, 255]])
    np.testing.assert_allclose(mesh.geometry.colors[0], (1.0, 0.0, 0.0, 1.0))
    np.testing.assert_allclose(mesh.geometry.normals, np.full((3, 3), 1 / math.sqrt(3)), atol=1e-6)


def test_view_all_needs_a_scene_for_a_free_camera():
    with pytest.raises(ValueError, match="not in a scene graph"):
        PerspectiveCamera().view_all(Viewport(10, 10))


def test_viewport_aspect_and_validation():
    assert Viewport(1280, 720).aspect == pytest.approx(16 / 9)
    with pytest.raises(ValueError):
        Viewport(0, 10)


def test_backend_choice_follows_the_display_and_the_override(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv(gl_platform.BACKEND_VARIABLE, raising=False)
    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
    assert gl_platform.choose_backend() is gl_platform.Backend.EGL
    monkeypatch.setenv("DISPLAY", ":0")
    assert gl_platform.choose_backend() is gl_platform.Backend.GLFW
    monkeypatch.setenv("PYOPENGL_PLATFORM", "egl")  # PyOpenGL bound to EGL: stay with EGL
    assert gl_platform.choose_backend() is gl_platform.Backend.EGL
    monkeypatch.delenv("PYOPENGL_PLATFORM")
    monkeypatch.setenv(gl_platform.BACKEND_VARIABLE, "egl")
    assert gl_platform.choose_backend() is gl_platform.Backend.EGL
    monkeypatch.setenv(gl_platform.BACKEND_VARIABLE, "vulkan")
    with pytest.raises(RenderingUnavailableError, match="vulkan"):
        gl_platform.choose_backend()


def test_missing_opengl_libraries_give_one_clear_error(monkeypatch):
    # A None entry in sys.modules makes the import fail, as a missing libEGL does.
    monkeypatch.setitem(sys.modules, "remoteviz.rendering.renderer", None)
    with pytest.raises(RenderingUnavailableError, match="libegl1 libgl1-mesa-dri"):
        SceneManager().render(8, 8)
