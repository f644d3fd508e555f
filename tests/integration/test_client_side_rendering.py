"""Client-side rendering through the Python client: who decides, what bytes leave the service,
deltas, scene flow control and the camera, on a real service with real sockets."""

from __future__ import annotations

import asyncio
import json
import logging
import zlib

import numpy as np
import pytest

import remoteviz as rv
from remoteviz import client, protocol
from remoteviz.protocol import RenderMode, SceneChunk, SceneUpdate
from remoteviz.scene_sync.streams import CHUNK_WINDOW

from .. import meshes
from .harness import running_service

TORUS_VERTICES = 40 * 24


def torus(radius: float = 1.0) -> rv.Mesh:
    """A torus of 1920 triangles."""
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, 40, endpoint=False), np.linspace(0, 2 * np.pi, 24, endpoint=False))
    points = np.stack([(radius + 0.3 * np.cos(v)) * np.cos(u), 0.3 * np.sin(v), (radius + 0.3 * np.cos(v)) * np.sin(u)],
                      axis=-1).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(40), np.arange(24))
    a, b = j * 40 + i, j * 40 + (i + 1) % 40
    c, d = ((j + 1) % 24) * 40 + i, ((j + 1) % 24) * 40 + (i + 1) % 40
    faces = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d], -1).reshape(-1, 3)])
    return rv.Mesh(points, faces, name="torus")


class Scene(rv.ServiceListener, rv.RenderAreaListener):
    """Every area shows a torus twice (one shared mesh node under two transforms) and a point set.

    ``client_rendering`` is the areas' setting; connections with ``?deny=1`` are refused by the
    hook; app messages ``colour`` and ``reshape`` change the scene."""

    def __init__(self, client_rendering: bool) -> None:
        self.client_rendering = client_rendering
        self.mesh = torus()
        self.material = rv.Material(diffuse_color=(0.8, 0.3, 0.2))
        self.examiner: rv.SceneExaminer | None = None

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        render_area.client_rendering = self.client_rendering
        render_area.add_listener(self)
        examiner = self.examiner = rv.SceneExaminer()
        left = rv.Separator([rv.Transform(translation=(-1.5, 0, 0)), self.material, self.mesh])
        right = rv.Separator([rv.Transform(translation=(1.5, 0, 0)), self.mesh])
        examiner.add_child(left)
        examiner.add_child(right)
        examiner.add_child(rv.PointSet(np.random.default_rng(1).normal(size=(500, 3)).astype(np.float32)))
        render_area.scene_manager.scene_graph = examiner
        examiner.camera.view_all(render_area.viewport, examiner)

    def on_requested_client_rendering(self, render_area, connection):
        return False if connection.parameters.get_value("deny") == "1" else None

    def on_received_message(self, render_area, connection, message) -> None:
        if message == "colour":
            self.material.diffuse_color = (0.1, 0.9, 0.1)
        elif message == "reshape":
            self.mesh.vertices = self.mesh.vertices * 1.1
        render_area.send_message(f"did {message}", [connection])


def scene_service(client_rendering: bool = True):
    scene = Scene(client_rendering)
    return scene, running_service(scene, run_mode=rv.RunMode.INVENTOR_SERVICE)


async def collect(view, until, timeout: float = 60.0) -> list:
    """Scene messages until ``until(messages)`` holds."""
    messages: list = []
    while not until(messages):
        messages.append(await view.next_scene_message(timeout))
    return messages


def loaded(messages: list) -> bool:
    """Whether the last update's buffers have all arrived."""
    updates = [m for m in messages if isinstance(m, SceneUpdate)]
    if not updates:
        return False
    chunks = [m for m in messages if isinstance(m, SceneChunk)]
    got = {name: sum(len(c.payload) for c in chunks if c.buffer == name) for name in updates[-1].buffers}
    return got == updates[-1].buffers


def buffers_of(messages: list) -> dict[str, bytes]:
    parts: dict[str, bytearray] = {}
    for chunk in (m for m in messages if isinstance(m, SceneChunk)):
        data = parts.setdefault(chunk.buffer, bytearray(chunk.total))
        data[chunk.offset:chunk.offset + len(chunk.payload)] = chunk.payload
    return {name: zlib.decompress(bytes(data)) for name, data in parts.items()}


