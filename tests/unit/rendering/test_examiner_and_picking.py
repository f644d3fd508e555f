"""The examiner's home view and mode announcements; what a pick tells (triangle, node path).
All on the CPU: navigation and picking need no OpenGL."""

from __future__ import annotations

import numpy as np

import remoteviz as rv
from remoteviz.events import KeyAction, KeyEvent, MouseAction, MouseButton, MouseEvent
from remoteviz.rendering import InteractionMode, SceneManager

SIZE = 64


def drag(manager: SceneManager, dx: int) -> None:
    manager.process_event(MouseEvent(MouseAction.DOWN, 20, 30, MouseButton.LEFT, 1), SIZE, SIZE)
    manager.process_event(MouseEvent(MouseAction.MOVE, 20 + dx, 30, MouseButton.LEFT, 1), SIZE, SIZE)
    manager.process_event(MouseEvent(MouseAction.UP, 20 + dx, 30, MouseButton.LEFT, 0), SIZE, SIZE)


def key(manager: SceneManager, name: str) -> None:
    manager.process_event(KeyEvent(KeyAction.DOWN, 0, 0, name), SIZE, SIZE)


def pose(camera: rv.Camera) -> np.ndarray:
    return np.concatenate([np.asarray(camera.position), np.asarray(camera.orientation.as_matrix()).ravel()])


def examined_cone() -> tuple[SceneManager, rv.SceneExaminer]:
    manager = SceneManager()
    examiner = rv.SceneExaminer([rv.Cone()])
    manager.scene_graph = examiner
    examiner.view_all(rv.Viewport(SIZE, SIZE))
    return manager, examiner


def test_a_drag_turns_the_camera_exactly_as_orbiting_around_its_own_axes_move_by_move() -> None:
    # The examiner turns the camera in its own frame (cheap float maths); the camera must end where
    # applying every move as a rotation around the current up and right directions puts it.
    manager, examiner = examined_cone()
    camera = examiner.camera
    camera.focal_distance = 3.7  # not the distance view_all chose: the pivot must still hold
    reference = rv.PerspectiveCamera(position=camera.position, orientation=camera.orientation,
                                     focal_distance=camera.focal_distance)
    pivot = np.asarray(camera.focal_point)
    scale = np.pi / SIZE
    rng = np.random.default_rng(7)
    x, y = 20, 30
    manager.process_event(MouseEvent(MouseAction.DOWN, x, y, MouseButton.LEFT, 1), SIZE, SIZE)
    for dx, dy in rng.integers(-9, 10, (200, 2)):
        x, y = x + int(dx), y + int(dy)
        manager.process_event(MouseEvent(MouseAction.MOVE, x, y, MouseButton.LEFT, 1), SIZE, SIZE)
        reference.orbit(rv.Rotation.from_axis_angle(reference.up_direction, -dx * scale)
                        * rv.Rotation.from_axis_angle(reference.right_direction, -dy * scale))
        np.testing.assert_allclose(camera.matrix, reference.matrix, atol=1e-9)
    np.testing.assert_allclose(camera.focal_point, pivot, atol=1e-9)
    assert not np.allclose(camera.matrix, np.eye(4), atol=0.1)  # it did turn


def test_the_home_key_brings_back_the_view_before_the_first_navigation() -> None:
    manager, examiner = examined_cone()
    start = pose(examiner.camera)
    assert not examiner.has_home
    drag(manager, 25)
    assert not np.allclose(pose(examiner.camera), start)
    key(manager, "Home")
    assert np.allclose(pose(examiner.camera), start)


def test_save_home_sets_the_view_reset_home_returns_to() -> None:
    manager, examiner = examined_cone()
    drag(manager, 15)
    examiner.save_home()
    saved, distance = pose(examiner.camera), examiner.camera.focal_distance
    drag(manager, -30)
    examiner.camera.zoom(3.0)
    examiner.reset_home()
    assert np.allclose(pose(examiner.camera), saved) and examiner.camera.focal_distance == distance


def test_a_mode_change_is_announced_once_per_change() -> None:
    manager, examiner = examined_cone()
    heard: list[InteractionMode] = []
    examiner.add_mode_listener(heard.append)
    key(manager, "Escape")
    key(manager, "Escape")
    examiner.interaction_mode = InteractionMode.NAVIGATION  # no change: no announcement
    assert heard == [InteractionMode.SELECTION, InteractionMode.NAVIGATION]


def test_a_pick_names_the_triangle_and_the_path_to_the_mesh() -> None:
    # Two triangles side by side in the z = 0 plane; the second one is under the right half.
    vertices = [(-1, -1, 0), (0, -1, 0), (0, 1, 0), (0, -1, 0), (1, -1, 0), (1, 1, 0)]
    mesh = rv.Mesh(vertices, [(0, 1, 2), (3, 4, 5)], name="pair")
    holder = rv.Separator([mesh])
    root = rv.SceneExaminer([holder])
    manager = SceneManager()
    manager.scene_graph = root
    root.view_all(rv.Viewport(SIZE, SIZE))
    right = manager.pick(SIZE * 3 // 4, SIZE * 2 // 3, SIZE, SIZE)
    left = manager.pick(SIZE // 3, SIZE * 2 // 3, SIZE, SIZE)
    assert right is not None and left is not None
    assert (left.index, right.index) == (0, 1)
    assert right.path[0] is root and right.path[-2:] == (holder, mesh) and right.node is mesh
