"""What the browser tests do with a page: record what its render area hears, read its canvas,
wait for frames, drag on it."""

from __future__ import annotations

import base64
import io
from urllib.parse import urlencode

import numpy as np
from PIL import Image
from playwright.sync_api import Page

import remoteviz as rv

INSTRUMENT = r"""
(() => {
  // Every test page stores its render area in window.theRenderArea right after constructing it
  // and before connecting (the HelloCone page does too), so listeners attached here hear
  // everything from the first event on.
  const record = { service: [], received: [], decoded: [], messages: [], lastPaint: 0 };
  window.__rv = record;
  let area = null;
  Object.defineProperty(window, "theRenderArea", {
    configurable: true,
    get() { return area; },
    set(value) {
      area = value;
      value.addServiceListener((event) => record.service.push(JSON.parse(JSON.stringify(event))));
      value.addReceivedFrameListener((frame) => record.received.push(frame));
      value.addDecodedFrameListener((frame) => {
        record.decoded.push(frame);
        record.lastPaint = performance.now();
      });
      value.addReceivedMessageListener((message) =>
        record.messages.push(typeof message === "string" ? message : { bytes: Array.from(message) }));
    },
  });
})();
"""
"""Added to every test page with ``BrowserContext.add_init_script``: fills ``window.__rv``."""

def view_url(runner, **query: object) -> str:
    """The URL of ``pages/view.html`` on ``runner``'s service (a ServiceThread) with ``query`` (see the page)."""
    return f"http://127.0.0.1:{runner.service.port}/view.html?{urlencode(query)}"


VIEW = ".remoteviz-view"
CANVAS = ".remoteviz-view canvas"


def record(page: Page) -> dict:
    """What the page's render area heard so far: service events, frames, messages."""
    return page.evaluate("window.__rv")


def decoded_count(page: Page) -> int:
    """How many frames the page has painted."""
    return page.evaluate("window.__rv.decoded.length")


def wait_first_frame(page: Page, timeout: float = 20_000) -> None:
    """Wait until the page has painted a frame."""
    page.wait_for_function("window.__rv.decoded.length > 0", timeout=timeout, polling=50)


def wait_settled(page: Page, after: int, quiet_ms: int = 300, timeout: float = 20_000) -> None:
    """Wait until a still frame newer than the first ``after`` has been painted, then nothing for ``quiet_ms``.

    The service sends a still frame once input stops and then nothing more, so this is the
    picture an interaction ends with.
    """
    page.wait_for_function(
        """([after, quiet]) => {
             const d = window.__rv.decoded;
             return d.length > after && d[d.length - 1].still && performance.now() - window.__rv.lastPaint > quiet;
           }""",
        arg=[after, quiet_ms], timeout=timeout, polling=50)


def canvas_image(page: Page) -> np.ndarray:
    """The render area's canvas (one pixel per render-area pixel) as an (H, W, 3) int array."""
    url = page.evaluate(f"document.querySelector({CANVAS!r}).toDataURL('image/png')")
    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def view_screenshot(page: Page) -> np.ndarray:
    """The view as the page shows it (the picture laid out in its container), (H, W, 3) int."""
    png = page.locator(VIEW).screenshot(animations="disabled", caret="hide")
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def view_box(page: Page) -> dict:
    """The view's rectangle in page CSS pixels: x, y, width, height."""
    box = page.locator(VIEW).bounding_box()
    assert box is not None, "the view is not shown"
    return box


VERTICAL_DRAG = [(320, 160), (320, 220), (320, 280), (320, 340)]
"""A vertical drag through the middle of the HelloCone page's 640 x 480 view: it tilts the cone."""


def drag(page: Page, points: list[tuple[float, float]], steps: int = 6) -> None:
    """A left-button drag through ``points`` (CSS pixels from the view's top-left corner)."""
    box = view_box(page)
    (x, y), rest = points[0], points[1:]
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.mouse.down()
    for x, y in rest:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=steps)
    page.mouse.up()