def test_a_page_whose_application_did_not_opt_in_gets_server_frames_and_no_geometry_byte() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Area", "width=96&height=64")) as view:
            await view.next_frame(timeout=30)
            await view.request_rendering(RenderMode.CLIENT)
            answer = await view.next_scene_message()
            await view.drag([(40, 30), (60, 30)])
            frame = await view.latest_frame(settle=0.5)
            with pytest.raises(TimeoutError):
                await view.next_scene_message(timeout=0.5)
            return answer, frame

    _, service = scene_service(client_rendering=False)
    with service as runner:
        answer, frame = asyncio.run(scenario(runner))
    assert answer == protocol.RenderDecision(RenderMode.SERVER, "the application keeps this view's geometry on the server")
    assert frame.image.shape == (64, 96, 3), "frames keep coming"


def test_the_hook_refuses_a_connection_the_area_allows() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Area", "width=96&height=64&deny=1")) as view:
            await view.request_rendering(RenderMode.AUTO)
            answer = await view.next_scene_message()
            with pytest.raises(TimeoutError):
                await view.next_scene_message(timeout=0.5)
            return answer

    _, service = scene_service()
    with service as runner:
        assert asyncio.run(scenario(runner)).mode is RenderMode.SERVER


def test_turning_client_rendering_on_is_logged_as_an_opening(caplog) -> None:
    area_scene = Scene(True)
    with caplog.at_level(logging.WARNING, logger="remoteviz"), running_service(
            area_scene, run_mode=rv.RunMode.INVENTOR_SERVICE) as runner:
        runner.call(runner.service.create_render_area, "Logged", 32, 32)
    assert any("'Logged' may send its scene's geometry" in r.getMessage() for r in caplog.records)


def test_an_opted_in_page_gets_records_and_each_buffer_once_decoding_to_the_mesh() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Area", "width=96&height=64")) as view:
            await view.request_rendering(RenderMode.CLIENT)
            return await collect(view, loaded)

    scene, service = scene_service()
    with service as runner:
        messages = asyncio.run(scenario(runner))
    assert messages[0] == protocol.RenderDecision(RenderMode.CLIENT, "the page asked for client-side rendering")
    update = messages[1]
    assert isinstance(update, SceneUpdate) and update.full and update.seq == 1 and not update.removed
    meshes = [r for r in update.records if r["kind"] == "mesh"]
    points = [r for r in update.records if r["kind"] == "points"]
    assert len(meshes) == 2 and len(points) == 1
    # One mesh node under two transforms: two records, the same buffers, sent once.
    assert meshes[0]["positions"] == meshes[1]["positions"] and meshes[0]["model"] != meshes[1]["model"]
    chunks = [m for m in messages if isinstance(m, SceneChunk)]
    assert len({c.buffer for c in chunks}) == len(update.buffers) == 5  # positions, normals, indices; points, sizes
    assert len(chunks) == len({(c.buffer, c.offset) for c in chunks}), "no chunk sent twice"
    data = buffers_of(messages)
    record = meshes[0]
    quantized = np.frombuffer(data[record["positions"]], "<u2").reshape(-1, 3)
    decoded = np.asarray(record["quantization"]["offset"]) + quantized * np.asarray(record["quantization"]["scale"])
    geometry = scene.mesh.geometry
    assert decoded.shape == geometry.positions.shape
    extent = geometry.positions.max(axis=0) - geometry.positions.min(axis=0)
    assert (np.abs(decoded - geometry.positions) <= extent / 65535.0 + 1e-6).all()
    indices = np.frombuffer(data[record["indices"]], "<u2").reshape(-1, 3)
    assert (indices == geometry.indices).all() and record["count"] == geometry.indices.size
    assert record["material"]["diffuse"] == pytest.approx([0.8, 0.3, 0.2])
    assert meshes[1]["material"]["diffuse"] == pytest.approx([0.8, 0.8, 0.8]), "the separator kept the material in"
    assert update.extra["camera"]["orthographic"] is False and update.extra["background"] is None
    assert any(light["camera"] for light in record["lights"]), "the examiner's headlight follows the camera"


