"""Client-side rendering in headless Chromium with WebGL2 (SwiftShader): the page draws the same
picture as the service, picks and app messages work in both modes, switching keeps the camera, a
page whose application did not opt in receives no geometry, and WebGL's loss falls back to frames.

The browser here is launched with ``--use-angle=swiftshader --enable-unsafe-swiftshader`` (recent
Chromium creates no WebGL context in headless mode without them); the first test fails loudly if
WebGL2 is missing all the same.
"""

from __future__ import annotations

import base64
import contextlib
import io
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Playwright

import remoteviz as rv

from ..integration.harness import running_service
from .conftest import CHROMIUM, CHROMIUM_ARGS
from .helpers import INSTRUMENT, canvas_image, drag, wait_settled

WEBGL_ARGS = [a for a in CHROMIUM_ARGS if a != "--disable-gpu"] + ["--use-angle=swiftshader",
                                                                    "--enable-unsafe-swiftshader"]
VIEWPORT = {"width": 360, "height": 300}

COUNT_SCENE_BYTES = r"""
(() => {
  // Counts the geometry bytes (binary messages of kind 3, scene chunks) the page receives.
  window.__sceneBytes = 0;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (typeof event.data !== "string" && new Uint8Array(event.data)[0] === 3) window.__sceneBytes += event.data.byteLength;
      });
    }
  };
})();
"""


def torus() -> rv.Mesh:
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, 64, endpoint=False), np.linspace(0, 2 * np.pi, 32, endpoint=False))
    points = np.stack([(1 + 0.35 * np.cos(v)) * np.cos(u), 0.35 * np.sin(v), (1 + 0.35 * np.cos(v)) * np.sin(u)],
                      axis=-1).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(64), np.arange(32))
    a, b = j * 64 + i, j * 64 + (i + 1) % 64
    c, d = ((j + 1) % 32) * 64 + i, ((j + 1) % 32) * 64 + (i + 1) % 64
    faces = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d], -1).reshape(-1, 3)])
    return rv.Mesh(points, faces, name="torus")


class TorusScene(rv.ServiceListener, rv.RenderAreaListener):
    """A tilted torus and a sphere. App messages: ``clip`` turns a clip plane on, ``colour``
    recolours the torus, ``pick X Y`` answers ``node:triangle`` from the service's picker, and
    every message is echoed."""

    def __init__(self, client_rendering: bool) -> None:
        self.client_rendering = client_rendering

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        render_area.client_rendering = self.client_rendering
        render_area.add_listener(self)
        self.clip = rv.ClipPlane(normal=(1, 0, 0), offset=0.2, on=False)
        self.material = rv.Material(diffuse_color=(0.9, 0.5, 0.2))
        examiner = rv.SceneExaminer()
        examiner.add_child(self.clip)
        examiner.add_child(rv.Separator([rv.Transform(rotation=((1, 0, 0), 0.6)), self.material, torus()]))
        examiner.add_child(rv.Separator([rv.Transform(translation=(0, 0, 0)), rv.Sphere(radius=0.45, name="ball")]))
        render_area.scene_manager.scene_graph = examiner
        examiner.camera.view_all(render_area.viewport, examiner)

    def on_received_message(self, render_area, connection, message) -> None:
        if message == "clip":
            self.clip.on = True
        elif message == "colour":
            self.material.diffuse_color = (0.2, 0.4, 0.95)
        elif isinstance(message, str) and message.startswith("pick "):
            x, y = (int(v) for v in message.split()[1:])
            picked = render_area.scene_manager.pick(x, y, render_area.width, render_area.height)
            render_area.send_message("none" if picked is None else
                                     f"{picked.node.name}:{picked.index}", [connection])
            return
        render_area.send_message(f"echo {message}", [connection])


@pytest.fixture(scope="module")
def webgl_browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=WEBGL_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def viewer(webgl_browser: Browser) -> Iterator[Callable[..., Page]]:
    """``viewer(client_rendering, query)``: the built-in viewer page of a fresh TorusScene service."""
    with contextlib.ExitStack() as stack:
        problems: list[str] = []

        def open_page(client_rendering: bool = True, query: str = "") -> Page:
            runner = stack.enter_context(running_service(TorusScene(client_rendering),
                                                         run_mode=rv.RunMode.INVENTOR_SERVICE))
            context = webgl_browser.new_context(viewport=VIEWPORT, device_scale_factor=1, bypass_csp=True)
            stack.callback(context.close)
            context.add_init_script(INSTRUMENT + COUNT_SCENE_BYTES)
            page = context.new_page()
            page.on("pageerror", lambda error: problems.append(f"uncaught {error}"))
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.text.startswith("remoteviz") and m.type in ("warning", "error") else None)
            page.goto(f"http://127.0.0.1:{runner.service.port}/?area=Torus&{query}")
            # A page drawing client-side may never paint a frame: the scene can arrive first.
            page.wait_for_function("window.__rv.decoded.length > 0 || window.theRenderArea.getRenderMode() === 'client'",
                                   timeout=30_000, polling=50)
            return page

        yield open_page
        expected = "console warning: remoteviz: the WebGL context was lost"  # what the fallback test causes
        assert not [p for p in problems if not p.startswith(expected)], problems


