"""Textured meshes drawn client-side (WebGL2 in headless Chromium through SwiftShader) match the
service's picture: not only the silhouette but the image on them, the right way up, and the same
in the exported single-file page."""

from __future__ import annotations

import base64
import contextlib
import io

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page

import remoteviz as rv

from ..integration.harness import running_service
from .helpers import INSTRUMENT, canvas_image, wait_settled
from .test_client_side_rendering import (  # noqa: F401 (webgl_browser: the module's browser fixture)
    VIEWPORT,
    mask,
    settled_gl_image,
    wait_mode,
    webgl_browser,
)

# The quadrants' colours, top-left, top-right, bottom-left, bottom-right as the image is given.
COLOURS = np.array([[230, 30, 30], [30, 200, 40], [40, 60, 230], [235, 220, 40]])


def quadrant_image() -> np.ndarray:
    """A 40x64 RGB image of four coloured quadrants (a flip, a mirror or a transposition shows),
    each a checkerboard of its colour and half of it in squares of 4 texels (the filter shows:
    linear blends each square's edges, nearest keeps them sharp)."""
    image = np.zeros((40, 64, 3), np.uint8)
    image[:20, :32], image[:20, 32:], image[20:, :32], image[20:, 32:] = COLOURS
    rows, columns = np.indices(image.shape[:2]) // 4
    image[(rows + columns) % 2 == 1] //= 2
    return image


def textured_scene(filter: str = "nearest") -> rv.SceneExaminer:
    examiner = rv.SceneExaminer()
    examiner.add_child(rv.Material(diffuse_color=(1.0, 1.0, 1.0)))  # lit as the service lights it
    examiner.add_child(rv.ImagePlane(quadrant_image(), width=1.6, filter=filter, name="photo"))
    return examiner


class TextureScene(rv.ServiceListener):
    """A textured image plane, for pages that may draw it themselves."""

    def __init__(self, filter: str) -> None:
        self.filter = filter

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        render_area.client_rendering = True
        examiner = textured_scene(self.filter)
        render_area.scene_manager.scene_graph = examiner
        examiner.camera.view_all(render_area.viewport, examiner)


