"""The session manager in Chromium: a HelloCone service per page through the proxy, and a refusal at the cap."""

from __future__ import annotations

from pathlib import Path

import psutil

from ..sessions.harness import ManagerProcess, wait_for
from .helpers import (
    VERTICAL_DRAG,
    assert_shows_cone,
    canvas_image,
    changed_fraction,
    decoded_count,
    drag,
    record,
    wait_first_frame,
    wait_settled,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sessions"


def _cone_manager(tmp_path: Path, **settings: object) -> ManagerProcess:
    apps = {"hello_cone": {"command": ["{python}", str(EXAMPLE.parent / "hello_cone" / "hello_cone.py")],
                           "static_dir": str(EXAMPLE / "static"),
                           "env": {"PYOPENGL_PLATFORM": "egl", "EGL_PLATFORM": "surfaceless"}}}
    return ManagerProcess(tmp_path, apps=apps, **settings)


def test_two_pages_get_two_instances_and_a_third_over_the_cap_is_refused(tmp_path: Path, new_page) -> None:
    with _cone_manager(tmp_path, max_instances=2, rest_endpoint="proxy") as manager:
        base = f"http://127.0.0.1:{manager.port}/hello_cone/"
        pages = [new_page(base + "?mode=proxy"), new_page(base)]  # the proxy, then the REST handshake
        for page in pages:
            wait_first_frame(page, timeout=60_000)
            wait_settled(page, after=0)
            assert_shows_cone(canvas_image(page))
            assert "connected" in [e[0] for e in record(page)["service"]]
        # While the proxy started its instance, the page heard the pending notification (its loader).
        assert ["pendingNetworkCalibration", {"state": "launching"}] in record(pages[0])["service"]
        status = manager.status()  # counts only: listing sessions wants the API secret
        assert status["instances"] == 2 and status["states"]["in_use"] == 2
        pids = {child.pid for child in psutil.Process(manager.pid).children()}
        assert len(pids) == 2
        for page in pages:  # each page turns its own cone
            before, painted = canvas_image(page), decoded_count(page)
            drag(page, VERTICAL_DRAG)
            wait_settled(page, after=painted)
            assert changed_fraction(before, canvas_image(page)) > 0.05
        third = new_page(base + "?mode=proxy")
        third.wait_for_function("document.getElementById('status').textContent.startsWith('disconnected')",
                                timeout=30_000)
        assert third.locator("#status").text_content() == \
            "disconnected: REFUSED all 2 viewer instances are in use"
        refused = [e for e in record(third)["service"] if e[0] == "disconnected"]
        assert refused == [["disconnected", "REFUSED", "all 2 viewer instances are in use"]]
        # A reload of the first page returns to its own instance.
        pages[0].reload()
        wait_first_frame(pages[0], timeout=60_000)
        wait_for(lambda: manager.status()["states"]["in_use"] == 2)
        assert {child.pid for child in psutil.Process(manager.pid).children()} == pids
