"""The session manager behind Debian's real nginx in Chromium: the page and the client from nginx
over https://, the stream over wss:// through nginx's ``/sessions/`` location
(``deploy/nginx/remoteviz.conf.template``) to the manager's proxy, which starts a HelloCone
instance for the page and relays it."""

from __future__ import annotations

from pathlib import Path

from ..certificates import make_certificate
from ..integration.harness import wait_until
from ..nginx import free_port, running_nginx
from .helpers import assert_a_drag_turns_the_cone, record, wait_first_frame
from .test_sessions import _cone_manager

PAGES = Path(__file__).resolve().parent / "pages"  # nginx's own static root; the page comes from the manager


def test_the_cone_shows_and_turns_through_nginx_and_the_session_manager(tmp_path: Path, new_page) -> None:
    port = free_port()
    certificate = make_certificate(tmp_path / "tls")
    # The manager sees nginx's plain connection: it is told the public origin, as a service is.
    with _cone_manager(tmp_path, allowed_origins=[f"https://127.0.0.1:{port}"], rest_endpoint="proxy") as manager, \
            running_nginx(tmp_path / "nginx", certificate, PAGES, free_port(), manager.port, port=port) as nginx:
        # The example's page, from the manager through nginx's /sessions/ location: it finds the
        # manager one folder up from itself, so its WebSocket goes to /sessions/hello_cone/TheCone.
        page = new_page(f"{nginx.origin}/sessions/hello_cone/?mode=proxy",
                        ignore_https_errors=True)  # the certificate is self-signed
        wait_first_frame(page, timeout=60_000)
        events = record(page)["service"]
        assert ["pendingNetworkCalibration", {"state": "launching"}] in events  # the proxy started it
        connected = [event for event in events if event[0] == "connected"]
        assert len(connected) == 1 and connected[0][1]["renderAreaId"] == "TheCone"
        status = manager.status()  # counts only: listing sessions wants the API secret
        assert status["instances"] == 1 and status["states"]["in_use"] == 1
        assert_a_drag_turns_the_cone(page)
        page.close()
        # nginx logs the WebSocket (101) when it closes.
        wait_until(lambda: '"GET /sessions/hello_cone/TheCone HTTP/1.1" 101 ' in nginx.access_log(), timeout=10)
        # The REST handshake through nginx: the answer's url names wss:// and the /sessions/ prefix.
        page = new_page(f"{nginx.origin}/sessions/hello_cone/", ignore_https_errors=True)
        wait_first_frame(page, timeout=60_000)
        assert_a_drag_turns_the_cone(page)
        page.close()
