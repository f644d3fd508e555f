"""Text labels drawn client-side (``label-layer.js``): in headless Chromium with WebGL2, a label
lands where the service draws it, at about its size, and follows its anchor when the view turns."""

from __future__ import annotations

import base64
import contextlib
import io
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page

import remoteviz as rv

from ..integration.harness import running_service
from . import test_client_side_rendering as csr
from .helpers import INSTRUMENT, drag
from .test_client_side_rendering import client_picture, server_picture, settled_gl_image, wait_mode

webgl_browser = csr.webgl_browser  # Chromium with WebGL2 (SwiftShader), one per module

VIEWPORT = {"width": 320, "height": 240}


def label_scene(viewport: rv.Viewport) -> rv.SceneExaminer:
    """A grey sphere, a green label anchored behind it (moved there by a transform): drawn over it
    all the same, and a yellow two-line label on a blue box fixed near the bottom-left corner."""
    examiner = rv.SceneExaminer()
    examiner.add_child(rv.Separator([rv.Material(diffuse_color=(0.6, 0.6, 0.6)), rv.Sphere(radius=0.6)]))
    examiner.add_child(rv.Separator([rv.Transform(translation=(0.3, 0.0, 0.0)),
                                     rv.Text2D("Label", position=(0.0, 0.2, -0.7), font_size=22,
                                               color=(0.0, 1.0, 0.0), background=None)]))
    examiner.add_child(rv.Text2D("two\nlines", screen_position=(12, 170), font_size=14, color=(1.0, 1.0, 0.0),
                                 background=(0.0, 0.0, 1.0), background_opacity=1.0))
    examiner.camera.view_all(viewport, examiner)
    return examiner


class LabelScene(rv.ServiceListener):
    """Every render area shows :func:`label_scene`, drawn client-side."""

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        render_area.client_rendering = True
        render_area.scene_manager.scene_graph = label_scene(render_area.viewport)


@pytest.fixture
def page(webgl_browser: Browser) -> Iterator[Page]:
    with contextlib.ExitStack() as stack:
        problems: list[str] = []
        runner = stack.enter_context(running_service(LabelScene(), run_mode=rv.RunMode.INVENTOR_SERVICE))
        context = webgl_browser.new_context(viewport=VIEWPORT, device_scale_factor=1, bypass_csp=True)
        stack.callback(context.close)
        context.add_init_script(INSTRUMENT)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"uncaught {error}"))
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.text.startswith("remoteviz") and m.type in ("warning", "error") else None)
        page.goto(f"http://127.0.0.1:{runner.service.port}/?area=Labels&render=client")
        yield page
        assert not problems, problems


def ink_box(image: np.ndarray) -> tuple[float, float, int, int]:
    """The label's ink (its green pixels): centre x, centre y, width and height in pixels."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    ys, xs = np.nonzero((g > 120) & (r < 90) & (b < 90))
    assert len(xs) > 30, "no label on the picture"
    return (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2, int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def assert_same_place(client: np.ndarray, server: np.ndarray) -> None:
    cx, cy, cw, ch = ink_box(client)
    sx, sy, sw, sh = ink_box(server)
    assert abs(cx - sx) <= 4 and abs(cy - sy) <= 3, f"label at {(cx, cy)} client-side, {(sx, sy)} server-side"
    assert abs(ch - sh) <= 0.3 * sh and abs(cw - sw) <= 0.3 * sw, f"label {cw}x{ch} client-side, {sw}x{sh} server-side"


def box_of(image: np.ndarray, colour: str) -> tuple[int, int, int, int]:
    """The extent of the fixed label's blue box, or of its yellow text: left, top, right, bottom."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    chosen = (b > 200) & (r < 60) & (g < 60) if colour == "blue" else (r > 150) & (g > 150) & (b < 100)
    ys, xs = np.nonzero(chosen)
    assert len(xs) > 20, f"no {colour} on the picture"
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def text_rows(image: np.ndarray) -> int:
    """How many runs of rows the yellow text has: its lines."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    inked = ((r > 150) & (g > 150) & (b < 100)).any(axis=1).astype(int)
    return int((np.diff(inked) == 1).sum() + inked[0])


def test_a_label_is_drawn_client_side_where_the_service_draws_it_and_follows_its_anchor(page: Page) -> None:
    wait_mode(page, "client")
    home_client = settled_gl_image(page)
    home_server = server_picture(page)
    assert_same_place(home_client, home_server)
    # The fixed label: its box where and as big as the service's, its two lines inside it.
    assert box_of(home_client, "blue") == box_of(home_server, "blue")
    assert box_of(home_client, "blue")[:2] == (12, 170)
    assert text_rows(home_client) == text_rows(home_server) == 2
    client_box, client_text = box_of(home_client, "blue"), box_of(home_client, "yellow")
    assert client_box[0] < client_text[0] and client_box[1] < client_text[1] and client_text[3] < client_box[3]
    assert np.abs(np.subtract(client_text, box_of(home_server, "yellow"))).max() <= 3
    client_picture(page)
    drag(page, [(160, 120), (200, 135), (230, 150)])
    turned_client = settled_gl_image(page)
    moved = np.subtract(ink_box(turned_client)[:2], ink_box(home_client)[:2])
    assert np.hypot(*moved) > 10, "the orbit moved the label with its anchor"
    assert_same_place(turned_client, server_picture(page))


def test_the_exported_page_draws_its_labels_offline_where_the_service_draws_them(webgl_browser: Browser,
                                                                                  tmp_path) -> None:
    from remoteviz.scene_sync import export_scene

    width, height = VIEWPORT["width"], VIEWPORT["height"]
    manager = rv.SceneManager()
    manager.scene_graph = label_scene(rv.Viewport(width, height))
    server = manager.render(width, height).astype(int)
    path = tmp_path / "labels.html"
    export_scene(manager, path, width=width, height=height)
    context = webgl_browser.new_context(viewport=VIEWPORT, device_scale_factor=1, offline=True, bypass_csp=True)
    requests: list[str] = []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                  else (requests.append(route.request.url), route.abort()))
    try:
        page = context.new_page()
        page.goto(path.as_uri())
        page.wait_for_function("window.remoteviz.model && window.remoteviz.model.draws() > 0", timeout=20_000,
                               polling=50)
        url = page.evaluate("document.querySelector('#view canvas').toDataURL('image/png')")
        exported = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")).astype(int)
    finally:
        context.close()
    assert requests == [], f"the page asked the network for {requests} (a web font?)"
    assert exported.shape == server.shape
    assert_same_place(exported, server)
