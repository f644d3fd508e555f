"""The volume example's page in Chromium: the volume shows, a drag turns it (interactive frames,
then a still one), and moving the opacity slider on the page changes the picture."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import remoteviz as rv

from ..integration.harness import ServiceThread
from .helpers import (
    VERTICAL_DRAG,
    canvas_image,
    changed_fraction,
    decoded_count,
    drag,
    record,
    wait_first_frame,
    wait_settled,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "volume"))
import volume_viewer  # noqa: E402


@pytest.fixture(scope="module")
def volume_base() -> Iterator[str]:
    """The volume example's service (a small phantom, for software OpenGL), dispatched on a thread."""
    service = rv.Service()
    service.add_listener(volume_viewer.VolumeServiceListener(size=64))
    assert service.open(rv.ServiceSettings(host="127.0.0.1", port=0, static_dir=str(volume_viewer.STATIC_DIR)))
    runner = ServiceThread(service)
    runner.start()
    try:
        yield f"http://127.0.0.1:{service.port}"
    finally:
        runner.stop()
        service.close()
    assert not runner.errors, runner.errors


def test_the_volume_shows_turns_with_a_drag_and_follows_the_opacity_slider(volume_base, new_page) -> None:
    page = new_page(f"{volume_base}/")
    wait_first_frame(page)
    wait_settled(page, after=0)
    first = canvas_image(page)
    assert first.shape == (480, 640, 3)
    background = first[5, 630]
    centre = first[200:280, 280:360]
    assert (np.abs(centre - background).max(axis=2) > 60).all(), "the head fills the middle of the view"

    painted = decoded_count(page)
    drag(page, VERTICAL_DRAG)
    wait_settled(page, after=painted)
    turned = canvas_image(page)
    assert changed_fraction(first, turned) > 0.03, "a drag turns the volume"
    frames = record(page)["decoded"][painted:]
    assert any(not frame["still"] for frame in frames) and frames[-1]["still"]

    painted = decoded_count(page)
    page.locator("#opacity").fill("10")  # sets the range input and fires its input event
    wait_settled(page, after=painted)
    faint = canvas_image(page)
    assert changed_fraction(turned, faint) > 0.05, "a lower opacity changes the picture"
    # Fainter: the middle is closer to the background than it was.
    middle = (slice(200, 280), slice(280, 360))
    assert np.abs(faint[middle] - background).mean() < np.abs(turned[middle] - background).mean()
    assert page.locator("#status").text_content() == "connected"
