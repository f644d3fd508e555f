"""Navigation in a page that draws client-side, on a real service with real sockets: the page's
``camera`` messages move the service's camera (the truth) for every viewer; a camera the service
moves itself reaches the page; stale and malformed cameras; cameras from pages that may not send
them."""

from __future__ import annotations

import asyncio
import json
import math

import numpy as np
import pytest

import remoteviz as rv
from remoteviz import client, protocol
from remoteviz.events import KeyAction, MouseAction, MouseButton
from remoteviz.protocol import RenderMode, SceneUpdate
from remoteviz.rendering.math3d import Rotation

from .harness import running_service
from .test_client_side_rendering import Scene, collect, loaded

URL_QUERY = "width=96&height=64"


class NavigatedScene(Scene):
    """The torus scene; app messages ``where`` (answers the service's camera position as JSON) and
    ``place`` (the application moves the camera to (0, 0, 12), looking down -z)."""

    def on_received_message(self, render_area, connection, message) -> None:
        examiner = render_area.scene_manager.scene_graph
        if message == "where":
            render_area.send_message(json.dumps([float(v) for v in examiner.camera.position]), [connection])
        elif message == "place":
            examiner.camera.position = (0.0, 0.0, 12.0)
            examiner.camera.orientation = Rotation(0.0, 0.0, 0.0, 1.0)
            render_area.send_message("placed", [connection])
        else:
            super().on_received_message(render_area, connection, message)


def service(client_rendering: bool = True):
    return running_service(NavigatedScene(client_rendering), run_mode=rv.RunMode.INVENTOR_SERVICE)


async def client_side(view) -> SceneUpdate:
    """Asks to draw client-side and loads the scene: its first update."""
    await view.request_rendering(RenderMode.CLIENT)
    messages = await collect(view, loaded)
    return next(m for m in messages if isinstance(m, SceneUpdate))


async def where(view) -> list[float]:
    """The service's camera position, once it has handled everything ``view`` sent before."""
    await view.send_message("where")
    return json.loads(await view.next_message(timeout=30))


def turned(first: SceneUpdate, angle: float, seq: int | None) -> protocol.CameraState:
    """The first update's camera orbited by ``angle`` around the vertical through its focal point."""
    camera = first.extra["camera"]
    x, y, z = camera["position"]
    distance = camera["focal_distance"]
    focal = (x, y, z - distance)  # the first camera looks down -z (view_all keeps the orientation)
    s, c = math.sin(angle / 2), math.cos(angle / 2)
    position = (focal[0] + distance * math.sin(angle), focal[1], focal[2] + distance * math.cos(angle))
    return protocol.CameraState(position, (0.0, s, 0.0, c), distance, camera["height"], False, seq)


def test_the_first_update_says_the_page_navigates_and_escape_hands_navigation_to_the_service() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Area", URL_QUERY)) as view:
            first = await client_side(view)
            await view.key(KeyAction.DOWN, "Escape")
            selection = await view.next_scene_message(timeout=30)
            await view.key(KeyAction.DOWN, "Escape")
            navigation = await view.next_scene_message(timeout=30)
            return first, selection, navigation

    with service() as runner:
        first, selection, navigation = asyncio.run(scenario(runner))
    assert first.extra["navigation"] == "page" and "camera" in first.extra
    assert isinstance(selection, SceneUpdate) and selection.extra["navigation"] == "service"
    assert not selection.records and "camera" not in selection.extra, "only the mode changed"
    assert isinstance(navigation, SceneUpdate) and navigation.extra["navigation"] == "page"