def render_modes(page: Page) -> list[str]:
    return [event[1]["mode"] for event in page.evaluate("window.__rv.service") if event[0] == "renderMode"]


def wait_mode(page: Page, mode: str) -> None:
    page.wait_for_function("(mode) => window.theRenderArea.getRenderMode() === mode", arg=mode, timeout=30_000,
                           polling=50)


def gl_image(page: Page) -> np.ndarray:
    """The WebGL canvas's picture, (H, W, 3) int."""
    url = page.evaluate("window.theRenderArea.getElement().querySelectorAll('canvas')[1].toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")).astype(int)


def settled_gl_image(page: Page, quiet_s: float = 0.6, timeout_s: float = 20.0) -> np.ndarray:
    """The WebGL picture once it stopped changing for ``quiet_s``."""
    import time

    deadline = time.monotonic() + timeout_s
    last, since = gl_image(page), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.15)
        image = gl_image(page)
        if not np.array_equal(image, last):
            last, since = image, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return image
    raise AssertionError("the WebGL picture kept changing")


def mask(image: np.ndarray) -> np.ndarray:
    """Not background: the scene has no background node, so the background is black."""
    return image.sum(axis=2) > 40


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def server_picture(page: Page) -> np.ndarray:
    painted = page.evaluate("window.__rv.decoded.length")
    page.evaluate("window.theRenderArea.setRenderMode('server')")
    wait_mode(page, "server")
    wait_settled(page, after=painted)
    return canvas_image(page)


def client_picture(page: Page) -> np.ndarray:
    page.evaluate("window.theRenderArea.setRenderMode('client')")
    wait_mode(page, "client")
    return settled_gl_image(page)


def message_reply(page: Page, text: str) -> str:
    count = page.evaluate("window.__rv.messages.length")
    page.evaluate("(text) => window.theRenderArea.sendMessage(text)", text)
    page.wait_for_function("(n) => window.__rv.messages.length > n", arg=count, timeout=10_000, polling=50)
    return page.evaluate("window.__rv.messages")[count]


def test_headless_chromium_has_webgl2(webgl_browser: Browser) -> None:
    page = webgl_browser.new_page()
    try:
        renderer = page.evaluate("""() => {
            const gl = document.createElement('canvas').getContext('webgl2');
            return gl ? gl.getParameter(gl.RENDERER) : null;
        }""")
    finally:
        page.close()
    assert renderer, f"no WebGL2 in headless Chromium with {WEBGL_ARGS}: client-side rendering cannot be tested"


def test_the_same_view_has_the_same_silhouette_server_side_and_client_side(viewer) -> None:
    page = viewer(query="render=client")
    wait_mode(page, "client")
    assert render_modes(page)[:2] == ["loading", "client"]
    progress = [e[1] for e in page.evaluate("window.__rv.service") if e[0] == "sceneProgress"]
    assert progress and progress[-1]["received"] == progress[-1]["total"] > 10_000, "the page heard the scene load"
    assert page.inner_text("#status").endswith("drawn by this browser")
    home_client = settled_gl_image(page)
    home_server = server_picture(page)
    assert mask(home_server).mean() > 0.1, "the scene fills a good part of the view"
    assert iou(mask(home_client), mask(home_server)) >= 0.95
    # The same orbit: input goes to the service's examiner in both modes.
    client_picture(page)
    drag(page, [(180, 150), (230, 170), (260, 190)])
    orbit_client = settled_gl_image(page)
    assert iou(mask(orbit_client), mask(home_client)) < 0.9, "the drag turned the view"
    orbit_server = server_picture(page)
    assert iou(mask(orbit_client), mask(orbit_server)) >= 0.95, "switching modes kept the camera"


