"""Display styles (surface, wireframe, surface with edges), the highlighted node, finding nodes by
name, framing a box, and picking that leaves an overlay out."""

from __future__ import annotations

import numpy as np
import pytest

from remoteviz.rendering import (
    BoundingBox,
    Cube,
    DisplayStyle,
    Group,
    Material,
    PerspectiveCamera,
    PointSet,
    SceneExaminer,
    Separator,
    Sphere,
    Transform,
    Viewport,
)
from remoteviz.rendering.renderer import EDGE_COLOR, HIGHLIGHT_COLOR

from .scenes import H, W, examiner, render


def red_box() -> Separator:
    """A red cube turned to show three faces: the edges of its triangles cross its middle."""
    turn = Transform(rotation=((1.0, 1.0, 0.0), 0.6))
    return Separator([Material(diffuse_color=(0.9, 0.1, 0.1)), turn, Cube(width=70, height=70, depth=70)],
                     name="box")


def test_a_wireframe_shows_the_background_between_the_edges(make_manager) -> None:
    manager = make_manager()
    root = examiner([red_box()])
    surface = render(manager, root)
    centre = surface[H // 2 - 20:H // 2 + 20, W // 2 - 20:W // 2 + 20]
    assert (centre[..., 0] > centre[..., 2] + 60).all(), "the sphere's middle is red, filled"
    manager.display_style = DisplayStyle.WIREFRAME
    wire = render(manager, root)
    middle = wire[H // 2 - 20:H // 2 + 20, W // 2 - 20:W // 2 + 20]
    red = middle[..., 0] > middle[..., 2] + 60
    assert 0.01 < red.mean() < 0.5, f"{red.mean():.2f} of the middle is red: edges with background between"
    manager.display_style = "surface"
    assert np.array_equal(render(manager, root), surface), "back to surfaces, the same picture"


def test_surface_with_edges_draws_dark_edges_over_the_filled_surface(make_manager) -> None:
    manager = make_manager()
    root = examiner([red_box()])
    surface = render(manager, root)
    manager.display_style = DisplayStyle.SURFACE_WITH_EDGES
    edged = render(manager, root)
    middle = edged[H // 2 - 20:H // 2 + 20, W // 2 - 20:W // 2 + 20]
    edge = np.abs(middle - np.round(np.asarray(EDGE_COLOR) * 255)).max(axis=2) < 12
    red = middle[..., 0] > middle[..., 2] + 60
    assert 0.01 < edge.mean() < 0.5, f"{edge.mean():.2f} of the middle is the edge colour"
    assert (edge | red).mean() > 0.95, "the rest is the filled surface: no background shows through"
    assert not np.array_equal(edged, surface)


def test_the_highlighted_node_is_outlined_and_the_others_are_not(make_manager) -> None:
    manager = make_manager()
    left = Separator([Transform(translation=(-40.0, 0.0, 0.0)), Cube(width=30, height=30, depth=30)], name="left")
    right = Separator([Transform(translation=(40.0, 0.0, 0.0)), Cube(width=30, height=30, depth=30)], name="right")
    root = examiner([left, right])
    plain = render(manager, root)
    manager.highlighted = right
    outlined = render(manager, root)
    yellow = np.abs(outlined - np.round(np.asarray(HIGHLIGHT_COLOR) * 255)).max(axis=2) < 20
    assert yellow[:, W // 2:].sum() > 40, "the right cube's edges are drawn in the highlight colour"
    assert not yellow[:, :W // 2].any(), "the left cube is not highlighted"
    assert np.array_equal(outlined[:, :W // 2], plain[:, :W // 2])
    manager.highlighted = None
    assert np.array_equal(render(manager, root), plain)


def test_find_and_find_all_walk_the_whole_graph_by_name() -> None:
    bolt_a, bolt_b = Cube(name="bolt"), Cube(name="bolt")
    hidden = Separator([bolt_b], name="hidden group", visible=False)
    shared = Sphere(name="shared")
    root = SceneExaminer([Group([bolt_a, shared], name="top"), hidden, Separator([shared])])
    assert root.find("bolt") is bolt_a
    assert root.find_all("bolt") == [bolt_a, bolt_b], "hidden nodes are found too, depth first"
    assert root.find_all("shared") == [shared], "a node in two groups is found once"
    assert root.find("nothing") is None and root.find_all("nothing") == []
    assert root.find("hidden group") is hidden


def test_the_scene_manager_finds_in_its_scene(make_manager) -> None:
    manager = make_manager()
    assert manager.find("x") is None and manager.find_all("x") == []
    part = Cube(name="part")
    manager.scene_graph = SceneExaminer([Separator([part], name="assembly")])
    assert manager.find("part") is part
    assert manager.find_all("assembly")[0].children == (part,)


def test_view_box_frames_a_box_as_view_all_frames_a_scene() -> None:
    viewport = Viewport(W, H)
    cube = Cube(width=2.0, height=2.0, depth=2.0)
    root = SceneExaminer([Separator([Transform(translation=(10.0, 0.0, 0.0)), cube])])
    framed_all = PerspectiveCamera()
    framed_all.view_all(viewport, root)
    framed_box = PerspectiveCamera()
    framed_box.view_box(viewport, BoundingBox((9.0, -1.0, -1.0), (11.0, 1.0, 1.0)))
    assert np.allclose(framed_all.position, framed_box.position)
    assert np.allclose(framed_box.focal_point, (10.0, 0.0, 0.0))


def test_pick_can_leave_an_overlay_out(make_manager) -> None:
    manager = make_manager()
    overlay = Separator([PointSet([(0.0, 0.0, 50.0)], size=20.0)], name="overlay")
    root = examiner([Cube(width=60, height=60, depth=60), overlay])
    render(manager, root)
    on_top = manager.pick(W // 2, H // 2, W, H)
    assert on_top is not None and isinstance(on_top.node, PointSet)
    below = manager.pick(W // 2, H // 2, W, H, exclude=overlay)
    assert below is not None and isinstance(below.node, Cube)
    assert below.point[2] == pytest.approx(30.0, abs=1e-3)