def test_the_page_camera_moves_the_service_camera_for_server_side_viewers_and_is_not_echoed() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Area", URL_QUERY)) as page, \
                client.connect(runner.url("Area", URL_QUERY)) as frames:
            before = await frames.latest_frame(timeout=30, settle=0.5)
            first = await client_side(page)
            await page.mouse(MouseAction.DOWN, 40, 30, MouseButton.LEFT, 1)
            camera = turned(first, math.pi / 2, first.seq)
            await page.send_camera(camera)
            await page.mouse(MouseAction.UP, 40, 30, MouseButton.LEFT, 0)
            position = await where(page)
            after = await frames.frame_where(lambda f: f.is_still and f.frame_id > before.frame_id, timeout=30)
            with pytest.raises(TimeoutError):
                await page.next_scene_message(timeout=0.5)  # the page is not sent its own camera back
            return camera, position, before, after

    with service() as runner:
        camera, position, before, after = asyncio.run(scenario(runner))
    assert position == pytest.approx(list(camera.position))
    assert (abs(after.image.astype(int) - before.image.astype(int)).mean(axis=2) > 20).mean() > 0.02, \
        "a server-side viewer of the area sees the view the page turned to"


def test_a_camera_the_application_moves_reaches_the_page_and_a_stale_page_camera_is_ignored() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Area", URL_QUERY)) as page:
            first = await client_side(page)
            await page.send_camera(turned(first, 0.5, first.seq))
            await page.send_message("place")
            assert await page.next_message(timeout=30) == "placed"
            moved = await page.next_scene_message(timeout=30)
            # Moved before the page saw the application's camera: stale, ignored.
            await page.send_camera(turned(first, 1.0, first.seq))
            after_stale = await where(page)
            # Moved after: taken.
            fresh = turned(first, 1.5, moved.seq)
            await page.send_camera(fresh)
            after_fresh = await where(page)
            return first, moved, after_stale, fresh, after_fresh

    with service() as runner:
        first, moved, after_stale, fresh, after_fresh = asyncio.run(scenario(runner))
    assert isinstance(moved, SceneUpdate) and moved.seq > first.seq
    assert moved.extra["camera"]["position"] == pytest.approx([0.0, 0.0, 12.0]), \
        "the application's camera reached the page that had moved it"
    assert after_stale == pytest.approx([0.0, 0.0, 12.0])
    assert after_fresh == pytest.approx(list(fresh.position))


def test_home_after_a_wheel_only_navigation_comes_back_to_the_first_view() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Area", URL_QUERY)) as page:
            first = await client_side(page)
            camera = first.extra["camera"]
            zoomed = protocol.CameraState(tuple(v * 2 for v in camera["position"]), tuple(camera["orientation"]),
                                          camera["focal_distance"] * 2, camera["height"], False, first.seq)
            await page.send_camera(zoomed)  # the page zoomed with the wheel: no input reached the service
            await page.key(KeyAction.DOWN, "Home")
            return first, await page.next_scene_message(timeout=30)

    with service() as runner:
        first, home = asyncio.run(scenario(runner))
    assert isinstance(home, SceneUpdate)
    assert home.extra["camera"]["position"] == pytest.approx(first.extra["camera"]["position"])


BAD_CAMERAS = {
    "not finite": '{"type":"camera","position":[0,NaN,5],"orientation":[0,0,0,1],"focal_distance":5,"height":0.7}',
    "huge": '{"type":"camera","position":[0,1e300,5],"orientation":[0,0,0,1],"focal_distance":5,"height":0.7}',
    "no rotation": '{"type":"camera","position":[0,0,5],"orientation":[0,0,0,0],"focal_distance":5,"height":0.7}',
    "wide angle": '{"type":"camera","position":[0,0,5],"orientation":[0,0,0,1],"focal_distance":5,"height":3.5}',
    "behind": '{"type":"camera","position":[0,0,5],"orientation":[0,0,0,1],"focal_distance":-5,"height":0.7}',
    "short": '{"type":"camera","position":[0,5],"orientation":[0,0,0,1],"focal_distance":5,"height":0.7}',
}


@pytest.mark.parametrize("bad", sorted(BAD_CAMERAS))
def test_a_malformed_camera_closes_its_own_connection_only(bad: str) -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Area", URL_QUERY)) as bystander, \
                client.connect(runner.url("Area", URL_QUERY)) as attacker:
            first = await client_side(bystander)
            await client_side(attacker)
            await attacker.send_raw(BAD_CAMERAS[bad])
            await attacker.wait_closed(timeout=30)
            camera = turned(first, 0.7, first.seq)
            await bystander.send_camera(camera)
            return attacker.close_code, attacker.error, camera, await where(bystander)

    with service() as runner:
        code, error, camera, position = asyncio.run(scenario(runner))
    assert code == protocol.CloseCode.PROTOCOL_ERROR and error
    assert position == pytest.approx(list(camera.position)), "the other page still moves the camera"


