"""Plain HTTP on the service's port: health, the browser client, static files, the application's hook.

Meant for development and for orchestrators' probes, like the HOOPS Server's built-in web server;
production deployments put nginx in front for files and TLS (``docs/deployment.md``). GET and
HEAD only; files are read off the network thread and large ones streamed in chunks; dotfiles are
never served; every answer carries ``X-Content-Type-Options`` and ``Referrer-Policy``, pages a
``Content-Security-Policy``, and the browser client CORS headers so that any page can load it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import mimetypes
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

log = logging.getLogger("remoteviz.http")

T = TypeVar("T")

CLIENT_URL_PREFIX = "/remoteviz/"
"""Where the browser client's modules are served (``/remoteviz/remoteviz.js``)."""

CLIENT_DIR = Path(__file__).resolve().parent / "client_js"
"""The browser client's sources, served as they are: the client needs no build step.

In the repository ``remoteviz/client_js`` is a link to ``client-js/src``; a wheel carries a copy.
"""

VIEWER_DIR = Path(__file__).resolve().parent / "viewer"
"""The built-in viewer page (``index.html``), served at ``/`` when the service has no static folder."""

VIEWER_URL_PREFIX = "/remoteviz/viewer/"
"""Where the built-in page's modules (its toolbar, ``toolbar.js``) and style sheet are served, for any page."""

HOOK_TIMEOUT = 10.0
"""Seconds the application's ``on_http_request`` may take before the request gets a 504."""

CHUNK_SIZE = 256 * 1024
"""Files up to this size are answered in one piece; larger ones are streamed in chunks of it."""

DEFAULT_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'self'")
"""Sent with the HTML pages the service serves: scripts, frames and connections from the service
itself only, no plugins, not framed by other sites. Inline scripts stay allowed, as the examples
use them; ``ServiceSettings.content_security_policy`` replaces it."""

ALLOWED_METHODS = ("GET", "HEAD")

_COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
# The browser client is public code: any page (another origin, or a file on disk) may load it.
_CLIENT_HEADERS = {"Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin",
                   "Cache-Control": "no-cache"}

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

    def __init__(self, static_dir: str | None, content_security_policy: str | None, metrics_text: Callable[[], str],
                 ask_listeners: Callable[[HttpRequest], list[object]], post: Callable[[Callable[[], None]], None]) -> None:
        """``metrics_text`` is called on the network thread; ``ask_listeners`` (the application's
        ``on_http_request`` answers) runs on the dispatch thread, where ``post`` hands it."""
        self._static_root = Path(static_dir).resolve() if static_dir else None
        self._page_policy = content_security_policy
        self._metrics_text = metrics_text
        self._ask_listeners = ask_listeners
        self._post = post
        # Files are read here, never on the network thread; two readers bound the threads and
        # the memory that concurrent downloads take (a chunk each).
        self._readers = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="remoteviz-files")

    def close(self) -> None:
        """Stop the file reading threads (after the transport has stopped)."""
        self._readers.shutdown(wait=True, cancel_futures=True)

    async def _read(self, call: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._readers, call, *args)

    async def handle(self, request: Request, connection: ServerConnection | None = None) -> Response:
        """Network thread: answer one request (``connection`` lets a large file be streamed)."""
        if request.method not in ALLOWED_METHODS:
            return _response(HTTPStatus.METHOD_NOT_ALLOWED, b"method not allowed\n",
                             extra={"Allow": ", ".join(ALLOWED_METHODS)})
        response = await self._route(request, connection)
        if request.method == "HEAD":
            response.body = b""  # Content-Length still says what GET would send
        return response

    async def _route(self, request: Request, connection: ServerConnection | None) -> Response:
        parts = urlsplit(request.path)
        raw_path = parts.path
        if raw_path in ("/health", "/healthz"):
            return _response(HTTPStatus.OK, b"ok\n")
        if raw_path == "/metrics":
            text = self._metrics_text()
            return _response(HTTPStatus.OK, text.encode(), "text/plain; version=0.0.4; charset=utf-8")
        if raw_path.startswith(VIEWER_URL_PREFIX):
            return await self._file(request, connection, VIEWER_DIR, raw_path[len(VIEWER_URL_PREFIX):],
                                    _CLIENT_HEADERS)
        if raw_path.startswith(CLIENT_URL_PREFIX):
            return await self._file(request, connection, CLIENT_DIR, raw_path[len(CLIENT_URL_PREFIX):],
                                    _CLIENT_HEADERS)
        hooked = await self._ask_application(request, parts.query)
        if hooked is not None:
            return hooked
        if self._static_root is not None:
            relative = raw_path.lstrip("/") or "index.html"
            if relative.endswith("/"):
                relative += "index.html"
            return await self._file(request, connection, self._static_root, relative, {"Cache-Control": "no-cache"})
        if raw_path == "/":  # the built-in viewer page; it reads ?area= itself
            return await self._file(request, connection, VIEWER_DIR, "index.html", {"Cache-Control": "no-cache"})
        return _response(HTTPStatus.NOT_FOUND, b"not found\n")

    async def _file(self, request: Request, connection: ServerConnection | None, root: Path, relative: str,
                    headers: dict[str, str]) -> Response:
        """Answer with ``root/relative``: read in a worker thread, streamed when large."""
        found = _find_file(root, relative)
        if isinstance(found, Response):
            return found
        try:
            size, tag = await self._read(_describe, found)
        except OSError:
            return _response(HTTPStatus.NOT_FOUND, b"not found\n")
        kind = _content_type(found.name)
        headers = {**headers, "ETag": tag}
        if kind.startswith("text/html") and self._page_policy:
            headers["Content-Security-Policy"] = self._page_policy
        if request.headers.get("If-None-Match") == tag:
            return _response(HTTPStatus.NOT_MODIFIED, b"", kind, headers)
        if request.method == "HEAD":
            return _response(HTTPStatus.OK, b"", kind, headers, length=size)
        if size <= CHUNK_SIZE or connection is None:
            try:
                body = await self._read(found.read_bytes)
            except OSError:
                return _response(HTTPStatus.NOT_FOUND, b"not found\n")
            return _response(HTTPStatus.OK, body, kind, headers)
        head = _response(HTTPStatus.OK, b"", kind, {**headers, "Connection": "close"}, length=size)
        return await _stream(connection, head, found, self._read)

    async def _ask_application(self, request: Request, query: str) -> Response | None:
        future: concurrent.futures.Future[HttpResponse | None] = concurrent.futures.Future()
        http_request = HttpRequest(request.method, unquote(urlsplit(request.path).path), query,
                                   {k.lower(): v for k, v in request.headers.raw_items()})

        def ask() -> None:
            if not future.set_running_or_notify_cancel():
                return  # the request timed out before dispatch() got to it
            answers = self._ask_listeners(http_request)
            future.set_result(next((a for a in answers if isinstance(a, HttpResponse)), None))

        self._post(ask)
        try:
            answer = await asyncio.wait_for(asyncio.wrap_future(future), HOOK_TIMEOUT)
        except TimeoutError:
            return _response(HTTPStatus.GATEWAY_TIMEOUT, b"the application did not answer in time\n")
        if answer is None:
            return None
        body = answer.body.encode() if isinstance(answer.body, str) else bytes(answer.body)
        return _response(answer.status, body, answer.content_type, answer.headers)


