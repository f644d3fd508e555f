"""Navigation in a page that draws client-side, in headless Chromium with WebGL2 (SwiftShader): a
drag and the wheel turn the page's own picture with no frame from the service and no move sent,
and the service's camera follows, so the service's picture and picker see the page's view."""

from __future__ import annotations

import numpy as np
from playwright.sync_api import Page

from .helpers import drag, view_box
from .test_client_side_rendering import (  # noqa: F401 (viewer and webgl_browser are fixtures)
    iou,
    mask,
    message_reply,
    server_picture,
    settled_gl_image,
    viewer,
    wait_mode,
    webgl_browser,
)

RECORD_SENT = r"""() => {
  // What the page sends the service from now on: message types, mouse actions.
  window.__sent = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (typeof data === "string") {
      const message = JSON.parse(data);
      window.__sent.push(message.type === "mouse" ? `mouse ${message.action}` : message.type);
    }
    return send.call(this, data);
  };
}"""


def sent(page: Page) -> list[str]:
    return page.evaluate("window.__sent")


def client_page(open_viewer) -> tuple[Page, np.ndarray]:
    """A viewer page drawing client-side, its home picture, and what it sends from now on recorded."""
    page = open_viewer(query="render=client")
    wait_mode(page, "client")
    home = settled_gl_image(page)
    page.evaluate(RECORD_SENT)
    return page, home


def test_a_drag_and_the_wheel_turn_the_page_picture_with_no_frame_and_the_service_camera_follows(viewer) -> None:  # noqa: F811
    page, home = client_page(viewer)
    frames_before = page.evaluate("window.__rv.received.length")
    drag(page, [(180, 150), (230, 170), (260, 190)])
    turned = settled_gl_image(page)
    assert iou(mask(turned), mask(home)) < 0.9, "the drag turned the page's picture"
    messages = sent(page)
    assert "mouse down" in messages and "mouse up" in messages, "presses and releases still reach the service"
    during = messages[messages.index("mouse down"):messages.index("mouse up")]
    assert "mouse move" not in during, f"the drag's moves stayed in the page: {messages}"
    assert "camera" in messages and messages.index("mouse up") > max(
        i for i, m in enumerate(messages) if m == "camera"), "the release went after the page's last camera"
    box = view_box(page)
    page.mouse.move(box["x"] + 180, box["y"] + 150)
    page.mouse.wheel(0, 200)  # six lines: zoomed out 1.1^6 times
    zoomed = settled_gl_image(page)
    assert mask(zoomed).sum() < 0.7 * mask(turned).sum(), "the wheel zoomed the page's picture out"
    assert "wheel" not in sent(page)
    assert page.evaluate("window.__rv.received.length") == frames_before, "the service sent no frame meanwhile"
    # The service's camera is the page's: its own picture of the view has the same silhouette.
    assert iou(mask(zoomed), mask(server_picture(page))) >= 0.95


def test_after_a_drag_in_the_page_the_service_picks_with_the_page_camera(viewer) -> None:  # noqa: F811
    page, home = client_page(viewer)
    drag(page, [(180, 150), (180, 200), (180, 240)])
    turned = settled_gl_image(page)
    uncovered = mask(turned) & ~mask(home)  # the scene is here now, and was not at the home view
    ys, xs = np.nonzero(uncovered)
    assert len(xs) > 50, "the drag moved the scene over new pixels"
    x, y = int(xs[len(xs) // 2]), int(ys[len(ys) // 2])
    assert message_reply(page, f"pick {x} {y}") != "none", "the service picked with the page's camera"
    ys, xs = np.nonzero(~mask(turned) & mask(home))  # the scene was here, and is not any more
    assert len(xs) > 50
    assert message_reply(page, f"pick {int(xs[len(xs) // 2])} {int(ys[len(ys) // 2])}") == "none"
