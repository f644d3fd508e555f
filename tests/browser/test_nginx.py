"""HelloCone behind Debian's real nginx in Chromium: the page and the client from nginx over
https://, the stream over wss:// through nginx to the service, which speaks plain ws://."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..certificates import make_certificate
from ..integration.harness import wait_until
from ..nginx import Nginx, free_port, running_nginx
from .conftest import ConeService, hello_cone, running_cone
from .helpers import assert_a_drag_turns_the_cone, record, wait_first_frame


@pytest.fixture
def proxied_cone(cone: ConeService, tmp_path: Path) -> Iterator[tuple[Nginx, ConeService]]:
    """nginx on https://127.0.0.1:<port> in front of a HelloCone service on plain ws://."""
    cone.wait_cone_disposed()  # one OpenGL context per process: the shared HelloCone is idle
    port = free_port()
    certificate = make_certificate(tmp_path / "tls")
    # Behind a proxy the service cannot tell its public origin: it is named (docs/deployment.md).
    with running_cone(allowed_origins=[f"https://127.0.0.1:{port}"]) as service, \
            running_nginx(tmp_path / "nginx", certificate, hello_cone.STATIC_DIR, service.service.port,
                          free_port(), port=port) as nginx:
        assert not service.service.settings.is_secure
        yield nginx, service


def test_the_cone_shows_and_turns_through_nginx(proxied_cone, new_page) -> None:
    nginx, service = proxied_cone
    page = new_page(nginx.origin + "/", ignore_https_errors=True)  # the certificate is self-signed
    wait_first_frame(page)
    connected = [event for event in record(page)["service"] if event[0] == "connected"]
    assert len(connected) == 1 and connected[0][1]["renderAreaId"] == "TheCone"
    # The client module came from nginx, not from the service's own HTTP.
    server = page.evaluate("fetch('/remoteviz/remoteviz.js').then((r) => r.headers.get('server'))")
    assert server.startswith("nginx"), server
    assert service.service.num_clients == 1
    assert_a_drag_turns_the_cone(page)
    # nginx logs a WebSocket when it closes.
    page.close()
    wait_until(lambda: '"GET /TheCone HTTP/1.1" 101 ' in nginx.access_log(), timeout=10)
    assert '"GET /remoteviz/remoteviz.js HTTP/1.1" 200 ' in nginx.access_log()
