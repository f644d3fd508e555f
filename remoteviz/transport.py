"""The WebSocket server (``websockets``) on the network thread: it accepts, admits and greets sockets.

It never blocks and never runs application code. Each socket is counted from the TCP accept
(:mod:`remoteviz.limits`), its Origin checked, its URL and hello parsed with :mod:`remoteviz.protocol`;
then a :class:`~remoteviz.link.Link` owns it (reading, flow control, sending, calibration) and the
service hears of it through a :class:`TransportEvents` sink. Plain HTTP requests on the same port go
to an HTTP handler (health checks, static files, the application's hook). The thread and its event
loop are a :class:`~remoteviz.network_thread.NetworkThread`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve, unix_serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from . import protocol
from .access import OriginPolicy
from .audit import Audit
from .limits import UNIX_PEER, Admission, Ticket, TrustedProxies
from .link import (
    CLOSE_TIMEOUT,
    MESSAGE_BURST,
    STALLED_LINK_GRACE,
    Calibration,
    Link,
    LinkEvents,
    Pending,
    TransportLimits,
)
from .network_thread import NetworkThread
from .protocol import CloseCode, Disconnect, DisconnectReason, Error, Hello, ProtocolError

log = logging.getLogger("remoteviz.transport")


class _RoutineAtDebug(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets' logger: its INFO lines are routine ("HTTP response sent", "connection closed",
    one or two per request), so they go out at DEBUG; its warnings and errors stay as they are."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        super().log(logging.DEBUG if level == logging.INFO else level, msg, *args, **kwargs)


class TransportEvents(LinkEvents, Protocol):
    """What the transport and its links tell the service; called on the network thread, must not block."""

    def link_opened(self, link: Link, render_area_id: str, parameters: dict[str, str], hello: Hello) -> None:
        """A client said hello on a new link."""

    def link_closed(self, link: Link, aborted: bool) -> None:
        """The link closed; ``aborted`` when the peer vanished without a clean close."""


HttpHandler = Callable[[Request, ServerConnection], Awaitable[Response | None]]


class Transport:
    """Runs the WebSocket server on its own thread and event loop."""

    def __init__(self, events: TransportEvents, http_handler: HttpHandler, limits: TransportLimits,
                 ssl_context: ssl.SSLContext | None = None, origins: OriginPolicy | None = None,
                 audit: Audit | None = None) -> None:
        self._events = events
        self._http_handler = http_handler
        self._limits = limits
        self._ssl = ssl_context
        self._origins = origins or OriginPolicy(None)
        self._audit = audit or Audit()
        self._network = NetworkThread()
        self._server: Server | None = None
        self._links: set[Link] = set()
        self._admission = Admission(limits.admission)
        self.port = 0

    def start(self, host: str, port: int, unix_path: str | None = None) -> None:
        """Start listening on ``host:port`` (0 picks a free port), or on the Unix socket
        ``unix_path`` instead (``port`` stays 0); raises OSError on failure."""
        self._network.start(functools.partial(self._listen, host, port, unix_path))

    async def _listen(self, host: str, port: int, unix_path: str | None) -> None:
        where: dict[str, Any] = {"path": unix_path} if unix_path else {"host": host, "port": port}
        self._server = await (unix_serve if unix_path else serve)(
            self._handle, **where, ssl=self._ssl, compression=None,
            process_request=self._process_request,
            # A factory of ServerConnection subclasses, which websockets' annotation (a class) does not say.
            create_connection=cast("type[ServerConnection]",
                                   functools.partial(_CountedConnection, self._admission, self._audit,
                                                     TrustedProxies(self._limits.trusted_proxies))),
            open_timeout=self._limits.hello_timeout,
            # Few whole messages buffered by websockets, so that not reading a link (while its
            # inbox share is full) pushes back to TCP soon.
            max_queue=4,
            max_size=self._limits.max_message_size,
            ping_interval=self._limits.keepalive_interval, ping_timeout=self._limits.keepalive_timeout,
            close_timeout=CLOSE_TIMEOUT, server_header="remoteviz", logger=_RoutineAtDebug(log))
        if not unix_path:
            self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Close every link and the listening socket, then stop the thread."""
        self._network.stop(self._shutdown)

    async def _shutdown(self) -> None:
        for link in self._links:
            link.stop_delivering()
        # Links the service is closing get to send their disconnect and close code first:
        # closing the server would otherwise close them with 1001 under it.
        await asyncio.gather(*(link.flush(timeout=3) for link in self._links if link.closing))
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if isinstance(connection, _CountedConnection):
            refusal = connection.forwarded(request.headers.get("X-Forwarded-For"))
            if refusal is not None:
                return connection.respond(503, refusal + "\n")
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        return await self._http_handler(request, connection)

    @property
    def admission(self) -> Admission:
        """The socket counts (network thread)."""
        return self._admission

    async def _handle(self, websocket: ServerConnection) -> None:
        address = websocket.client_address if isinstance(websocket, _CountedConnection) \
            else _address_of(websocket.remote_address)
        assert websocket.request is not None  # the handler runs after the opening handshake
        headers = websocket.request.headers
        refusal = self._origins.refusal(headers.get("Origin"), headers.get("Host"))
        if refusal is not None:
            self._audit.refused(address, refusal)
            # After the handshake, not as an HTTP 403: the page can then show REFUSED and why.
            await _say_and_close(websocket, protocol.serialize(Disconnect(DisconnectReason.REFUSED, refusal)),
                                 CloseCode.REFUSED, "refused")
            return
        try:
            render_area_id, parameters = _parse_target(websocket.request.path)
            hello = await self._receive_hello(websocket)
        except ProtocolError as error:
            self._audit.protocol_error(address, str(error))
            await _refuse(websocket, str(error))
            return
        except (ConnectionClosed, TimeoutError):
            return
        if isinstance(websocket, _CountedConnection):
            websocket.identify()
        link = Link(websocket, address, self._limits, self._events, self._audit, self._network)
        link.start()
        self._links.add(link)
        self._events.link_opened(link, render_area_id, parameters, hello)
        try:
            await link.receive()
        finally:
            aborted = link.aborted
            self._links.discard(link)
            self._events.link_closed(link, aborted)
            await link.finish()

    async def _receive_hello(self, websocket: ServerConnection) -> Hello:
        try:
            data = await asyncio.wait_for(websocket.recv(), self._limits.hello_timeout)
        except TimeoutError:
            raise ProtocolError(f"no hello within {self._limits.hello_timeout:g} s") from None
        if not isinstance(data, str):
            raise ProtocolError("the first message must be hello")
        message = protocol.parse_client_text(data)
        if not isinstance(message, Hello):
            raise ProtocolError("the first message must be hello")
        return message


