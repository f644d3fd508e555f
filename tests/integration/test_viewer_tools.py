"""The viewer's tools on a real service, driven by their app messages through the Python client:
each message in, the scene change and the answer out."""

from __future__ import annotations

import asyncio
import io
import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image

import remoteviz as rv
from remoteviz import client, viewer_tools
from remoteviz.events import MouseAction, MouseButton
from remoteviz.viewer_tools import ANNOTATIONS_NAME, CLIP_PLANE_NAME

from .harness import running_service
from .viewer_scene import LEFT_CENTRE, PartsViewer, angle_at, front_plane_point, project

WIDTH, HEIGHT = 320, 240


async def answer(view: client.RemoteView, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next message of type ``viewer.<kind>`` (others are skipped)."""
    while True:
        message = await view.next_message(timeout)
        if isinstance(message, str):
            decoded = json.loads(message)
            if decoded.get("type") == "viewer." + kind:
                return decoded


async def ask(view: client.RemoteView, request: dict[str, Any], kind: str = "state") -> dict[str, Any]:
    await view.send_message(json.dumps(request))
    return await answer(view, kind)


def ids_by_name(nodes: list[dict[str, Any]]) -> dict[str, str]:
    found = {}
    for node in nodes:
        found[node["name"]] = node["id"]
        found.update(ids_by_name(node.get("children", [])))
    return found


def with_parts(scenario: Callable[[client.RemoteView, PartsViewer], Awaitable[None]]) -> None:
    viewer = PartsViewer()
    with running_service(viewer, run_mode=rv.RunMode.INVENTOR_SERVICE) as runner:
        async def run() -> None:
            async with client.connect(runner.url("Parts"), width=WIDTH, height=HEIGHT) as view:
                await scenario(view, viewer)

        asyncio.run(run())


def test_a_new_page_is_told_the_state_and_the_tree_of_named_parts() -> None:
    async def scenario(view, viewer) -> None:
        state = await answer(view, "state")
        assert state["tool"] == "navigate" and state["style"] == "surface"
        assert state["projection"] == "perspective" and state["clip"]["on"] is False
        assert state["scalars"] is False and "front" in state["views"] and "angle" in state["tools"]
        tree = (await answer(view, "tree"))["nodes"]
        assert [n["name"] for n in tree] == ["base", "assembly"], "groups and shapes only: no background"
        assembly = tree[1]
        assert [n["name"] for n in assembly["children"]] == ["left", "right"]
        assert assembly["children"][0]["children"][0] == {"id": "2.0.2", "name": "left shape", "kind": "Cube",
                                                          "visible": True}

    with_parts(scenario)


def test_visibility_isolate_and_show_all_change_the_nodes() -> None:
    async def scenario(view, viewer) -> None:
        await answer(view, "state")
        ids = ids_by_name((await answer(view, "tree"))["nodes"])
        scene = viewer.areas["Parts"].scene_manager
        left, right, base = scene.find("left"), scene.find("right"), scene.find("base")
        await view.send_message(json.dumps({"type": "viewer.visibility", "node": ids["left"], "visible": False}))
        tree = ids_and_visibility((await answer(view, "tree"))["nodes"])
        assert tree["left"] is False and left.visible is False and right.visible is True
        await view.send_message(json.dumps({"type": "viewer.isolate", "node": ids["right"]}))
        tree = ids_and_visibility((await answer(view, "tree"))["nodes"])
        assert (base.visible, left.visible, right.visible) == (False, False, True)
        assert tree == {"base": False, "assembly": True, "left": False, "right": True, "left shape": True,
                        "right shape": True, "base shape": True}
        await view.send_message(json.dumps({"type": "viewer.isolate", "node": None}))
        tree = ids_and_visibility((await answer(view, "tree"))["nodes"])
        assert all(tree.values()) and base.visible and left.visible

    with_parts(scenario)


def ids_and_visibility(nodes: list[dict[str, Any]]) -> dict[str, bool]:
    found = {}
    for node in nodes:
        found[node["name"]] = node["visible"]
        found.update(ids_and_visibility(node.get("children", [])))
    return found


def test_fit_views_projection_style_and_clip_change_the_camera_and_the_scene() -> None:
    async def scenario(view, viewer) -> None:
        await answer(view, "state")
        ids = ids_by_name((await answer(view, "tree"))["nodes"])
        area = viewer.areas["Parts"]
        examiner = area.scene_manager.scene_graph
        await ask(view, {"type": "viewer.fit", "node": ids["left"]})
        assert np.allclose(examiner.camera.focal_point, LEFT_CENTRE, atol=1e-6), "framed on the left cube"
        state = await ask(view, {"type": "viewer.view", "view": "top"})
        assert np.allclose(examiner.camera.view_direction, (0.0, -1.0, 0.0), atol=1e-9)
        assert np.allclose(examiner.camera.focal_point[[0, 2]], (0.0, 0.5), atol=1e-6), "the scene (z from -0.1 to 1.1) framed again"
        state = await ask(view, {"type": "viewer.projection", "projection": "orthographic"})
        assert state["projection"] == "orthographic" and isinstance(examiner.camera, rv.OrthographicCamera)
        assert np.allclose(examiner.camera.view_direction, (0.0, -1.0, 0.0), atol=1e-9), "the same view"
        state = await ask(view, {"type": "viewer.style", "style": "wireframe"})
        assert state["style"] == "wireframe" and area.scene_manager.display_style is rv.DisplayStyle.WIREFRAME
        await view.send_message(json.dumps({"type": "viewer.clip", "on": True, "position": 0.5}))
        moved = ids_by_name((await answer(view, "tree"))["nodes"])
        assert moved["left"] == "3.0" and ids["left"] == "2.0", "the plane went first: the ids moved, pages are told"
        state = await answer(view, "state")
        plane = examiner.children[0]
        assert isinstance(plane, rv.ClipPlane) and plane.name == CLIP_PLANE_NAME and plane.on
        assert state["clip"] == {"on": True, "position": 0.5}
        assert np.allclose(plane.normal, (0.0, -1.0, 0.0)), "across the view direction"
        assert plane.offset == pytest.approx(0.0, abs=1e-6), "halfway through the scene (y from -2 to 2)"
        state = await ask(view, {"type": "viewer.clip", "on": False})
        assert not plane.on and not state["clip"]["on"]
        await ask(view, {"type": "viewer.projection", "projection": "perspective"})
        assert isinstance(examiner.camera, rv.PerspectiveCamera)

    with_parts(scenario)


def test_a_distance_and_an_angle_picked_by_the_server_match_numpy() -> None:
    async def scenario(view, viewer) -> None:
        await answer(view, "state")
        area = viewer.areas["Parts"]
        examiner = area.scene_manager.scene_graph
        await ask(view, {"type": "viewer.view", "view": "front"})
        await ask(view, {"type": "viewer.projection", "projection": "orthographic"})
        await ask(view, {"type": "viewer.tool", "tool": "distance"})
        camera = examiner.camera
        # Two pixels over the base plate's front face, clear of the cubes.
        pixels = [(130, 80), (190, 170)]
        await view.send_message(json.dumps({"type": "viewer.pick", "x": 130, "y": 80}))
        first = await answer(view, "measure")
        assert first["done"] is False and len(first["points"]) == 1
        await view.send_message(json.dumps({"type": "viewer.pick", "x": 190, "y": 170}))
        measured = await answer(view, "measure")
        expected = [front_plane_point(camera, WIDTH, HEIGHT, x, y) for x, y in pixels]
        assert np.allclose(measured["points"], expected, atol=1e-4)
        assert measured["distance"] == pytest.approx(float(np.linalg.norm(expected[1] - expected[0])), rel=1e-5)
        annotations = area.scene_manager.find(ANNOTATIONS_NAME)
        kinds = [type(n).__name__ for n in annotations.children]
        assert kinds == ["PointSet", "PointSet", "LineSet", "Text2D"], "two marks, a line and a label"
        assert annotations.children[-1].text == f"{measured['distance']:.4g}"

        # The angle, by clicks (press and release at one place) as a page sends them.
        await ask(view, {"type": "viewer.tool", "tool": "angle"})
        corners = [(120, 70), (120, 170), (200, 170)]
        for x, y in corners:
            await view.mouse(MouseAction.DOWN, x, y, MouseButton.LEFT, buttons=1)
            await view.mouse(MouseAction.UP, x, y, MouseButton.LEFT)
        measured = await answer(view, "measure")
        while not measured["done"]:
            measured = await answer(view, "measure")
        points = [front_plane_point(camera, WIDTH, HEIGHT, x, y) for x, y in corners]
        assert measured["angle"] == pytest.approx(angle_at(points[1], points[0], points[2]), abs=1e-3)
        assert measured["angle"] == pytest.approx(90.0, abs=1e-3)
        await answer(view, "state")  # sent after the last click's measure
        await ask(view, {"type": "viewer.clear"})
        assert annotations.children == ()

    with_parts(scenario)


def test_a_click_with_the_select_tool_highlights_the_part_under_it() -> None:
    async def scenario(view, viewer) -> None:
        await answer(view, "state")
        area = viewer.areas["Parts"]
        await ask(view, {"type": "viewer.view", "view": "front"})
        await ask(view, {"type": "viewer.tool", "tool": "select"})
        camera = area.scene_manager.scene_graph.camera
        x, y = project(camera, LEFT_CENTRE, WIDTH, HEIGHT)
        await view.mouse(MouseAction.DOWN, x, y, MouseButton.LEFT, buttons=1)
        await view.mouse(MouseAction.UP, x, y, MouseButton.LEFT)
        selected = await answer(view, "selected")
        assert selected["name"] == "left shape" and selected["node"] == "2.0.2", "the named node nearest the pick"
        assert area.scene_manager.highlighted is area.scene_manager.find("left shape")
        state = await answer(view, "state")
        assert state["selected"] == "2.0.2"
        await ask(view, {"type": "viewer.select", "node": None})
        assert area.scene_manager.highlighted is None

    with_parts(scenario)


def test_a_screenshot_is_the_png_of_the_still_frame_at_full_size() -> None:
    async def scenario(view, viewer) -> None:
        await answer(view, "state")
        still = await view.frame_where(lambda f: f.is_still)
        await view.send_message(json.dumps({"type": "viewer.screenshot"}))
        header = await answer(view, "screenshot")
        png = await view.next_message()
        assert isinstance(png, bytes) and len(png) == header["bytes"]
        image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        assert image.shape == (HEIGHT, WIDTH, 3) and (header["width"], header["height"]) == (WIDTH, HEIGHT)
        assert still.codec is rv.Codec.PNG and np.array_equal(image, still.image), "the still frame, exactly"

    with_parts(scenario)


def test_render_area_screenshot_returns_png_bytes_or_an_array_on_the_dispatch_thread() -> None:
    viewer = PartsViewer()
    with running_service(viewer, run_mode=rv.RunMode.INVENTOR_SERVICE) as runner:
        async def run() -> None:
            async with client.connect(runner.url("Parts"), width=WIDTH, height=HEIGHT) as view:
                still = await view.frame_where(lambda f: f.is_still)
                area = viewer.areas["Parts"]
                shots: list[Any] = []
                runner.service.call_soon(lambda: shots.extend([area.screenshot(), area.screenshot(as_array=True),
                                                               area.screenshot(64, 48, as_array=True)]))
                while len(shots) < 3:
                    await asyncio.sleep(0.02)
                png, array, small = shots
                assert np.array_equal(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), still.image)
                assert np.array_equal(array, still.image) and small.shape == (48, 64, 3)
                with pytest.raises(ValueError, match="1 to 16384 pixels"):
                    await asyncio.to_thread(runner.call, area.screenshot, 0, 10)
                with pytest.raises(rv.WrongThreadError, match="call_soon"):
                    area.screenshot()  # this test's thread draws nothing: it is told where to call

        asyncio.run(run())


def test_bad_viewer_messages_are_answered_to_their_sender_and_the_tools_keep_working() -> None:
    async def scenario(view, viewer) -> None:
        await answer(view, "state")
        bad = [
            ({"type": "viewer.nonsense"}, "unknown request"),
            ({"type": "viewer.visibility", "node": "9.9.9", "visible": False}, "no node"),
            ({"type": "viewer.visibility", "node": "1", "visible": "no"}, "must be true or false"),
            ({"type": "viewer.view", "view": "sideways"}, "no view"),
            ({"type": "viewer.style", "style": "cartoon"}, "no style"),
            ({"type": "viewer.clip", "on": True, "position": 7}, "from 0 to 1"),
            ({"type": "viewer.pick", "x": "a", "y": 1}, "must be an integer"),
            ({"type": "viewer.tool", "tool": "hammer"}, "no tool"),
        ]
        for request, reason in bad:
            error = await ask(view, request, "error")
            assert error["request"] == request["type"] and reason in error["message"], (request, error)
        await view.send_message("viewer. not json")  # not for the tools: ignored
        await view.send_message(json.dumps(["viewer.state"]))
        state = await ask(view, {"type": "viewer.style", "style": "edges"})
        assert state["style"] == "edges"

    with_parts(scenario)


def test_the_page_modules_are_served_beside_the_client_and_nothing_else_of_the_package() -> None:
    with running_service() as runner:
        base = f"http://127.0.0.1:{runner.service.port}"
        for name, kind in (("toolbar.js", "text/javascript"), ("tree.js", "text/javascript"),
                           ("channel.js", "text/javascript"), ("capture.js", "text/javascript"),
                           ("viewer.css", "text/css")):
            with urllib.request.urlopen(f"{base}/remoteviz/viewer/{name}", timeout=10) as response:
                assert response.status == 200 and response.headers["Content-Type"].startswith(kind)
                assert response.read()
        for path in ("/remoteviz/viewer/../viewer_tools.py", "/remoteviz/viewer/%2e%2e/cli.py",
                     "/remoteviz/viewer/nothing.js"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path, timeout=10)
            assert refused.value.code in (400, 403, 404), path
        with urllib.request.urlopen(base + "/", timeout=10) as response:
            page = response.read().decode()
        assert 'from "/remoteviz/viewer/toolbar.js"' in page and "/remoteviz/viewer/viewer.css" in page


def test_screenshots_are_rate_limited_per_page_and_marks_are_bounded(monkeypatch) -> None:
    monkeypatch.setattr(viewer_tools, "MAX_MARKS", 5)

    async def scenario(view, viewer) -> None:
        await answer(view, "state")
        await view.send_message(json.dumps({"type": "viewer.screenshot"}))
        await view.send_message(json.dumps({"type": "viewer.screenshot"}))
        assert (await answer(view, "screenshot"))["bytes"] > 0
        assert isinstance(await view.next_message(), bytes)
        error = await answer(view, "error")
        assert error["request"] == "viewer.screenshot" and "one screenshot per" in error["message"]
        await ask(view, {"type": "viewer.tool", "tool": "point"})
        for x in range(100, 220, 10):  # twelve points over the plate: a mark and a label each
            await view.send_message(json.dumps({"type": "viewer.pick", "x": x, "y": 60}))
            assert (await answer(view, "measure"))["done"]
        await answer(view, "state")
        annotations = viewer.areas["Parts"].scene_manager.find(ANNOTATIONS_NAME)
        assert len(annotations) == 5 and annotations.children[-1].text.startswith("(")

    with_parts(scenario)


def test_a_click_on_the_background_with_the_select_tool_clears_the_selection() -> None:
    async def scenario(view, viewer) -> None:
        await answer(view, "state")
        area = viewer.areas["Parts"]
        await ask(view, {"type": "viewer.select", "node": "1"})
        assert area.scene_manager.highlighted is area.scene_manager.find("base")
        await ask(view, {"type": "viewer.tool", "tool": "select"})
        await view.send_message(json.dumps({"type": "viewer.pick", "x": 2, "y": 2}))
        assert (await answer(view, "selected")) == {"type": "viewer.selected", "node": None, "name": None}
        assert area.scene_manager.highlighted is None

    with_parts(scenario)


def test_a_hovering_pointer_is_probed_while_measuring_and_not_otherwise() -> None:
    async def scenario(view, viewer) -> None:
        await answer(view, "state")
        area = viewer.areas["Parts"]
        await ask(view, {"type": "viewer.view", "view": "front"})
        await view.mouse(MouseAction.MOVE, WIDTH // 2, 40)  # navigating: no probe
        await ask(view, {"type": "viewer.tool", "tool": "point"})
        await view.mouse(MouseAction.MOVE, WIDTH // 2, 70)
        probe = await answer(view, "probe")
        expected = area.scene_manager.pick(WIDTH // 2, 70, WIDTH, HEIGHT)
        assert probe["name"] == "base shape" and np.allclose(probe["point"], expected.point), "the second move's"
        assert probe["point"][2] == pytest.approx(0.1, abs=1e-6), "on the plate's front face"

    with_parts(scenario)


def test_a_scene_replaced_after_the_tools_were_attached_is_sent_to_the_pages() -> None:
    viewer = PartsViewer()
    with running_service(viewer, run_mode=rv.RunMode.INVENTOR_SERVICE) as runner:
        async def run() -> None:
            async with client.connect(runner.url("Parts"), width=WIDTH, height=HEIGHT) as view:
                await answer(view, "state")
                assert [n["name"] for n in (await answer(view, "tree"))["nodes"]] == ["base", "assembly"]
                area = viewer.areas["Parts"]
                loaded = rv.SceneExaminer([rv.Separator([rv.Sphere(name="ball")], name="loaded file")])

                def load() -> None:  # as a viewer that loads a file while the page is open does
                    area.scene_manager.scene_graph = loaded
                    loaded.view_all(area.viewport)

                runner.service.call_soon(load)
                await answer(view, "state")
                tree = (await answer(view, "tree"))["nodes"]
                assert tree[0]["name"] == "loaded file" and tree[0]["children"][0]["name"] == "ball"
                state = await ask(view, {"type": "viewer.view", "view": "home"})
                assert state["selected"] is None and np.allclose(loaded.camera.view_direction, (0, 0, -1))

        asyncio.run(run())
