"""FIT, CROP and STRETCH: where the picture sits in its view, and which render-area pixel a click hits.

A 200 x 100 render area (the ``width``/``height`` connection parameters fix it) in a 300 x 300 CSS
pixel view, as documented in ``client-js/remoteviz.d.ts``:

- FIT scales it to fit whole, keeping its aspect ratio: 300 x 150, letterbox bars above and below;
- STRETCH scales it to fill the view: 300 x 300 (1.5 x 3 CSS pixels per render-area pixel);
- CROP shows one render-area pixel per device pixel, centred: 200 x 100 CSS pixels at (50, 100)
  with one device pixel per CSS pixel, 100 x 50 at (100, 125) with two.
"""

from __future__ import annotations

import numpy as np
import pytest

from ..integration.harness import wait_until
from .helpers import QUADRANT_COLOURS, RecordingApp, view_box, view_screenshot, view_url, wait_first_frame

AREA_W, AREA_H = 200, 100
VIEW_W, VIEW_H = 300, 300

# Render-area pixels to click on; the click goes to the middle of the pixel as the mode shows it.
TARGETS = [(20, 10), (150, 80)]


def expected_layout(mode: str, pixel_ratio: int) -> tuple[tuple[float, float, float, float], tuple | None]:
    """The picture's rectangle in the view (left, top, width, height) in CSS pixels, and a point
    of the view outside the picture (None when the picture fills the view)."""
    if mode == "FIT":
        return (0, 75, 300, 150), (150, 30)
    if mode == "STRETCH":
        return (0, 0, 300, 300), None
    width, height = AREA_W / pixel_ratio, AREA_H / pixel_ratio
    return ((VIEW_W - width) / 2, (VIEW_H - height) / 2, width, height), (20, 20)


@pytest.mark.parametrize("pixel_ratio", [1, 2])
@pytest.mark.parametrize("mode", ["FIT", "STRETCH", "CROP"])
def test_display_mode_places_the_picture_and_maps_clicks(independent_service, new_page, mode: str,
                                                         pixel_ratio: int) -> None:
    app = RecordingApp()
    runner = independent_service(app)
    area_id = f"Modes{mode}"
    page = new_page(view_url(runner, area=area_id, mode=mode, view_width=VIEW_W, view_height=VIEW_H,
                             width=AREA_W, height=AREA_H), device_scale_factor=pixel_ratio)
    wait_first_frame(page)
    assert page.evaluate("[theRenderArea.getRenderAreaWidth(), theRenderArea.getRenderAreaHeight()]") == \
        [AREA_W, AREA_H]
    (left, top, width, height), outside = expected_layout(mode, pixel_ratio)

    shot = view_screenshot(page)  # in device pixels
    assert shot.shape == (VIEW_H * pixel_ratio, VIEW_W * pixel_ratio, 3)
    # Each quadrant of the picture where the mode puts it.
    for name, (fx, fy) in {"top_left": (0.25, 0.25), "top_right": (0.75, 0.25),
                           "bottom_left": (0.25, 0.75), "bottom_right": (0.75, 0.75)}.items():
        x, y = int((left + fx * width) * pixel_ratio), int((top + fy * height) * pixel_ratio)
        colour = shot[y, x]
        assert np.abs(colour - QUADRANT_COLOURS[name]).max() < 24, f"{mode}: {name} at ({x}, {y}) is {colour}"
    # The picture covers its rectangle (no black inside), and the view's black background shows
    # everywhere else: FIT's letterbox bars, CROP's frame; nothing for STRETCH.
    x0, y0, x1, y1 = (round(v * pixel_ratio) for v in (left, top, left + width, top + height))
    inside = np.zeros(shot.shape[:2], bool)
    inside[y0 + 2:y1 - 2, x0 + 2:x1 - 2] = True
    outside_mask = np.ones(shot.shape[:2], bool)
    outside_mask[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2] = False
    brightness = shot.max(axis=2)
    assert brightness[inside].min() > 100, f"{mode}: black pixels inside the picture"
    assert not outside_mask.any() or brightness[outside_mask].max() < 16, f"{mode}: the picture spills out"

    # Clicks: one outside the picture (it must not reach the service), then one on each target.
    box = view_box(page)
    scale_x, scale_y = width / AREA_W, height / AREA_H
    clicks = [] if outside is None else [outside]
    clicks += [(left + (tx + 0.5) * scale_x, top + (ty + 0.5) * scale_y) for tx, ty in TARGETS]
    for x, y in clicks:
        page.mouse.click(box["x"] + x, box["y"] + y)
    wait_until(lambda: len(app.entries("mouse_down")) >= len(TARGETS))
    # Messages of one connection arrive in order: a click outside would have come first.
    assert app.entries("mouse_down") == [(area_id, tx, ty, 0) for tx, ty in TARGETS]
