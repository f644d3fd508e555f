"""The README's "A service in a few lines", pasted into a script and run as a user runs it: its log
names the URL, the built-in viewer page there shows the cone, and a drag turns it."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..markdown import block_under
from ..processes import ROOT, service_process
from .helpers import (
    assert_shows_cone,
    canvas_image,
    changed_fraction,
    decoded_count,
    drag,
    record,
    view_box,
    wait_first_frame,
    wait_settled,
)

README = ROOT / "README.md"


def readme_service(tmp_path: Path) -> Path:
    """The README's service as a script, on a free port instead of 8080 (which may be taken)."""
    code = block_under(README, "A service in a few lines", "python").text
    assert "port=8080" in code
    script = tmp_path / "service.py"
    script.write_text(code.replace("port=8080", "port=0"))
    return script


def test_the_readme_service_shows_and_turns_the_cone_on_its_built_in_page(tmp_path, new_page) -> None:
    with service_process(str(readme_service(tmp_path))) as service:
        url = service.url  # logged at INFO on stderr by run(), with no logging set up by the script
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        page = new_page(url)
        wait_first_frame(page)
        wait_settled(page, after=0)
        before, painted = canvas_image(page), decoded_count(page)
        assert_shows_cone(before)
        connected = [event for event in record(page)["service"] if event[0] == "connected"]
        assert connected[0][1]["renderAreaId"] == "TheCone"
        box = view_box(page)
        x, y = box["width"] / 2, box["height"] / 3
        drag(page, [(x, y), (x, y + 60), (x, y + 120), (x, y + 180)])
        wait_settled(page, after=painted)
        assert changed_fraction(before, canvas_image(page)) > 0.05, "a vertical drag tilts the cone"


def test_the_built_in_page_shows_the_render_area_named_in_its_query(tmp_path, new_page) -> None:
    with service_process(str(readme_service(tmp_path))) as service:
        page = new_page(service.url + "?area=Parts")
        wait_first_frame(page)
        connected = [event for event in record(page)["service"] if event[0] == "connected"]
        assert connected[0][1]["renderAreaId"] == "Parts"
        assert page.locator("#status").text_content() == "Parts: connected"


def test_a_page_pointed_at_a_port_without_a_service_says_it_could_not_reach_it(tmp_path, new_page) -> None:
    with service_process(str(readme_service(tmp_path))) as service:
        page = new_page(service.url)
        wait_first_frame(page)
        with socket.socket() as probe:  # a port nothing listens on: bound, never listening
            probe.bind(("127.0.0.1", 0))
            closed = probe.getsockname()[1]
            page.evaluate(f"theRenderArea.connectTo('ws://127.0.0.1:{closed}/TheCone')")
            page.wait_for_function("window.__rv.service.some((e) => e[0] === 'disconnected' && "
                                   "e[2].startsWith('could not reach'))", timeout=20_000)
        event = [e for e in record(page)["service"] if e[0] == "disconnected"][-1]
        assert event[1] == "NETWORKFAILURE" and f"ws://127.0.0.1:{closed}/TheCone" in event[2], event
        assert page.locator("#status").text_content().startswith("TheCone: disconnected: NETWORKFAILURE could not reach")


def test_a_service_that_cannot_render_says_so_on_the_built_in_page_and_why_in_its_log(tmp_path, new_page) -> None:
    # No OpenGL platform can be made: the service still listens, and the page, instead of a black
    # canvas forever, shows the failure event; its reason (which may name the server's insides) is
    # the log's, not the viewer's (issue 19, item 10).
    with service_process(str(readme_service(tmp_path)), env={"PYOPENGL_PLATFORM": "bogus"}) as service:
        page = new_page(service.url)
        page.wait_for_function("window.__rv.service.some((e) => e[0] === 'failure')", timeout=30_000)
        failure = [e for e in record(page)["service"] if e[0] == "failure"][0][1]
        assert failure["stage"] == "render" and failure["detail"] == "the frame could not be rendered", failure
        status = page.locator("#status").text_content()
        assert status.startswith("TheCone: the service cannot render frames:") and "bogus" not in status, status
        service.wait_for("render of .* failed.*bogus")


def test_the_readme_service_logs_no_line_per_request(tmp_path) -> None:
    # Its log at INFO says where to point the browser, not one or two lines for each file a page loads.
    with service_process(str(readme_service(tmp_path))) as service:
        url = service.url
        service.wait_for("no access token is required")  # the last of the start lines
        time.sleep(0.5)
        started = len(service.lines)
        for path in ("", "remoteviz/remoteviz.js", "missing.png", ""):
            try:
                urllib.request.urlopen(url + path, timeout=10).read()
            except urllib.error.HTTPError as error:
                assert error.code == 404
        time.sleep(0.5)
        assert service.lines[started:] == [], "\n".join(service.lines)
