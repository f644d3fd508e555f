"""Level of detail: a big mesh is drawn decimated in interactive frames only, and looks the same."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import trimesh

from remoteviz.rendering import Material, Mesh, PerspectiveCamera, Rotation, SceneExaminer, Viewport
from remoteviz.rendering.level_of_detail import LOD_MIN_TRIANGLES, decimate, winding
from remoteviz.rendering.renderer import Renderer
from remoteviz.rendering.shapes import Geometry

W, H = 160, 120


def torus(rings: int, segments: int) -> Mesh:
    """A torus of ``2 * rings * segments`` triangles with vertex colours (red)."""
    u = np.linspace(0.0, 2.0 * math.pi, rings, endpoint=False)[:, None]
    v = np.linspace(0.0, 2.0 * math.pi, segments, endpoint=False)[None, :]
    radius = 2.0 + 0.7 * np.cos(v)
    vertices = np.stack([radius * np.cos(u), 0.7 * np.sin(v) * np.ones_like(u), radius * np.sin(u)], axis=-1)
    i, j = np.arange(rings)[:, None], np.arange(segments)[None, :]
    a, b = i * segments + j, ((i + 1) % rings) * segments + j
    c, d = ((i + 1) % rings) * segments + (j + 1) % segments, i * segments + (j + 1) % segments
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    colors = np.tile([255, 0, 0], (rings * segments, 1))
    return Mesh(vertices.reshape(-1, 3), faces, colors=colors)


def scene(mesh: Mesh) -> SceneExaminer:
    examiner = SceneExaminer()
    examiner.add_child(Material(specular_color=(0.0, 0.0, 0.0)))
    examiner.add_child(mesh)
    examiner.view_all(Viewport(W, H))
    return examiner


def red(image: np.ndarray) -> np.ndarray:
    r, g, b = (image[..., k].astype(int) for k in range(3))
    return (r > 60) & (r > 2 * g + 20) & (r > 2 * b + 20)


def render_until_decimated(manager, full: int) -> np.ndarray:
    """Interactive frames until one draws fewer triangles than ``full`` (the copy is made on a
    background thread); fails after a generous wait."""
    deadline = time.monotonic() + 120
    while True:
        image = manager.render(W, H, interactive=True)
        if Renderer.shared().triangles_drawn < full:
            return image
        assert time.monotonic() < deadline, "the decimated copy never came"
        time.sleep(0.05)


def test_a_big_mesh_is_decimated_for_interactive_frames_only(make_manager):
    mesh = torus(250, 450)  # 225,000 triangles
    full = len(mesh.indices)
    assert full > LOD_MIN_TRIANGLES
    manager = make_manager()
    manager.scene_graph = scene(mesh)
    still = manager.render(W, H)
    assert Renderer.shared().triangles_drawn == full
    interactive = render_until_decimated(manager, full)
    assert 0 < Renderer.shared().triangles_drawn < full / 2
    # The copy covers the same pixels in the same colour (vertex colours carried over).
    assert (red(interactive) != red(still)).mean() < 0.02 and red(interactive).mean() > 0.1
    # The still after it is the full mesh again.
    manager.render(W, H)
    assert Renderer.shared().triangles_drawn == full
    # A changed mesh drops its copy: the next interactive frames draw it in full until the new
    # copy is ready, which shows the new shape.
    mesh.vertices = mesh.vertices * np.float32(0.5)
    manager.render(W, H, interactive=True)
    assert Renderer.shared().triangles_drawn == full
    smaller = render_until_decimated(manager, full)
    assert red(smaller).sum() < red(interactive).sum() * 0.6


def test_a_small_mesh_is_never_decimated(make_manager):
    mesh = torus(100, 100)  # 20,000 triangles
    manager = make_manager()
    manager.scene_graph = scene(mesh)
    for _ in range(3):
        manager.render(W, H, interactive=True)
        assert Renderer.shared().triangles_drawn == len(mesh.indices)
        time.sleep(0.05)


def test_decimation_keeps_the_surface_and_its_attributes():
    geometry = torus(200, 200).geometry
    light = decimate(geometry, 8_000)
    assert 6_000 <= len(light.indices) <= 8_000
    assert light.indices.max() < len(light.positions)
    assert light.colors is not None and np.allclose(light.colors, (1.0, 0.0, 0.0, 1.0))
    np.testing.assert_allclose(np.linalg.norm(light.normals, axis=1), 1.0, atol=1e-4)
    # The points stay on the torus: distance to the core circle about the tube's radius 0.7.
    p = light.positions
    core = np.hypot(p[:, 0], p[:, 2]) - 2.0
    np.testing.assert_allclose(np.hypot(core, p[:, 1]), 0.7, atol=0.02)


def test_winding_tells_closed_solids_their_orientation_and_open_meshes_apart():
    sphere = trimesh.creation.icosphere(subdivisions=2)  # closed, counter-clockwise outside
    outward = Geometry(sphere.vertices.astype(np.float32), sphere.vertex_normals.astype(np.float32),
                       sphere.faces.astype(np.uint32))
    assert winding(outward) == 1
    inward = Geometry(outward.positions, outward.normals, np.ascontiguousarray(outward.indices[:, ::-1]))
    assert winding(inward) == -1
    assert winding(Geometry(outward.positions, outward.normals, outward.indices[1:])) == 0  # a hole
    mixed = outward.indices.copy()
    mixed[0] = mixed[0, ::-1]  # one face the wrong way round: not consistently wound
    assert winding(Geometry(outward.positions, outward.normals, mixed)) == 0
    assert winding(torus(30, 20).geometry) == -1  # this torus is wound clockwise outside


@pytest.mark.parametrize("reverse", [False, True])
def test_a_big_closed_mesh_is_culled_outside_and_looks_the_same(make_manager, reverse):
    mesh = torus(250, 450)  # 225,000 triangles, closed
    if reverse:
        mesh.indices = np.ascontiguousarray(mesh.indices[:, ::-1])  # counter-clockwise outside
    full = len(mesh.indices)
    manager = make_manager()
    manager.scene_graph = examiner = scene(mesh)
    renderer = Renderer.shared()
    before = manager.render(W, H)
    assert renderer.triangles_culled == 0  # not known to be closed yet
    interactive = render_until_decimated(manager, full)
    assert renderer.triangles_culled == renderer.triangles_drawn  # the copy is closed too
    assert (red(interactive) != red(before)).mean() < 0.02
    after = manager.render(W, H)
    assert renderer.triangles_drawn == renderer.triangles_culled == full
    differ = np.abs(after.astype(int) - before.astype(int)).max(axis=-1) > 10
    assert differ.mean() < 0.005 and red(after).mean() > 0.1  # only the hidden faces went
    # From inside the tube the camera sees the inner walls: nothing is culled there.
    examiner.camera = PerspectiveCamera(position=(2.0, 0.0, 0.0), orientation=Rotation())
    inside = manager.render(W, H)
    assert renderer.triangles_culled == 0
    assert red(inside).mean() > 0.9