def quadrant_means(picture: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The mean colour of each quadrant of ``box`` (top, bottom, left, right), top-left first,
    leaving out a fifth of each quadrant along its edges (smoothing, compression)."""
    top, bottom, left, right = box
    middle_y, middle_x = (top + bottom) // 2, (left + right) // 2
    means = []
    for y0, y1 in ((top, middle_y), (middle_y, bottom)):
        for x0, x1 in ((left, middle_x), (middle_x, right)):
            dy, dx = (y1 - y0) // 5, (x1 - x0) // 5
            means.append(picture[y0 + dy:y1 - dy, x0 + dx:x1 - dx].reshape(-1, 3).mean(axis=0))
    return np.array(means)


def plane_box(picture: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask(picture))
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def assert_same_image(client: np.ndarray, server: np.ndarray) -> None:
    box = plane_box(server)
    assert (box[1] - box[0]) * (box[3] - box[2]) > 0.2 * server.shape[0] * server.shape[1], "the plane fills the view"
    assert plane_box(client) == pytest.approx(box, abs=2), "the same silhouette"
    expected, drawn = quadrant_means(server, box), quadrant_means(client, box)
    # The service's picture shows each quadrant in its colour, lit (so the test can fail).
    assert np.argmax(expected, axis=1).tolist() == np.argmax(COLOURS, axis=1).tolist()
    assert np.abs(drawn - expected).max() < 12, f"quadrant colours: page {drawn.round()}, service {expected.round()}"
    top, bottom, left, right = box
    inner = (slice(top + 3, bottom - 3), slice(left + 3, right - 3))
    differs = np.abs(client[inner] - server[inner]).max(axis=2) > 40
    assert differs.mean() < 0.03, f"{differs.mean():.1%} of the plane's pixels differ"


@pytest.mark.parametrize("filter", ["nearest", "linear"])
def test_a_textured_image_plane_looks_the_same_drawn_by_the_page_and_by_the_service(
        webgl_browser: Browser, filter) -> None:  # noqa: F811
    with contextlib.ExitStack() as stack:
        runner = stack.enter_context(running_service(TextureScene(filter), run_mode=rv.RunMode.INVENTOR_SERVICE))
        problems: list[str] = []

        def open_page(mode: str) -> Page:
            context = webgl_browser.new_context(viewport=VIEWPORT, device_scale_factor=1, bypass_csp=True)
            stack.callback(context.close)
            context.add_init_script(INSTRUMENT)
            page = context.new_page()
            page.on("pageerror", lambda error: problems.append(f"uncaught {error}"))
            page.goto(f"http://127.0.0.1:{runner.service.port}/?area=Photo&render={mode}")
            return page

        page = open_page("client")
        wait_mode(page, "client")
        client = settled_gl_image(page)
        # The service's picture from a page of its own, in the same view (the camera is the area's).
        server_page = open_page("server")
        wait_settled(server_page, after=0)
        server = canvas_image(server_page)
        assert not problems, problems
    assert_same_image(client, server)


def exported_picture(browser: Browser, path) -> np.ndarray:
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1, offline=True, bypass_csp=True)
    try:
        page: Page = context.new_page()
        page.goto(path.as_uri())
        page.wait_for_function("window.remoteviz.model && window.remoteviz.model.draws() > 0", timeout=20_000,
                               polling=50)
        url = page.evaluate("document.querySelector('#view canvas').toDataURL('image/png')")
    finally:
        context.close()
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")).astype(int)


def test_the_exported_page_holds_and_draws_the_texture(webgl_browser: Browser, tmp_path) -> None:  # noqa: F811
    from remoteviz.scene_sync import export_scene

    path = tmp_path / "photo.html"
    examiner = textured_scene()
    examiner.camera.view_all(rv.Viewport(VIEWPORT["width"], VIEWPORT["height"]), examiner)
    export_scene(examiner, path, width=VIEWPORT["width"], height=VIEWPORT["height"])
    manager = rv.SceneManager()
    manager.scene_graph = examiner
    server = manager.render(VIEWPORT["width"], VIEWPORT["height"]).astype(int)
    manager.dispose()
    assert_same_image(exported_picture(webgl_browser, path), server)


SMALL_TEXTURES = r"""
(() => {
  // A browser whose WebGL takes textures of 32 pixels a side at most.
  const native = WebGL2RenderingContext.prototype.getParameter;
  WebGL2RenderingContext.prototype.getParameter = function (name) {
    return name === this.MAX_TEXTURE_SIZE ? 32 : native.call(this, name);
  };
})();
"""


def test_a_texture_over_the_browsers_largest_puts_the_page_back_on_the_services_frames(
        webgl_browser: Browser) -> None:  # noqa: F811
    with contextlib.ExitStack() as stack:
        runner = stack.enter_context(running_service(TextureScene("nearest"), run_mode=rv.RunMode.INVENTOR_SERVICE))
        context = webgl_browser.new_context(viewport=VIEWPORT, device_scale_factor=1, bypass_csp=True)
        stack.callback(context.close)
        context.add_init_script(INSTRUMENT + SMALL_TEXTURES)
        page = context.new_page()
        warnings: list[str] = []
        page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
        page.goto(f"http://127.0.0.1:{runner.service.port}/?area=Photo&render=client")
        page.wait_for_function("window.__rv.service.some(([event, details]) => event === 'renderMode'"
                               " && details.mode === 'server')", timeout=30_000, polling=50)
        page.wait_for_function("window.__rv.decoded.length > 0", timeout=30_000, polling=50)
        picture = canvas_image(page)
    assert any("over this browser's largest (32)" in text for text in warnings), warnings
    box = plane_box(picture)
    assert np.argmax(quadrant_means(picture, box), axis=1).tolist() == np.argmax(COLOURS, axis=1).tolist(), \
        "the service's frames show the image"
