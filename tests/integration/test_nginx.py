"""deploy/nginx/ in front, for real: Debian's nginx on loopback terminates TLS, serves the pages and
the browser client, and forwards WebSocket upgrades to a service and to a session manager with
the headers they need."""

from __future__ import annotations

import asyncio
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from remoteviz import client
from remoteviz.protocol import Codec

from ..certificates import Certificate, make_certificate
from ..nginx import CLIENT_DIR, TEMPLATE, fill_template, free_port, running_nginx
from .harness import Recorder, pattern, running_service


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return make_certificate(tmp_path / "tls")


@pytest.fixture
def static_root(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    root.mkdir()
    (root / "index.html").write_text("<!DOCTYPE html><title>the app's page</title>\n")
    return root


class Upstream:
    """A WebSocket and HTTP server on loopback that records what nginx forwards to it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.upgrades: list[Request] = []
        self.plain: list[Request] = []

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        self.plain.append(request)
        return connection.respond(200, f"{self.name} over plain http\n")

    async def _handle(self, websocket: ServerConnection) -> None:
        self.upgrades.append(websocket.request)
        await websocket.send(f"{self.name} saw {websocket.request.path}")
        async for message in websocket:
            await websocket.send(message)  # echo, so that bytes both ways are checked

    def serve(self):
        return serve(self._handle, "127.0.0.1", 0, process_request=self._process_request)


def test_the_template_needs_every_placeholder_and_leaves_nginx_variables_alone() -> None:
    text = TEMPLATE.read_text()
    with pytest.raises(KeyError, match="REMOTEVIZ_SERVICE"):
        fill_template(text, {"REMOTEVIZ_LISTEN": "443"})
    # The nginx variables stay for nginx.
    filled = fill_template(text, {name: "x" for name in
                                  ("REMOTEVIZ_LISTEN", "REMOTEVIZ_SERVER_NAME", "REMOTEVIZ_CERTIFICATE",
                                   "REMOTEVIZ_CERTIFICATE_KEY", "REMOTEVIZ_STATIC_ROOT", "REMOTEVIZ_CLIENT_DIR",
                                   "REMOTEVIZ_SERVICE", "REMOTEVIZ_SESSIONS")})
    directives = "\n".join(line for line in filled.splitlines() if not line.lstrip().startswith("#"))
    assert "${" not in directives
    assert "$http_upgrade" in directives and "$proxy_add_x_forwarded_for" in directives


def test_nginx_forwards_upgrades_with_the_headers_a_service_needs(tmp_path: Path, certificate: Certificate,
                                                                 static_root: Path) -> None:
    service, sessions = Upstream("service"), Upstream("sessions")
    tls = certificate.client_context()

    async def scenario() -> dict:
        async with service.serve() as service_server, sessions.serve() as sessions_server:
            ports = [s.sockets[0].getsockname()[1] for s in (service_server, sessions_server)]
            with running_nginx(tmp_path / "nginx", certificate, static_root, *ports) as nginx:
                base = f"wss://127.0.0.1:{nginx.port}"
                async with ws_connect(f"{base}/TheCone?token=abc", ssl=tls, origin=nginx.origin) as ws:
                    greeting = await ws.recv()
                    await ws.send(bytes(range(256)) * 4096)  # 1 MiB, binary, both ways through nginx
                    echoed = await ws.recv()
                async with ws_connect(f"{base}/sessions/hello_cone/TheCone", ssl=tls, origin=nginx.origin) as ws:
                    session_greeting = await ws.recv()
                return {"origin": nginx.origin, "greeting": greeting, "echoed": echoed,
                        "session_greeting": session_greeting, "access_log": nginx.access_log()}

    seen = asyncio.run(scenario())
    assert seen["greeting"] == "service saw /TheCone?token=abc"
    assert seen["echoed"] == bytes(range(256)) * 4096
    assert seen["session_greeting"] == "sessions saw /hello_cone/TheCone"  # the prefix is stripped
    request = service.upgrades[0]
    host = seen["origin"].removeprefix("https://")
    assert request.headers["Host"] == host  # with the port, as in the Origin
    assert request.headers["Origin"] == seen["origin"]  # forwarded unchanged
    assert request.headers["X-Forwarded-Proto"] == "https"
    assert request.headers["X-Forwarded-For"] == "127.0.0.1"
    assert request.headers["X-Real-IP"] == "127.0.0.1"
    assert request.headers["X-Forwarded-Host"] == host
    assert "X-Forwarded-Prefix" not in request.headers
    assert sessions.upgrades[0].headers["X-Forwarded-Prefix"] == "/sessions"
    assert sessions.upgrades[0].headers["Origin"] == seen["origin"]
    assert " 101 " in seen["access_log"]


def test_nginx_serves_files_and_keeps_the_service_http_private(tmp_path: Path, certificate: Certificate,
                                                             static_root: Path) -> None:
    service, sessions = Upstream("service"), Upstream("sessions")
    tls = certificate.client_context()

    def get(url: str) -> tuple[int, bytes, str]:
        try:
            with urllib.request.urlopen(url, timeout=10, context=tls) as response:
                return response.status, response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            return error.code, error.read(), ""

    async def scenario() -> dict:
        async with service.serve() as service_server, sessions.serve() as sessions_server:
            ports = [s.sockets[0].getsockname()[1] for s in (service_server, sessions_server)]
            with running_nginx(tmp_path / "nginx", certificate, static_root, *ports) as nginx:
                base = f"https://127.0.0.1:{nginx.port}"
                urls = {"page": "/", "client": "/remoteviz/remoteviz.js", "area": "/TheCone",
                        "metrics": "/metrics", "health": "/health", "rest": "/sessions/api/sessions",
                        "session_metrics": "/sessions/metrics"}
                return {name: await asyncio.to_thread(get, base + path) for name, path in urls.items()}

    answers = asyncio.run(scenario())
    assert answers["page"][:2] == (200, (static_root / "index.html").read_bytes())
    status, body, content_type = answers["client"]
    assert status == 200 and body == (CLIENT_DIR / "remoteviz.js").read_bytes()
    assert "javascript" in content_type  # module scripts need a JavaScript MIME type
    # No upgrade, no file: not the service's business. Its /metrics never leaves the machine.
    assert answers["area"][0] == 404 and answers["metrics"][0] == 404
    assert answers["health"][:2] == (200, b"service over plain http\n")
    assert [request.path for request in service.plain] == ["/health"]
    assert answers["rest"][:2] == (200, b"sessions over plain http\n")
    assert answers["session_metrics"][0] == 404
    assert [request.path for request in sessions.plain] == ["/api/sessions"]


def test_a_python_client_gets_exact_frames_from_a_service_behind_nginx(tmp_path: Path, certificate: Certificate,
                                                                      static_root: Path) -> None:
    recorder, port = Recorder(), free_port()

    async def scenario(service_port: int):
        with running_nginx(tmp_path / "nginx", certificate, static_root, service_port, service_port,
                           port=port) as nginx:
            url = f"wss://127.0.0.1:{nginx.port}/Proxied?width=320&height=240"
            async with client.connect(url, ssl=certificate.client_context(), origin=nginx.origin) as view:
                return await view.next_frame()

    # Behind a proxy the service cannot tell its public origin: it is named (docs/deployment.md).
    with running_service(recorder, allowed_origins=[f"https://127.0.0.1:{port}"]) as runner:
        frame = asyncio.run(scenario(runner.service.port))
    assert frame.codec is Codec.PNG and frame.is_still
    np.testing.assert_array_equal(frame.image, pattern(320, 240, 1))
    assert ("on_pending_create_render_area", "Proxied", 320, 240) in recorder.log


def test_nginx_refuses_a_client_that_does_not_trust_its_certificate(tmp_path: Path, certificate: Certificate,
                                                                    static_root: Path) -> None:
    async def scenario(port: int) -> None:
        with running_nginx(tmp_path / "nginx", certificate, static_root, port, port) as nginx:
            async with ws_connect(f"wss://127.0.0.1:{nginx.port}/TheCone", ssl=ssl.create_default_context()):
                pass

    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(scenario(1))
