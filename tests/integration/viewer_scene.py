"""A scene of named parts with known geometry, viewed with the viewer's tools: for the tools' tests
through the Python client and through the built-in page.

The parts, in world units (y up, the camera looking down -z in the front view):
- ``base``: a grey plate 8 wide, 4 high, 0.2 deep, centred at the origin (its front face at z = 0.1);
- ``assembly``: ``left``, a red unit cube centred at (-2.5, 0, 0.6), and ``right``, a green one at (2.5, 0, 0.6).
"""

from __future__ import annotations

import math

import numpy as np

import remoteviz as rv

BASE_FRONT_Z = 0.1
LEFT_CENTRE = (-2.5, 0.0, 0.6)
RIGHT_CENTRE = (2.5, 0.0, 0.6)


def part(name: str, colour: tuple[float, float, float], centre: tuple[float, float, float],
         size: tuple[float, float, float]) -> rv.Separator:
    width, height, depth = size
    return rv.Separator([rv.Transform(translation=centre), rv.Material(diffuse_color=colour),
                         rv.Cube(width=width, height=height, depth=depth, name=f"{name} shape")], name=name)


def parts_scene() -> rv.SceneExaminer:
    """The examiner with a background and the named parts."""
    root = rv.SceneExaminer()
    root.add_child(rv.GradientBackground())
    root.add_child(part("base", (0.7, 0.7, 0.7), (0.0, 0.0, 0.0), (8.0, 4.0, 0.2)))
    root.add_child(rv.Separator([part("left", (0.9, 0.1, 0.1), LEFT_CENTRE, (1.0, 1.0, 1.0)),
                                 part("right", (0.1, 0.8, 0.1), RIGHT_CENTRE, (1.0, 1.0, 1.0))],
                                name="assembly"))
    return root


class PartsViewer(rv.ServiceListener):
    """Gives every new render area the parts scene, framed, with the viewer's tools attached."""

    def __init__(self) -> None:
        self.tools: dict[str, rv.ViewerTools] = {}
        self.areas: dict[str, rv.RenderArea] = {}

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        root = parts_scene()
        render_area.scene_manager.scene_graph = root
        root.view_all(render_area.viewport)
        self.tools[render_area.id] = rv.ViewerTools(render_area)
        self.areas[render_area.id] = render_area


def front_plane_point(camera: rv.OrthographicCamera, width: int, height: int, x: int, y: int,
                      z: float = BASE_FRONT_Z) -> np.ndarray:
    """Where the ray through pixel ``(x, y)`` of an orthographic camera looking down -z meets the
    plane at ``z``, worked out here from the camera's fields alone (not with the picker)."""
    assert np.allclose(camera.view_direction, (0.0, 0.0, -1.0)), "a front view"
    aspect = width / height
    half_h = camera.height / 2.0 if aspect >= 1.0 else camera.height / 2.0 / aspect
    half_w = half_h * aspect
    ndc_x = 2.0 * (x + 0.5) / width - 1.0
    ndc_y = 1.0 - 2.0 * (y + 0.5) / height
    right, up = np.asarray(camera.right_direction), np.asarray(camera.up_direction)
    on_screen = np.asarray(camera.position) + ndc_x * half_w * right + ndc_y * half_h * up
    return np.array([on_screen[0], on_screen[1], z])


def angle_at(vertex: np.ndarray, first: np.ndarray, last: np.ndarray) -> float:
    """The angle in degrees at ``vertex`` between the directions to ``first`` and ``last``."""
    a, b = first - vertex, last - vertex
    return math.degrees(math.acos(float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))))


def project(camera: rv.Camera, point: tuple[float, float, float], width: int, height: int) -> tuple[int, int]:
    """The pixel where a world point shows through ``camera`` in a ``width`` x ``height`` area."""
    view = np.linalg.inv(camera.matrix)
    projection = camera.projection_matrix(width / height, 0.1, 100.0)
    clip = projection @ np.append(view[:3, :3] @ np.asarray(point) + view[:3, 3], 1.0)
    ndc = clip[:3] / clip[3]
    return int((ndc[0] + 1.0) / 2.0 * width), int((1.0 - ndc[1]) / 2.0 * height)