def test_a_node_change_after_loading_arrives_as_a_delta_not_a_resend() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Area", "width=96&height=64")) as view:
            await view.request_rendering(RenderMode.CLIENT)
            first = await collect(view, loaded)
            await view.send_message("colour")
            assert await view.next_message() == "did colour"
            colour = await view.next_scene_message()
            await view.send_message("reshape")
            reshape = await collect(view, loaded)
            return first, colour, reshape

    _, service = scene_service()
    with service as runner:
        first, colour, reshape = asyncio.run(scenario(runner))
    assert isinstance(colour, SceneUpdate) and not colour.full and colour.seq == 2
    assert [r["material"]["diffuse"] for r in colour.records] == [pytest.approx([0.1, 0.9, 0.1])], "one record"
    assert colour.buffers == {} and colour.removed == [], "a colour change sends no buffer"
    update = reshape[0]
    assert isinstance(update, SceneUpdate) and not update.full and len(update.records) == 2
    old = next(m for m in first if isinstance(m, SceneUpdate)).records[0]
    new = update.records[0]
    assert new["indices"] == old["indices"] and new["indices"] not in update.buffers, "unchanged indices stay"
    assert new["positions"] != old["positions"] and set(update.buffers) == {new["positions"]} | (
        {new["normals"]} if new["normals"] != old["normals"] else set())
    sent = {c.buffer for c in reshape if isinstance(c, SceneChunk)}
    assert sent == set(update.buffers)


def test_scene_chunks_wait_for_acks_while_pings_and_app_messages_flow() -> None:
    big = rv.Mesh(np.random.default_rng(2).normal(size=(120_000, 3)).astype(np.float32),
                  np.random.default_rng(3).integers(0, 120_000, size=(200_000, 3)))

    class Big(Scene):
        def on_instantiated_render_area(self, render_area):
            super().on_instantiated_render_area(render_area)
            assert self.examiner is not None
            self.examiner.add_child(big)

    async def scenario(runner):
        async with client.connect(runner.url("Area", "width=96&height=64"), auto_ack=False) as view:
            await view.request_rendering(RenderMode.CLIENT)
            early = await collect(view, lambda ms: sum(isinstance(m, SceneChunk) for m in ms) == CHUNK_WINDOW)
            with pytest.raises(TimeoutError):
                while True:  # the window is full: no chunk (the big mesh's full detail may follow its copy)
                    message = await view.next_scene_message(timeout=0.5)
                    assert isinstance(message, SceneUpdate), message
                    early.append(message)
            await view.send_message("hello")
            reply = await view.next_message()
            frame = await view.next_frame(timeout=60)
            last = [m for m in early if isinstance(m, SceneChunk)][-1]
            await view.scene_ack(last.chunk)
            after = await view.next_scene_message()
            await view.scene_ack(last.chunk)  # twice: a protocol error
            await view.wait_closed()
            return early, reply, frame, after, view.close_code

    with running_service(Big(True), run_mode=rv.RunMode.INVENTOR_SERVICE) as runner:
        early, reply, frame, after, code = asyncio.run(scenario(runner))
    announced = sum(sum(m.buffers.values()) for m in early if isinstance(m, SceneUpdate))
    assert announced > CHUNK_WINDOW * protocol.MAX_SCENE_CHUNK
    assert reply == "did hello" and frame.image is not None
    assert isinstance(after, SceneChunk) and after.chunk == CHUNK_WINDOW + 1
    assert code == protocol.CloseCode.PROTOCOL_ERROR


def test_the_page_camera_moves_the_service_camera_and_other_client_side_pages_follow() -> None:
    async def scenario(runner, scene):
        async with client.connect(runner.url("Area", "width=96&height=64")) as one, \
                client.connect(runner.url("Area", "width=96&height=64")) as two:
            for view in (one, two):
                await view.request_rendering(RenderMode.CLIENT)
                await collect(view, loaded)
            camera = protocol.CameraState((0.0, 7.0, 0.5), (-0.7071068, 0.0, 0.0, 0.7071068), 7.0, 0.6, False)
            await one.send_camera(camera)
            moved = await two.next_scene_message()
            with pytest.raises(TimeoutError):
                await one.next_scene_message(timeout=0.5)  # not echoed to the page that moved it
            return moved

    scene, service = scene_service()
    with service as runner:
        moved = asyncio.run(scenario(runner, scene))
        server_camera = scene.examiner.camera
        assert server_camera.position == pytest.approx((0.0, 7.0, 0.5))
        assert server_camera.height_angle == pytest.approx(0.6)
    assert isinstance(moved, SceneUpdate) and not moved.records and moved.buffers == {}
    assert moved.extra["camera"]["position"] == pytest.approx([0.0, 7.0, 0.5])


