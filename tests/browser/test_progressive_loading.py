"""Progressive loading of client-side rendering in headless Chromium with WebGL2: a page draws a big
mesh itself from its coarse copy on, while the full detail is still held back (the page's acks are
withheld, so the service's window of chunks stays full), shows how far the full detail is, and
ends with the same picture as the service's."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib

import numpy as np
import pytest
from playwright.sync_api import Browser

import remoteviz as rv
from remoteviz import client
from remoteviz.protocol import RenderMode, SceneUpdate
from remoteviz.scene_sync.coarse import COARSE_MIN_TRIANGLES
from remoteviz.scene_sync.streams import CHUNK_WINDOW

from ..integration.harness import running_service
from ..meshes import torus
from .helpers import INSTRUMENT
from .test_client_side_rendering import (  # noqa: F401 (webgl_browser: the module's browser fixture)
    VIEWPORT,
    iou,
    mask,
    server_picture,
    settled_gl_image,
    wait_mode,
    webgl_browser,
)

HOLD_ACKS = r"""
(() => {
  // Withholds the page's scene_ack messages until window.__releaseAcks(): the service sends no
  // more than its window of chunks meanwhile.
  const held = [];
  let holding = true;
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (holding && typeof data === "string" && data.includes('"scene_ack"')) held.push([this, data]);
    else send.call(this, data);
  };
  window.__heldAcks = () => held.length;
  window.__releaseAcks = () => {
    holding = false;
    for (const [socket, data] of held.splice(0)) send.call(socket, data);
  };
})();
"""


class BigScene(rv.ServiceListener):
    """The big torus, tilted, in every area (one mesh: its encoding and coarse copy are made once)."""

    mesh = torus(360, 180, "big")  # 129,600 triangles: just over the coarse copies' threshold

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        render_area.client_rendering = True
        examiner = rv.SceneExaminer()
        examiner.add_child(rv.Separator([rv.Transform(rotation=((1, 0, 0), 0.6)), self.mesh]))
        render_area.scene_manager.scene_graph = examiner
        examiner.camera.view_all(render_area.viewport, examiner)


async def made_coarse_copy(url: str) -> None:
    """A first page loads the scene until a record names the coarse copy beside its full detail
    (the full detail encoded: a later page gets the copy first, then the full detail at once)."""
    async with client.connect(url) as view:
        await view.request_rendering(RenderMode.CLIENT)
        while True:
            message = await view.next_scene_message(timeout=120)
            if isinstance(message, SceneUpdate) and any("coarse" in r for r in message.records):
                return


@pytest.mark.parametrize("first", [True, False], ids=["the model's first page", "a later page"])
def test_a_big_mesh_is_drawn_from_its_coarse_copy_before_its_full_detail_arrives_and_ends_as_the_service_draws_it(
        webgl_browser: Browser, first: bool) -> None:  # noqa: F811
    assert len(BigScene.mesh.geometry.indices) > COARSE_MIN_TRIANGLES
    with contextlib.ExitStack() as stack:
        runner = stack.enter_context(running_service(BigScene(), run_mode=rv.RunMode.INVENTOR_SERVICE))
        if not first:  # another page has had the model: its encoding and copy are made
            # On a thread of its own: Playwright's sync API holds this thread's event loop.
            with concurrent.futures.ThreadPoolExecutor(1) as thread:
                thread.submit(asyncio.run, made_coarse_copy(runner.url("Warm", "width=96&height=64"))).result(
                    timeout=180)
        context = webgl_browser.new_context(viewport=VIEWPORT, device_scale_factor=1, bypass_csp=True)
        stack.callback(context.close)
        context.add_init_script(INSTRUMENT + HOLD_ACKS)
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(f"uncaught {error}"))
        page.goto(f"http://127.0.0.1:{runner.service.port}/?area=Big&render=client")

        # The acks are held: the coarse copy and part of the full detail arrive, no more.
        wait_mode(page, "client")
        page.wait_for_function("(held) => window.__heldAcks() === held", arg=CHUNK_WINDOW, timeout=30_000,
                               polling=50)
        progress = [e[1] for e in page.evaluate("window.__rv.service") if e[0] == "sceneProgress"]
        assert progress and progress[-1]["received"] < progress[-1]["total"] / 2, "drawn before the full detail"
        switch = next(e[1] for e in page.evaluate("window.__rv.service")
                      if e[0] == "renderMode" and e[1]["mode"] == "client")
        assert "full detail follows" in switch["reason"]
        assert "full detail" in page.inner_text("#status")
        coarse = settled_gl_image(page)
        assert mask(coarse).mean() > 0.1, "the coarse copy is drawn"

        page.evaluate("window.__releaseAcks()")
        # The page says when it draws the full detail.
        page.wait_for_function("window.__rv.service.some((e) => e[0] === 'sceneProgress' && e[1].complete)",
                               timeout=30_000, polling=50)
        assert page.inner_text("#status").endswith("drawn by this browser")
        full = settled_gl_image(page)
        assert (np.abs(full - coarse).sum(axis=2) > 30).any(), "the full detail replaced the coarse copy"
        assert iou(mask(coarse), mask(full)) >= 0.9, "the coarse copy has nearly the full silhouette"
        service = server_picture(page)
        assert iou(mask(full), mask(service)) >= 0.95
        assert not problems, problems
