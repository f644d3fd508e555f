"""The examples a user copies, each run as a user runs it (its own process, the URL from its log)
and driven in Chromium."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from playwright.sync_api import Page

from ..processes import ROOT, service_process
from .helpers import canvas_image, changed_fraction, decoded_count, drag, view_box, wait_first_frame, wait_settled

EXAMPLES = ROOT / "examples"


def model_mask(image: np.ndarray) -> np.ndarray:
    """Where the picture differs from the background gradient (one colour per row, as at its left edge)."""
    return np.abs(image - image[:, 1, :][:, None, :]).max(axis=2) > 12


def click(page: Page, x: float, y: float) -> None:
    box = view_box(page)
    page.mouse.click(box["x"] + float(x), box["y"] + float(y))


def settle_after(page: Page, action) -> np.ndarray:
    painted = decoded_count(page)
    action()
    wait_settled(page, after=painted)
    return canvas_image(page)


def test_mesh_viewer_colours_resets_and_picks(new_page) -> None:
    with service_process(str(EXAMPLES / "mesh_viewer" / "mesh_viewer.py"), "--port", "0") as service:
        page = new_page(service.url)
        wait_first_frame(page)
        wait_settled(page, after=0)
        start = canvas_image(page)
        mask = model_mask(start)
        assert 0.05 < mask.mean() < 0.8, "the bracket fills part of the view"
        grey = start[mask].mean(axis=0)
        assert abs(grey[0] - grey[2]) < 20, f"the default material is grey, not {grey}"

        red = settle_after(page, lambda: page.click("text=red"))
        shade = red[mask].mean(axis=0)
        assert shade[0] > shade[1] + 40 and shade[0] > shade[2] + 40, f"the model turned red: {shade}"

        turned = settle_after(page, lambda: drag(page, [(320, 150), (360, 250), (400, 330)]))
        assert changed_fraction(red, turned) > 0.03, "a drag turns the model"
        back = settle_after(page, lambda: page.click("#reset"))
        assert changed_fraction(red, back) < 0.005, "reset brings back the view the viewer started with"

        page.click("#select")
        page.wait_for_function("document.getElementById('mode').textContent === 'SELECTION'", timeout=10_000)
        rows, columns = np.nonzero(model_mask(back))
        inside = len(rows) // 2
        click(page, columns[inside], rows[inside])
        page.wait_for_function("document.getElementById('picked').textContent.includes('triangle')",
                               timeout=10_000)
        text = page.locator("#picked").text_content() or ""
        assert "bracket.stl" in text, text  # the path from the scene root down to the mesh
        click(page, 3, 3)
        page.wait_for_function("document.getElementById('picked').textContent === 'background'", timeout=10_000)
        assert changed_fraction(back, canvas_image(page)) < 0.005, "clicks in SELECTION mode do not navigate"


def globe_coverage(image: np.ndarray) -> float:
    """The share of the view the chequered globe covers: the background is grey, the globe is not."""
    return float((np.abs(image[..., 0] - image[..., 2]) > 15).mean())


def test_independent_frames_from_numpy_turn_on_a_drag_and_zoom_on_the_wheel(new_page) -> None:
    with service_process(str(EXAMPLES / "independent" / "independent.py"), "--port", "0") as service:
        page = new_page(service.url)  # the built-in viewer page: the example serves no page of its own
        wait_first_frame(page)
        wait_settled(page, after=0)
        start = canvas_image(page)
        covered = globe_coverage(start)
        assert 0.2 < covered < 0.8, covered
        box = view_box(page)
        middle = (box["width"] / 2, box["height"] / 2)
        turned = settle_after(page, lambda: drag(page, [middle, (middle[0] + 80, middle[1]),
                                                        (middle[0] + 160, middle[1] + 20)]))
        assert changed_fraction(start, turned) > 0.05, "a drag turns the globe"
        assert abs(globe_coverage(turned) - covered) < 0.02, "turning keeps its size"
        page.mouse.move(box["x"] + middle[0], box["y"] + middle[1])  # a hover: no button, no turn
        zoomed = settle_after(page, lambda: page.mouse.wheel(0, 300))
        assert globe_coverage(zoomed) < 0.8 * covered, "the wheel turned towards the user zooms out"


def area_image(page: Page, element: str) -> np.ndarray:
    """The canvas of the view inside ``#element``, (H, W, 3) int."""
    url = page.evaluate(f"document.querySelector('#{element} canvas').toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")).astype(int)


def painted(page: Page, element: str) -> int:
    return page.evaluate(f"window.painted.{element}.length")


def wait_area_settled(page: Page, element: str, after: int) -> None:
    """A still frame newer than the first ``after`` painted in ``#element``, then 300 ms of nothing."""
    page.wait_for_function(
        """([element, after]) => {
             const p = window.painted[element];
             return p.length > after && p[p.length - 1].still && performance.now() - p[p.length - 1].at > 300;
           }""", arg=[element, after], timeout=20_000, polling=50)


def drag_in(page: Page, element: str, points: list[tuple[float, float]]) -> None:
    box = page.locator(f"#{element} .remoteviz-view").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=6)
    page.mouse.up()


def test_two_areas_on_a_page_one_shared_with_a_second_tab(new_page) -> None:
    with service_process(str(EXAMPLES / "two_areas" / "two_areas.py"), "--port", "0") as service:
        tabs = [new_page(service.url), new_page(service.url)]
        for tab in tabs:
            for element in ("Shared", "Mine"):
                wait_area_settled(tab, element, after=0)
        names = [tab.locator("#MineStatus").text_content() for tab in tabs]
        assert names[0] != names[1] and all(n and n.startswith("Mine-") for n in names), names
        before = {(i, e): area_image(tab, e) for i, tab in enumerate(tabs) for e in ("Shared", "Mine")}
        assert changed_fraction(before[0, "Shared"], before[1, "Shared"]) < 0.005, "one area, one picture"

        counts = [painted(tab, "Shared") for tab in tabs]
        drag_in(tabs[0], "Shared", [(180, 80), (180, 160), (180, 240)])
        for tab, count in zip(tabs, counts):
            wait_area_settled(tab, "Shared", after=count)
        shared = [area_image(tab, "Shared") for tab in tabs]
        assert changed_fraction(before[0, "Shared"], shared[0]) > 0.03, "the drag turned the shared cone"
        assert changed_fraction(shared[0], shared[1]) < 0.005, "the second tab shows the same turned cone"

        count = painted(tabs[0], "Mine")
        drag_in(tabs[0], "Mine", [(100, 150), (200, 150), (300, 150)])
        wait_area_settled(tabs[0], "Mine", after=count)
        mine = area_image(tabs[0], "Mine")
        assert changed_fraction(before[0, "Mine"], mine) > 0.01, "the first tab's own cube turned"
        assert changed_fraction(before[1, "Mine"], area_image(tabs[1], "Mine")) == 0.0, "the second tab's did not"