def assert_a_drag_turns_the_cone(page: Page) -> None:
    """The HelloCone page shows the cone, and a vertical drag tilts it: many pixels change, the
    frames during the drag are interactive and the last one, once input stopped, is still."""
    wait_settled(page, after=0)
    before, painted = canvas_image(page), decoded_count(page)
    assert_shows_cone(before)
    drag(page, VERTICAL_DRAG)
    wait_settled(page, after=painted)
    after = canvas_image(page)
    assert changed_fraction(before, after) > 0.05, "a vertical drag tilts the cone: many pixels change"
    frames = record(page)["decoded"][painted:]
    assert any(not frame["still"] for frame in frames) and frames[-1]["still"]


def changed_fraction(before: np.ndarray, after: np.ndarray, threshold: int = 20) -> float:
    """The share of pixels whose colour changed by more than ``threshold`` (mean over channels)."""
    assert before.shape == after.shape, (before.shape, after.shape)
    return float((np.abs(after - before).mean(axis=2) > threshold).mean())


def assert_shows_cone(image: np.ndarray) -> None:
    """A lit grey cone in the middle of a grey gradient background, lighter at the top."""
    height, width = image.shape[:2]
    centre = image[height // 2, width // 2]
    top = (image[2, 2] + image[2, width - 3]) / 2
    bottom = (image[height - 3, 2] + image[height - 3, width - 3]) / 2
    assert abs(centre[0] - centre[2]) < 25 and abs(centre[0] - centre[1]) < 25, f"centre {centre} is not grey"
    assert centre.mean() > bottom.mean() + 60, f"centre {centre} is not much lighter than the bottom corners {bottom}"
    assert top.mean() > bottom.mean() + 40, f"no gradient lighter at the top: top {top}, bottom {bottom}"


def cone_coverage(image: np.ndarray, background: np.ndarray) -> float:
    """The share of pixels that differ from ``background``, one colour per row (the gradient)."""
    return float((np.abs(image - background[:, None, :]).max(axis=2) > 12).mean())


# ---------------------------------------------------------------- INDEPENDENT_SERVICE applications

QUADRANT_COLOURS = {"top_left": (220, 30, 30), "top_right": (30, 200, 30),
                    "bottom_left": (30, 30, 220), "bottom_right": (230, 230, 40)}
"""The picture the test applications render: four flat quadrants, so that its placement and
orientation show in a screenshot."""


def quadrants(width: int, height: int) -> np.ndarray:
    """The four-quadrant picture at ``width`` x ``height``."""
    image = np.empty((height, width, 3), np.uint8)
    half_w, half_h = width // 2, height // 2
    image[:half_h, :half_w] = QUADRANT_COLOURS["top_left"]
    image[:half_h, half_w:] = QUADRANT_COLOURS["top_right"]
    image[half_h:, :half_w] = QUADRANT_COLOURS["bottom_left"]
    image[half_h:, half_w:] = QUADRANT_COLOURS["bottom_right"]
    return image


class RecordingArea(rv.RenderAreaListener):
    """Renders the quadrants, records input and messages, answers each message with ``echo:``."""

    def __init__(self, log: list[tuple]) -> None:
        self.log = log

    def on_requested_frame(self, render_area, connection):
        return quadrants(render_area.width, render_area.height), render_area.is_interacting

    def on_mouse_down(self, render_area, connection, x, y, button):
        self.log.append(("mouse_down", render_area.id, x, y, button))
        return True

    def on_key_down(self, render_area, connection, x, y, key):
        self.log.append(("key_down", render_area.id, key))
        return True

    def on_key_up(self, render_area, connection, x, y, key):
        self.log.append(("key_up", render_area.id, key))
        return True

    def on_received_message(self, render_area, connection, message):
        self.log.append(("message", render_area.id, message))
        connection.send_message(b"echo:" + message if isinstance(message, bytes) else "echo:" + message)


class RecordingApp(rv.ServiceListener):
    """A service listener that records what the tests check; it refuses the render area ids in ``refuse``."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.log: list[tuple] = []  # appended on the dispatch thread, read by the test
        self.refuse = refuse

    def on_pending_create_render_area(self, render_area_id, width, height, client, parameters):
        self.log.append(("pending_create", render_area_id, width, height))
        return render_area_id not in self.refuse

    def on_instantiated_render_area(self, render_area):
        render_area.add_listener(RecordingArea(self.log))

    def entries(self, kind: str) -> list[tuple]:
        """The log entries of one kind, without it."""
        return [entry[1:] for entry in list(self.log) if entry[0] == kind]