def test_camera_and_acks_from_a_server_side_page_are_protocol_errors() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Area", "width=96&height=64")) as view:
            await view.scene_ack(1)
            await view.wait_closed()
            return view.close_code, view.error

    _, service = scene_service()
    with service as runner:
        code, error = asyncio.run(scenario(runner))
    assert code == protocol.CloseCode.PROTOCOL_ERROR and "server-side" in error


def test_a_page_gets_only_its_own_areas_buffers_and_cannot_ask_for_one_by_name() -> None:
    class TwoScenes(Scene):
        def on_instantiated_render_area(self, render_area):
            super().on_instantiated_render_area(render_area)
            if render_area.id == "Other":
                assert self.examiner is not None
                self.examiner.add_child(rv.Mesh(np.random.default_rng(5).normal(size=(99, 3)), name="secret"))

    async def scenario(runner):
        async with client.connect(runner.url("Other", "width=96&height=64")) as other, \
                client.connect(runner.url("Mine", "width=96&height=64")) as mine:
            await other.request_rendering(RenderMode.CLIENT)
            others = await collect(other, loaded)
            await mine.request_rendering(RenderMode.CLIENT)
            mines = await collect(mine, loaded)
            secret = next(r for r in next(m for m in others if isinstance(m, SceneUpdate)).records
                          if r["name"] == "secret")
            # No message names a buffer to fetch: asking for one is a protocol error.
            await mine.send_raw(json.dumps({"type": "scene_buffer", "buffer": secret["positions"]}))
            await mine.wait_closed()
            return secret, mines, mine.close_code

    with running_service(TwoScenes(True), run_mode=rv.RunMode.INVENTOR_SERVICE) as runner:
        secret, mines, code = asyncio.run(scenario(runner))
    names = {c.buffer for c in mines if isinstance(c, SceneChunk)}
    assert secret["positions"] not in names and secret["normals"] not in names
    assert code == protocol.CloseCode.PROTOCOL_ERROR


def test_an_application_that_draws_its_own_frames_keeps_its_pages_server_side() -> None:
    class Frames(rv.ServiceListener, rv.RenderAreaListener):
        def on_instantiated_render_area(self, render_area):
            render_area.client_rendering = True
            render_area.add_listener(self)

        def on_requested_frame(self, render_area, connection):
            return np.zeros((render_area.height, render_area.width, 3), np.uint8), False

    async def scenario(runner):
        async with client.connect(runner.url("Own", "width=32&height=32")) as view:
            await view.next_frame()
            await view.request_rendering(RenderMode.CLIENT)
            return await view.next_scene_message()

    with running_service(Frames()) as runner:  # INDEPENDENT_SERVICE
        answer = asyncio.run(scenario(runner))
    assert answer == protocol.RenderDecision(RenderMode.SERVER, "the application draws its own frames")


def test_a_big_scene_is_encoded_off_the_dispatch_thread_while_messages_flow() -> None:
    rng = np.random.default_rng(8)
    big = rv.Mesh(rng.normal(size=(300_000, 3)).astype(np.float32), rng.integers(0, 300_000, size=(600_000, 3)))

    class Big(Scene):
        def on_instantiated_render_area(self, render_area):
            super().on_instantiated_render_area(render_area)
            assert self.examiner is not None
            self.examiner.add_child(big)

    async def scenario(runner):
        async with client.connect(runner.url("Area", "width=96&height=64"), auto_ack=False) as view:
            await view.next_frame(timeout=120)  # 600,000 triangles on software OpenGL
            await view.request_rendering(RenderMode.CLIENT)
            await view.send_message("meanwhile")
            reply = await view.next_message(timeout=30)
            try:  # what had arrived by the reply
                early = await view.next_scene_message(timeout=0.01)
            except TimeoutError:
                early = None
            decision = early or await view.next_scene_message(timeout=60)
            return reply, early, decision

    with running_service(Big(True), run_mode=rv.RunMode.INVENTOR_SERVICE) as runner:
        reply, early, decision = asyncio.run(scenario(runner))
    assert reply == "did meanwhile" and early is None, "the app message was answered while the scene was encoded"
    assert decision.mode is RenderMode.CLIENT