def _find_file(root: Path, relative: str) -> Path | Response:
    """``root/relative`` if it is a regular file inside ``root`` and not hidden; else the refusal."""
    lowered = relative.lower()
    # Encoded separators and NULs have no business in a file path: refuse rather than guess.
    if "%2f" in lowered or "%5c" in lowered or "%00" in lowered or "\\" in relative:
        return _response(HTTPStatus.BAD_REQUEST, b"bad path\n")
    decoded = unquote(relative)
    segments = decoded.split("/")
    if any(s in ("..", ".") for s in segments) or "\x00" in decoded or decoded.startswith("/"):
        return _response(HTTPStatus.FORBIDDEN, b"forbidden\n")
    if any(s.startswith(".") for s in segments):  # .env, .git/...: never meant to be served
        return _response(HTTPStatus.NOT_FOUND, b"not found\n")
    path = (root / decoded).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():  # resolve() follows symlinks
        return _response(HTTPStatus.NOT_FOUND, b"not found\n")
    if any(part.startswith(".") for part in path.relative_to(root.resolve()).parts):  # a link to one
        return _response(HTTPStatus.NOT_FOUND, b"not found\n")
    return path


def _describe(path: Path) -> tuple[int, str]:
    """Worker thread: the file's size and an ETag made from its size and modification time."""
    stat = path.stat()
    return stat.st_size, f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'


async def _stream(connection: ServerConnection, head: Response, path: Path,
                  read: Callable[..., Awaitable[bytes]]) -> Response:
    """Write ``head`` and the file to the socket in chunks, each read by ``read`` in a worker thread.

    websockets writes a handshake answer in one piece, so a large body goes out here instead:
    each chunk waits for the socket to drain, so a slow reader holds one chunk of memory, not the
    file. The connection is closed at the end; websockets then sends nothing more on it.
    """
    transport = connection.transport
    transport.write(head.serialize())
    try:
        with path.open("rb") as file:
            while chunk := await read(file.read, CHUNK_SIZE):
                if transport.is_closing():
                    break
                transport.write(chunk)
                await connection.drain()
    except OSError as error:
        log.warning("streaming %s stopped: %s", path.name, error)
    except ConnectionError:
        pass
    transport.close()
    await asyncio.sleep(0)  # let connection_lost run, so websockets answers nothing more
    return head


def _content_type(name: str) -> str:
    for suffix, kind in _TYPES.items():
        if name.endswith(suffix):
            return kind + ("; charset=utf-8" if kind.startswith("text/") else "")
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def _response(status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
              extra: dict[str, str] | None = None, length: int | None = None) -> Response:
    """A response with the security headers; ``length`` when the body goes out some other way."""
    headers = Headers()
    headers["Content-Type"] = content_type
    headers["Content-Length"] = str(len(body) if length is None else length)
    for name, value in {**_COMMON_HEADERS, **(extra or {})}.items():
        headers[name] = value
    try:
        phrase = HTTPStatus(int(status)).phrase
    except ValueError:
        phrase = ""
    return Response(int(status), phrase, headers, body)


__all__ = ["HttpRequest", "HttpResponse", "HttpServer", "CLIENT_URL_PREFIX"]