def test_a_pick_at_the_same_pixel_gives_the_same_node_and_triangle_in_both_modes(viewer) -> None:
    page = viewer(query="render=client")
    wait_mode(page, "client")
    picture = settled_gl_image(page)
    ys, xs = np.nonzero(mask(picture))
    x, y = int(xs[len(xs) // 3]), int(ys[len(ys) // 3])
    client = message_reply(page, f"pick {x} {y}")
    server_picture(page)
    server = message_reply(page, f"pick {x} {y}")
    assert client == server and client != "none"


def test_a_clip_plane_cuts_the_same_pixels_in_both_modes(viewer) -> None:
    page = viewer(query="render=client")
    wait_mode(page, "client")
    whole = settled_gl_image(page)
    assert message_reply(page, "clip") == "echo clip"
    cut_client = settled_gl_image(page)
    assert mask(cut_client).sum() < 0.8 * mask(whole).sum(), "the plane cut part of the scene away"
    cut_server = server_picture(page)
    assert iou(mask(cut_client), mask(cut_server)) >= 0.95


def test_app_messages_flow_both_ways_in_both_modes(viewer) -> None:
    page = viewer(query="render=client")
    wait_mode(page, "client")
    assert message_reply(page, "hello client") == "echo hello client"
    server_picture(page)
    assert message_reply(page, "hello server") == "echo hello server"


def test_a_change_after_loading_arrives_as_a_delta_not_a_resend(viewer) -> None:
    page = viewer(query="render=client")
    wait_mode(page, "client")
    before = settled_gl_image(page)
    loaded = page.evaluate("window.__sceneBytes")
    assert loaded > 10_000, "the geometry came as scene chunks"
    message_reply(page, "colour")
    after = settled_gl_image(page)
    changed = (np.abs(after - before).sum(axis=2) > 60).mean()
    assert changed > 0.05, "the torus changed colour"
    assert page.evaluate("window.__sceneBytes") == loaded, "no geometry byte was sent again"


def test_a_page_whose_application_did_not_opt_in_gets_frames_and_no_geometry_byte(viewer) -> None:
    page = viewer(client_rendering=False, query="render=client")
    page.wait_for_function("window.__rv.service.some((e) => e[0] === 'renderMode')", timeout=10_000, polling=50)
    assert render_modes(page) == ["server"]
    painted = page.evaluate("window.__rv.decoded.length")
    drag(page, [(180, 150), (230, 170)])
    wait_settled(page, after=painted)
    assert page.evaluate("window.theRenderArea.getRenderMode()") == "server"
    assert page.evaluate("window.__sceneBytes") == 0


def test_a_lost_webgl_context_falls_back_to_frames(viewer) -> None:
    page = viewer(query="render=client")
    wait_mode(page, "client")
    painted = page.evaluate("window.__rv.decoded.length")
    page.evaluate("""() => {
        const canvas = window.theRenderArea.getElement().querySelectorAll('canvas')[1];
        canvas.getContext('webgl2').getExtension('WEBGL_lose_context').loseContext();
    }""")
    wait_mode(page, "server")
    drag(page, [(180, 150), (200, 170)])
    wait_settled(page, after=painted)
    assert mask(canvas_image(page)).mean() > 0.1, "frames show the scene again"


def test_the_exported_page_opens_from_disk_with_every_network_request_blocked_and_turns_on_a_drag(
        webgl_browser: Browser, tmp_path) -> None:
    from remoteviz.scene_sync import export_scene

    examiner = rv.SceneExaminer()
    examiner.add_child(rv.GradientBackground())
    examiner.add_child(rv.Separator([rv.Transform(rotation=((1, 0, 0), 0.6)), rv.Material(diffuse_color=(0.9, 0.5, 0.2)),
                                     torus()]))
    path = tmp_path / "model.html"
    export_scene(examiner, path, width=VIEWPORT["width"], height=VIEWPORT["height"])
    # bypass_csp: Playwright's waits evaluate strings, which the page's own policy forbids.
    context = webgl_browser.new_context(viewport=VIEWPORT, device_scale_factor=1, offline=True, bypass_csp=True)
    requests: list[str] = []

    def block(route) -> None:  # the page's own file loads; anything else is recorded and refused
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            requests.append(route.request.url)
            route.abort()

    context.route("**/*", block)
    problems: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("request", lambda request: requests.append(request.url) if not request.url.startswith("file:") else None)
        page.goto(path.as_uri())
        page.wait_for_function("window.remoteviz.model && window.remoteviz.model.draws() > 0", timeout=20_000,
                               polling=50)

        def picture() -> np.ndarray:
            url = page.evaluate("document.querySelector('#view canvas').toDataURL('image/png')")
            return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")).astype(int)

        before = picture()
        assert before[2, VIEWPORT["width"] // 2].sum() > 300, "the gradient background is drawn"
        assert (before[..., 0] - before[..., 2] > 60).mean() > 0.05, "the orange torus is drawn"
        draws = page.evaluate("window.remoteviz.model.draws()")
        page.mouse.move(180, 100)
        page.mouse.down()
        page.mouse.move(180, 200, steps=5)
        page.mouse.up()
        page.wait_for_function("(n) => window.remoteviz.model.draws() > n", arg=draws, timeout=10_000, polling=50)
        page.wait_for_timeout(200)
        after = picture()
    finally:
        context.close()
    assert not problems, problems
    assert requests == [], f"the page asked the network for {requests}"
    assert (np.abs(after - before).mean(axis=2) > 20).mean() > 0.05, "a drag turns the model"