def test_a_page_that_holds_its_scene_gets_no_frames_until_it_goes_back_to_frames() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Area", "width=96&height=64")) as view:  # acks every frame
            await view.next_frame()
            await view.request_rendering(RenderMode.CLIENT)
            await collect(view, loaded)
            await asyncio.sleep(0.3)
            while view.pending_frames():
                await view.next_frame()
            await view.drag([(40, 30), (50, 34), (60, 38), (70, 42)])
            cameras = await collect(view, lambda ms: len(ms) >= 1)  # moves may coalesce into one
            await asyncio.sleep(0.5)
            frames_meanwhile = view.pending_frames()
            await view.request_rendering(RenderMode.SERVER)
            answer = (await collect(view, lambda ms: isinstance(ms[-1], protocol.RenderDecision) if ms else False))[-1]
            fresh = await view.next_frame(timeout=30)
            return cameras, frames_meanwhile, answer, fresh

    _, service = scene_service()
    with service as runner:
        cameras, frames_meanwhile, answer, fresh = asyncio.run(scenario(runner))
    assert all(isinstance(c, SceneUpdate) and not c.records for c in cameras), "the drag moved the camera"
    assert frames_meanwhile == 0, "the service rendered no frame for a page that draws itself"
    assert answer.mode is RenderMode.SERVER and fresh.image.shape == (64, 96, 3)


def test_the_first_chunks_of_a_big_mesh_are_its_coarse_copy_for_its_first_page_and_every_later_one() -> None:
    from remoteviz.scene_sync.coarse import COARSE_MIN_TRIANGLES

    class BigScene(rv.ServiceListener):
        """One big mesh (shown in each area made anew: its encoding and copy are made once)."""

        mesh = meshes.torus(600, 250, "big")  # 300,000 triangles: over the coarse copies' threshold

        def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
            render_area.client_rendering = True
            examiner = rv.SceneExaminer()
            examiner.add_child(self.mesh)
            examiner.add_child(rv.Separator([rv.Transform(translation=(3, 0, 0)), rv.Sphere(radius=0.3)]))
            render_area.scene_manager.scene_graph = examiner
            examiner.camera.view_all(render_area.viewport, examiner)

    def complete(messages: list) -> bool:
        """Whether the page holds the full detail: every buffer announced, no record provisional."""
        records: dict[str, dict] = {}
        for update in (m for m in messages if isinstance(m, SceneUpdate)):
            records.update((r["id"], r) for r in update.records)
        return loaded(messages) and not any(r.get("provisional") for r in records.values())

    async def page(runner) -> list:
        async with client.connect(runner.url("Area", "width=96&height=64")) as view:
            await view.request_rendering(RenderMode.CLIENT)
            return await collect(view, complete, timeout=120)

    async def scenario(runner):
        first = await page(runner)  # the model's first page: the service encodes it meanwhile
        return first, await page(runner)  # a later one: the encoding and the copy are cached

    with running_service(BigScene(), run_mode=rv.RunMode.INVENTOR_SERVICE) as runner:
        pages = asyncio.run(scenario(runner))

    for number, messages in enumerate(pages, 1):
        updates = [m for m in messages if isinstance(m, SceneUpdate)]
        record = next(r for r in updates[-1].records if r["name"] == "big")
        assert record["count"] // 3 > COARSE_MIN_TRIANGLES and "provisional" not in record
        copy = record["coarse"]
        coarse = {copy["positions"], copy["normals"], copy["indices"]}
        full = {record["positions"], record["normals"], record["indices"]}
        first = next(r for r in updates[0].records if r["name"] == "big")
        if first.get("provisional"):  # answered once the copy was made, before the full detail was encoded
            assert number == 1 and len(updates) == 2, "the first page's update: the copy alone, then the rest"
            assert {key: first[key] for key in copy} == copy and "coarse" not in first
            assert set(updates[0].buffers) >= coarse and set(updates[1].buffers) == full
        else:
            assert first == record and (coarse | full) <= set(updates[0].buffers)
        chunks = [m for m in messages if isinstance(m, SceneChunk)]
        assert chunks[0].buffer in coarse, f"page {number}: the first chunk is of the coarse copy"
        last_coarse = max(i for i, c in enumerate(chunks) if c.buffer in coarse)
        first_full = min(i for i, c in enumerate(chunks) if c.buffer in full)
        assert last_coarse < first_full, f"page {number}: the whole coarse copy before any of the full detail"
        announced = {name: size for u in updates for name, size in u.buffers.items()}
        assert sum(len(c.payload) for c in chunks if c.buffer in coarse) * 3 < sum(announced[n] for n in full)
        data = buffers_of(messages)
        indices = np.frombuffer(data[copy["indices"]], "<u2" if copy["index_type"] == "u16" else "<u4")
        assert len(indices) == copy["count"] <= record["count"] // 4
