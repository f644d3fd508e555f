"""Colour maps switched from the built-in page in Chromium: a ``colormap`` application message
changes a coloured mesh's map and range, and the colour bar with it (pixels against the map read
from the cmap package); a bad message changes nothing and its sender hears why."""

from __future__ import annotations

import json
from collections.abc import Iterator

import cmap
import numpy as np
import pytest

import remoteviz as rv

from ..integration.harness import running_service
from .helpers import canvas_image, decoded_count, record, wait_first_frame, wait_settled

VISIBLE = 480.0  # world units across the view's smaller side
HALF_WIDTH = 400.0  # the rectangle spans x -400..400 (scalars 0..100), wider than the view


def map_rgb(qualified: str, t: np.ndarray) -> np.ndarray:
    table = np.asarray(cmap.Colormap(qualified).lut(256))[:, :3]
    x = np.clip(t, 0.0, 1.0) * 255.0
    return np.stack([np.interp(x, np.arange(256), table[:, k]) for k in range(3)], axis=-1) * 255.0


class _PngFrames(rv.RenderAreaListener):
    """Lossless still frames, so the page's settled pixels are the rendered ones."""

    def on_opened_connection(self, render_area, connection, frame_encoders):
        frame_encoders.set_encoders(rv.Encoder.PNG, rv.Encoder.JPEG)


class _ColouredScene(rv.ServiceListener):
    """A rectangle filling the view, coloured by x from 0 to 100, with a colour bar and the
    colour map messages."""

    def on_instantiated_render_area(self, render_area):
        camera = rv.OrthographicCamera(position=(0.0, 0.0, 10.0), height=VISIBLE)
        root = rv.SceneExaminer(camera=camera)
        root.headlight.on = False
        root.add_child(rv.Material(ambient_color=(1, 1, 1), specular_color=(0, 0, 0)))
        x, y = HALF_WIDTH, 4 * VISIBLE
        vertices = [(-x, -y, 0), (x, -y, 0), (x, y, 0), (-x, y, 0)]
        field = rv.Mesh(vertices, [(0, 1, 2), (0, 2, 3)], scalars=[0.0, 100.0, 100.0, 0.0], name="field")
        root.add_child(field)
        root.add_child(rv.ColorBar(field, corner="top-left", margin=0.0))
        render_area.scene_manager.scene_graph = root
        render_area.scene_manager.antialiasing = 0
        render_area.add_listener(_PngFrames())
        render_area.add_listener(rv.ColormapMessages())


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    # No static folder: the service serves its built-in page.
    with running_service(_ColouredScene(), run_mode=rv.RunMode.INVENTOR_SERVICE) as runner:
        yield f"http://127.0.0.1:{runner.service.port}"


def along_map(qualified: str, pixels: np.ndarray) -> np.ndarray:
    """For each RGB pixel the position 0..1 of the nearest colour along the map (checked near)."""
    table = np.asarray(cmap.Colormap(qualified).lut(256))[:, :3] * 255.0
    pixels = np.asarray(pixels, dtype=float)
    distances = np.linalg.norm(pixels[:, None, :] - table[None, :, :], axis=-1)
    assert distances.min(axis=1).max() < 6, "a pixel far from every colour of the map"
    return distances.argmin(axis=1) / 255.0


def send(page, message: dict) -> int:
    painted = decoded_count(page)
    assert page.evaluate("(text) => window.theRenderArea.sendMessage(text)", json.dumps(message))
    return painted


def answers(page) -> list[dict]:
    return [json.loads(m) for m in record(page)["messages"] if isinstance(m, str) and m.startswith("{")]


def test_a_colormap_message_from_the_page_switches_the_map_and_the_colour_bar(base, new_page) -> None:
    page = new_page(f"{base}/?area=Colours")
    wait_first_frame(page)
    wait_settled(page, after=0)
    first = canvas_image(page)
    height, width = first.shape[:2]  # the built-in page's view fills the window
    row = first[height // 2, width // 2 - 100 :]  # clear of the colour bar on the left
    # Each pixel shows a viridis colour, rising from left to right: where along the map it is.
    t = along_map("bids:viridis", row)
    assert t[0] < 0.6 < 0.75 < t[-1] and (np.diff(t) >= -0.02).all()

    painted = send(page, {"type": "colormap", "node": "field", "colormap": "plasma", "range": [0, 50], "log": False})
    wait_settled(page, after=painted)
    image = canvas_image(page)
    # The same pixels through plasma, over half the range: the right half clamps to its last colour.
    np.testing.assert_allclose(image[height // 2, width // 2 - 100 :], map_rgb("bids:plasma", t * 2.0), atol=6)
    # The bar's strip (6 px in, 16 wide, 200 long, high end on top) follows the new map.
    strip = image[:, 6 + 8]
    rows = np.flatnonzero((np.abs(strip - map_rgb("bids:plasma", np.array([1.0]))[0]) <= 3).all(axis=1))
    top = int(rows[0])
    np.testing.assert_allclose(image[top : top + 200, 14], map_rgb("bids:plasma", 1 - (np.arange(200) + 0.5) / 200),
                               atol=3)
    page.wait_for_function("window.__rv.messages.some((m) => m.includes('colormap-applied'))", polling=50)
    applied = [a for a in answers(page) if a["type"] == "colormap-applied"]
    assert applied[-1]["nodes"] == [{"node": "field", "colormap": "plasma", "range": [0.0, 50.0], "log": False,
                                     "array": None, "arrays": []}]

    # A bad message: nothing changes, and the page hears why.
    send(page, {"type": "colormap", "colormap": "no-such-map"})
    page.wait_for_function("window.__rv.messages.some((m) => m.includes('colormap-error'))", polling=50)
    error = next(a for a in answers(page) if a["type"] == "colormap-error")
    assert "unknown colour map 'no-such-map'" in error["reason"]
    page.wait_for_timeout(500)  # (the built-in page shows messages in its status line, which may resize the view)
    after = canvas_image(page)
    still_plasma = along_map("bids:plasma", after[after.shape[0] // 2, width // 2 - 100 :])
    assert still_plasma[-1] == 1.0 and still_plasma[0] < 0.9

    # What there is, for a toolbar to offer.
    send(page, {"type": "colormaps"})
    page.wait_for_function("window.__rv.messages.some((m) => m.includes('\"names\"'))", polling=50)
    listing = next(a for a in answers(page) if a["type"] == "colormaps")
    assert "viridis" in listing["names"] and listing["nodes"][0]["colormap"] == "plasma"
