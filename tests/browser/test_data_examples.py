"""The medical and seismic examples run as a user runs them (their own process, synthetic data
written by pydicom and segyio, the URL from the log) and driven from their pages in Chromium: the
page's controls change what is drawn, a double click shows the value picked."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from playwright.sync_api import Page

from ..processes import ROOT, service_process
from .helpers import canvas_image, changed_fraction, decoded_count, view_box, wait_first_frame, wait_settled

EXAMPLES = ROOT / "examples"


def view_image(page: Page, selector: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.locator(selector).screenshot())).convert("RGB")).astype(int)


def wait_changed(page: Page, selector: str, before: np.ndarray, fraction: float = 0.02,
                 timeout: float = 20.0) -> np.ndarray:
    """The view's picture once it differs from ``before`` in more than ``fraction`` of its pixels."""
    deadline = page.evaluate("performance.now()") + timeout * 1000
    while True:
        image = view_image(page, selector)
        if changed_fraction(before, image) > fraction:
            return image
        assert page.evaluate("performance.now()") < deadline, f"{selector} did not change"
        page.wait_for_timeout(100)


def test_the_medical_page_shows_four_views_and_follows_its_controls(new_page) -> None:
    with service_process(str(EXAMPLES / "medical" / "medical_viewer.py"), "--port", "0") as service:
        page = new_page(service.url)
        blank = np.zeros((300, 400, 3), int)
        views = {name: wait_changed(page, f"#{name} canvas", blank, 0.1) for name in
                 ("Volume", "Axial", "Coronal", "Sagittal")}
        assert page.evaluate("Number(document.getElementById('axial').max)") == 47  # the series' 48 slices
        page.wait_for_timeout(600)  # the still frames after the first ones
        axial = view_image(page, "#Axial canvas")
        page.select_option("#window", "lung")
        lung = wait_changed(page, "#Axial canvas", axial, 0.1)
        page.locator("#axial").fill("45")  # near the head: a narrower body
        wait_changed(page, "#Axial canvas", lung, 0.02)
        box = page.locator("#Axial canvas").bounding_box()
        page.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_function("document.getElementById('picked').textContent.startsWith('Axial: 40 HU')",
                               timeout=20_000, polling=50)
        assert all(image.std() > 5 for image in views.values())


def test_the_seismic_page_moves_its_slices_and_picks_amplitudes(new_page) -> None:
    with service_process(str(EXAMPLES / "seismic" / "seismic_viewer.py"), "--port", "0") as service:
        page = new_page(service.url)
        wait_first_frame(page)
        wait_settled(page, after=0)
        assert page.evaluate("Number(document.getElementById('inline').max)") == 59  # the survey's 60 inlines
        start = canvas_image(page)
        painted = decoded_count(page)
        page.uncheck("#volume")
        wait_settled(page, after=painted)
        plain = canvas_image(page)
        assert changed_fraction(start, plain) > 0.02, "hiding the volume changes the picture"
        painted = decoded_count(page)
        page.locator("#inline").fill("5")
        wait_settled(page, after=painted)
        assert changed_fraction(plain, canvas_image(page)) > 0.02, "the inline slice moved"
        box = view_box(page)
        page.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_function("document.getElementById('picked').textContent.includes('amplitude')",
                               timeout=20_000, polling=50)
        assert "error" not in page.text_content("#status")
