"""The page and the service talking: application messages both ways, a refused connection, keys."""

from __future__ import annotations

import pytest

from ..integration.harness import wait_until
from .helpers import RecordingApp, record, view_url, wait_first_frame


@pytest.mark.parametrize("kind", ["text", "unicode", "bytes"])
def test_a_message_reaches_the_service_and_its_reply_reaches_the_page(independent_service, new_page,
                                                                       kind: str) -> None:
    app = RecordingApp()
    runner = independent_service(app)
    page = new_page(view_url(runner, area="Messages"))
    wait_first_frame(page)
    if kind == "text":
        sent = page.evaluate("theRenderArea.sendMessage('hi')")
        expected, reply = "hi", "echo:hi"
    elif kind == "unicode":
        sent = page.evaluate(r"theRenderArea.sendMessage('h\u00e9 \u2713 \ud834\udd1e')")  # JS escapes
        expected = "h\u00e9 \u2713 \U0001d11e"
        reply = "echo:" + expected
    else:
        sent = page.evaluate("theRenderArea.sendMessage(new Uint8Array([104, 105, 0, 255]))")
        expected, reply = b"hi\x00\xff", {"bytes": list(b"echo:hi\x00\xff")}
    assert sent is True
    wait_until(lambda: app.entries("message"))
    assert app.entries("message") == [("Messages", expected)]  # on_received_message, as str or bytes
    page.wait_for_function("window.__rv.messages.length > 0", timeout=5_000)
    assert record(page)["messages"] == [reply]  # connection.send_message reached addReceivedMessageListener


def test_a_refused_connection_tells_the_page_why(independent_service, new_page) -> None:
    app = RecordingApp(refuse=("Forbidden",))
    runner = independent_service(app)
    page = new_page(view_url(runner, area="Forbidden"))
    page.wait_for_function("window.__rv.service.some((event) => event[0] === 'disconnected')", timeout=10_000)
    events = record(page)["service"]
    assert [event[:2] for event in events] == [["disconnected", "REFUSED"]], events
    assert "refused" in events[0][2], events  # the service's detail travels along
    assert app.entries("pending_create") == [("Forbidden", 300, 300)]  # asked, with the view's size
    assert page.evaluate("theRenderArea.isConnected()") is False
    assert record(page)["decoded"] == []


def test_escape_in_the_focused_view_reaches_on_key_down(independent_service, new_page) -> None:
    app = RecordingApp()
    runner = independent_service(app)
    page = new_page(view_url(runner, area="Keys"))
    wait_first_frame(page)
    # Keys typed elsewhere in the page are not the view's.
    page.focus("#elsewhere")
    page.keyboard.press("x")
    assert page.input_value("#elsewhere") == "x"

    page.locator(".remoteviz-view").focus()
    page.keyboard.press("Escape")
    wait_until(lambda: app.entries("key_up"))
    assert app.entries("key_down") == [("Keys", "Escape")]
    assert app.entries("key_up") == [("Keys", "Escape")]
