"""Cost-aware scaling seen in Chromium: the HelloCone page, its interactive renders made slow, gets
smaller pictures while dragging, scaled up to its full-size canvas, its stats overlay shows the
scale, and the still after the drag is full size."""

from __future__ import annotations

import math

import remoteviz as rv

from ..integration.harness import SlowInteractiveRenders
from .conftest import running_cone
from .helpers import assert_shows_cone, canvas_image, record, view_box, wait_settled


class SlowRenders(rv.ServiceListener):
    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        render_area.add_listener(SlowInteractiveRenders(rv.EncodingPolicy.KEEP_FRAMES_PER_SECOND))


SCALE = "theRenderArea.getStats().interactiveScale"
OVERLAY = "document.querySelector('.remoteviz-stats').textContent"


def test_the_overlay_shows_the_interactive_scale_and_the_still_is_full_size(new_page) -> None:
    with running_cone(SlowRenders(), still_delay=0.2) as cone:
        page = new_page(f"{cone.base}/?encoder=jpeg")
        wait_settled(page, after=0)
        page.evaluate("theRenderArea.showStats(true)")
        page.wait_for_function(f"{OVERLAY}.includes('scale 1.00')", timeout=10_000)
        box = view_box(page)
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx + 80, cy)
        page.mouse.down()
        angle = 0.0
        for _ in range(2000):  # drag in circles until a smaller picture has been painted
            angle += 0.15
            page.mouse.move(cx + 80 * math.cos(angle), cy + 80 * math.sin(angle))
            if page.evaluate(f"{SCALE} < 1"):
                break
        scale = page.evaluate(SCALE)
        assert scale < 1
        # The overlay shows it (it refreshes twice a second), while the drag goes on.
        page.wait_for_function(f"{OVERLAY}.includes('scale ' + {SCALE}.toFixed(2))", timeout=10_000)
        overlay = page.evaluate(OVERLAY)
        painted = len(record(page)["decoded"])
        page.mouse.up()
        wait_settled(page, after=painted)
        frames = record(page)["received"]
        image = canvas_image(page)
    assert f"scale {scale:.2f}" in overlay and "fps" in overlay, overlay
    smaller = [f for f in frames if not f["still"] and f["width"] < 640]
    assert smaller and all(f["height"] < 480 for f in smaller)
    assert any(abs(f["width"] / 640 - scale) < 0.01 for f in smaller)
    assert frames[-1]["still"] and (frames[-1]["width"], frames[-1]["height"]) == (640, 480)
    assert image.shape == (480, 640, 3)  # the canvas keeps one pixel per render-area pixel
    assert_shows_cone(image)
