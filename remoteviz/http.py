"""Plain HTTP on the service's port: health, the browser client, static files, the application's hook.

Meant for development and for orchestrators' probes, like the HOOPS Server's built-in web server;
production deployments put nginx in front for files and TLS (``docs/deployment.md``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import mimetypes
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

if TYPE_CHECKING:
    from .service import Service

log = logging.getLogger("remoteviz.http")

CLIENT_URL_PREFIX = "/remoteviz/"
"""Where the browser client's modules are served (``/remoteviz/remoteviz.js``)."""

CLIENT_DIR = Path(__file__).resolve().parent / "client_js"
"""The browser client's sources, served as they are: the client needs no build step.

In the repository ``remoteviz/client_js`` is a link to ``client-js/src``; a wheel carries a copy.
"""

VIEWER_DIR = Path(__file__).resolve().parent / "viewer"
"""The built-in viewer page (``index.html``), served at ``/`` when the service has no static folder."""

HOOK_TIMEOUT = 10.0
"""Seconds the application's ``on_http_request`` may take before the request gets a 504."""

_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html",
          ".json": "application/json", ".wasm": "application/wasm", ".svg": "image/svg+xml",
          ".png": "image/png", ".jpg": "image/jpeg", ".ico": "image/x-icon", ".txt": "text/plain",
          ".map": "application/json", ".d.ts": "text/plain"}


@dataclass(frozen=True)
class HttpRequest:
    """A plain HTTP request, as ``ServiceListener.on_http_request`` receives it."""

    method: str
    path: str  # decoded, without the query
    query: str
    headers: dict[str, str]


@dataclass
class HttpResponse:
    """What ``on_http_request`` returns."""

    status: int = 200
    body: bytes | str = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


class HttpServer:
    """Answers the plain HTTP requests that reach the service's port."""

    def __init__(self, service: Service) -> None:
        self._service = service
        static = service.settings.static_dir
        self._static_root = Path(static).resolve() if static else None

    async def handle(self, request: Request) -> Response:
        """Network thread: answer one request."""
        parts = urlsplit(request.path)
        raw_path = parts.path
        if raw_path in ("/health", "/healthz"):
            return _response(HTTPStatus.OK, b"ok\n")
        if raw_path == "/metrics":
            text = self._service.get_monitoring().prometheus_text()
            return _response(HTTPStatus.OK, text.encode(), "text/plain; version=0.0.4; charset=utf-8")
        if raw_path.startswith(CLIENT_URL_PREFIX):
            return _file_response(CLIENT_DIR, raw_path[len(CLIENT_URL_PREFIX):])
        hooked = await self._ask_application(request, parts.query)
        if hooked is not None:
            return hooked
        if self._static_root is not None:
            relative = raw_path.lstrip("/") or "index.html"
            if relative.endswith("/"):
                relative += "index.html"
            return _file_response(self._static_root, relative)
        if raw_path == "/":
            return _file_response(VIEWER_DIR, "index.html")  # the page reads ?area= itself
        return _response(HTTPStatus.NOT_FOUND, b"not found\n")

    async def _ask_application(self, request: Request, query: str) -> Response | None:
        future: concurrent.futures.Future[HttpResponse | None] = concurrent.futures.Future()
        http_request = HttpRequest("GET", unquote(urlsplit(request.path).path), query,
                                   {k.lower(): v for k, v in request.headers.raw_items()})

        def ask() -> None:
            if not future.set_running_or_notify_cancel():
                return  # the request timed out before dispatch() got to it
            answers = self._service._call_service("on_http_request", http_request)
            future.set_result(next((a for a in answers if isinstance(a, HttpResponse)), None))

        self._service._post(ask)
        try:
            answer = await asyncio.wait_for(asyncio.wrap_future(future), HOOK_TIMEOUT)
        except TimeoutError:
            return _response(HTTPStatus.GATEWAY_TIMEOUT, b"the application did not answer in time\n")
        if answer is None:
            return None
        body = answer.body.encode() if isinstance(answer.body, str) else bytes(answer.body)
        return _response(answer.status, body, answer.content_type, answer.headers)


def _file_response(root: Path, relative: str) -> Response:
    """Serve ``root/relative`` if it is a regular file inside ``root``; never a way out of it."""
    lowered = relative.lower()
    # Encoded separators and NULs have no business in a file path: refuse rather than guess.
    if "%2f" in lowered or "%5c" in lowered or "%00" in lowered or "\\" in relative:
        return _response(HTTPStatus.BAD_REQUEST, b"bad path\n")
    decoded = unquote(relative)
    segments = decoded.split("/")
    if any(s in ("..", ".") for s in segments) or "\x00" in decoded or decoded.startswith("/"):
        return _response(HTTPStatus.FORBIDDEN, b"forbidden\n")
    path = (root / decoded).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():  # resolve() follows symlinks
        return _response(HTTPStatus.NOT_FOUND, b"not found\n")
    try:
        body = path.read_bytes()
    except OSError:
        return _response(HTTPStatus.NOT_FOUND, b"not found\n")
    return _response(HTTPStatus.OK, body, _content_type(path.name), {"Cache-Control": "no-cache"})


def _content_type(name: str) -> str:
    for suffix, kind in _TYPES.items():
        if name.endswith(suffix):
            return kind + ("; charset=utf-8" if kind.startswith("text/") else "")
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def _response(status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
              extra: dict[str, str] | None = None) -> Response:
    headers = Headers()
    headers["Content-Type"] = content_type
    headers["Content-Length"] = str(len(body))
    headers["X-Content-Type-Options"] = "nosniff"
    for name, value in (extra or {}).items():
        headers[name] = value
    try:
        phrase = HTTPStatus(int(status)).phrase
    except ValueError:
        phrase = ""
    return Response(int(status), phrase, headers, body)


__all__ = ["HttpRequest", "HttpResponse", "HttpServer", "CLIENT_URL_PREFIX"]