class _CountedConnection(ServerConnection):
    """A server connection that takes a place in the socket counts as soon as TCP accepts it."""

    def __init__(self, admission: Admission, audit: Audit, trusted: TrustedProxies, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._admission = admission
        self._audit = audit
        self._trusted = trusted
        self._ticket: Ticket | None = None
        self._peer = "unknown"
        self.client_address = "unknown"  # the peer's, or the client a trusted proxy names

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        on = transport.get_extra_info("socket")
        unix = on is not None and on.family == socket.AF_UNIX
        address = self._peer = self.client_address = \
            UNIX_PEER if unix else _address_of(transport.get_extra_info("peername"))
        # A trusted proxy's sockets count in the totals only, until its request names the client.
        ticket = self._admission.admit(address, per_address=not self._trusted.trusts(address))
        if isinstance(ticket, str):
            self._audit.refused(address, ticket)
            cast(asyncio.Transport, transport).abort()  # a socket's transport, whatever the annotation
            return
        self._ticket = ticket

    def forwarded(self, forwarded_for: str | None) -> str | None:
        """The request's headers came: count the socket under the client a trusted proxy names (its own
        address when it names none). The reason it is refused, if that client has no room."""
        if self._ticket is None or not self._trusted.trusts(self._peer):
            return None
        client = self._trusted.client(self._peer, forwarded_for)
        refusal = self._ticket.forwarded(client)
        if refusal is not None:
            self._audit.refused(client, refusal)
            return refusal
        self.client_address = client
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._ticket is not None:
            self._ticket.release()

    def identify(self) -> None:
        """It said hello: no longer counted among the connections waiting for one."""
        if self._ticket is not None:
            self._ticket.identify()


def _address_of(peer: object) -> str:
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer or "unknown")


def _parse_target(target: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(target)
    render_area_id = unquote(parts.path.lstrip("/"))
    if not render_area_id:
        raise ProtocolError("the URL path must name a render area: ws://host:port/RENDER_AREA_ID")
    if len(render_area_id) > protocol.MAX_ID_LENGTH:
        raise ProtocolError(f"render area id longer than {protocol.MAX_ID_LENGTH} characters")
    if any(ord(c) < 32 for c in render_area_id):
        raise ProtocolError("render area id contains control characters")
    return render_area_id, dict(parse_qsl(parts.query, keep_blank_values=True))



async def _refuse(websocket: ServerConnection, detail: str) -> None:
    await _say_and_close(websocket, protocol.serialize(Error(detail)), CloseCode.PROTOCOL_ERROR, "protocol error")


async def _say_and_close(websocket: ServerConnection, message: str | bytes, code: CloseCode, reason: str) -> None:
    try:
        await websocket.send(message)
        await websocket.close(int(code), reason)
    except ConnectionClosed:
        pass


__all__ = ["MESSAGE_BURST", "STALLED_LINK_GRACE", "Calibration", "HttpHandler", "Link", "Pending", "Transport",
           "TransportEvents", "TransportLimits"]