def test_a_camera_from_a_page_not_allowed_to_draw_is_a_protocol_error_for_it_alone() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Area", URL_QUERY)) as bystander, \
                client.connect(runner.url("Area", URL_QUERY)) as page:
            before = await bystander.latest_frame(timeout=30, settle=0.5)
            await page.request_rendering(RenderMode.CLIENT)
            answer = await page.next_scene_message(timeout=30)
            await page.send_camera(protocol.CameraState((0.0, 9.0, 0.0), (0.0, 0.0, 0.0, 1.0), 9.0, 0.7))
            await page.wait_closed(timeout=30)
            await bystander.drag([(40, 30), (60, 34), (80, 38)])
            after = await bystander.frame_where(lambda f: f.frame_id > before.frame_id, timeout=30)
            return answer, page.close_code, page.error, after

    with service(client_rendering=False) as runner:
        answer, code, error, after = asyncio.run(scenario(runner))
    assert answer.mode is RenderMode.SERVER
    assert code == protocol.CloseCode.PROTOCOL_ERROR and "server-side" in error
    assert after.image.shape == (64, 96, 3), "the other viewer keeps its frames"


class FarApart(NavigatedScene):
    """Two big meshes of random points far apart, ``left`` in the camera's view, ``right`` out of it."""

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        render_area.client_rendering = True
        render_area.add_listener(self)
        rng = np.random.default_rng(5)
        examiner = rv.SceneExaminer()
        for name, x in (("left", -20.0), ("right", 20.0)):
            points = rng.normal(size=(100_000, 3)).astype(np.float32)  # random: deflating barely shrinks it
            faces = rng.integers(0, len(points), size=(30_000, 3))
            examiner.add_child(rv.Separator([rv.Transform(translation=(x, 0, 0)), rv.Mesh(points, faces, name=name)]))
        render_area.scene_manager.scene_graph = examiner
        examiner.camera.position = (-20.0, 0.0, 10.0)
        examiner.camera.focal_distance = 10.0


def test_the_buffers_still_to_send_follow_the_page_camera() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Area", URL_QUERY), auto_ack=False) as page:
            await page.request_rendering(RenderMode.CLIENT)
            messages = await collect(page, lambda ms: sum(isinstance(m, protocol.SceneChunk) for m in ms) >= 4)
            update = next(m for m in messages if isinstance(m, SceneUpdate))
            camera = update.extra["camera"]
            # The page turns to the right mesh before the rest has arrived.
            await page.send_camera(protocol.CameraState((20.0, 0.0, 10.0), tuple(camera["orientation"]), 10.0,
                                                        camera["height"], False, update.seq))
            await where(page)
            for chunk in [m for m in messages if isinstance(m, protocol.SceneChunk)]:
                await page.scene_ack(chunk.chunk)
            while not loaded(messages):
                message = await page.next_scene_message(timeout=60)
                messages.append(message)
                if isinstance(message, protocol.SceneChunk):
                    await page.scene_ack(message.chunk)
            return update, messages

    with running_service(FarApart(True), run_mode=rv.RunMode.INVENTOR_SERVICE) as runner:
        update, messages = asyncio.run(scenario(runner))
    owner = {name: record["name"] for record in update.records
             for name in (record.get(key) for key in ("positions", "normals", "indices")) if name}
    chunks = [m for m in messages if isinstance(m, protocol.SceneChunk)]
    # Each buffer's mesh, in the order their first chunks came: before the page turned, and after.
    before = [owner[c.buffer] for c in chunks[:4] if c.offset == 0]
    after = [owner[c.buffer] for c in chunks[4:] if c.offset == 0]
    assert before and set(before) == {"left"}, "the mesh in the first view went first"
    assert after == ["right"] * 3 + ["left"] * (3 - len(before)), \
        f"once the page turned to it, the right mesh went before the rest of the left one: {before} {after}"
