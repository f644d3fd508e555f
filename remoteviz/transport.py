"""The network thread: an asyncio WebSocket server (``websockets``) that owns every socket.

It never blocks and never runs application code. It parses each incoming message with
:mod:`remoteviz.protocol` and hands it to the service through a :class:`TransportEvents` sink;
the service hands back bytes to send and links to close, from any thread. Plain HTTP requests on
the same port go to an HTTP handler (health checks, static files, the application's hook).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve, unix_serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from . import protocol
from .access import OriginPolicy
from .audit import Audit
from .events import MouseAction, MouseEvent
from .limits import UNIX_PEER, Admission, AdmissionLimits, RateBucket, Ticket, TrustedProxies
from .protocol import (
    ClientMessage,
    CloseCode,
    Disconnect,
    DisconnectReason,
    Error,
    Hello,
    Input,
    Ping,
    Pong,
    ProtocolError,
)

log = logging.getLogger("remoteviz.transport")


MESSAGE_BURST = 2.0
"""Seconds' worth of ``max_message_rate`` messages a link may send at once, above the rate, before it is
a flood (4429): the one number docs/protocol.md and docs/security.md quote (a test holds them to it)."""


class _RoutineAtDebug(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets' logger: its INFO lines are routine ("HTTP response sent", "connection closed",
    one or two per request), so they go out at DEBUG; its warnings and errors stay as they are."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        super().log(logging.DEBUG if level == logging.INFO else level, msg, *args, **kwargs)


@dataclass(frozen=True)
class TransportLimits:
    """What the network thread enforces before the service sees anything."""

    max_message_size: int = 1 << 20
    max_pending_events: int = 256  # events of one link in the inbox, not yet taken by dispatch()
    max_pending_bytes: int = 4 << 20  # their bytes: reading the link stops beyond either
    max_outgoing: int = 256  # messages queued to one link before it counts as stalled
    max_outgoing_bytes: int = 64 << 20  # their bytes
    max_inbound_rate: float = 8 << 20  # bytes per second one link may send; reading waits beyond
    max_message_rate: float = 2000.0  # messages per second one link may send, on average
    message_burst: float = MESSAGE_BURST  # seconds of that rate a burst may take before it is a flood
    hello_timeout: float = 5.0
    keepalive_interval: float | None = 20.0
    keepalive_timeout: float | None = 20.0
    admission: AdmissionLimits = field(default_factory=AdmissionLimits)
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-For names the client (TrustedProxies)


@dataclass(frozen=True)
class Calibration:
    """What network calibration measured on one link."""

    latency_ms: float  # median round trip of small probes
    bandwidth: float  # bytes per second, from the largest burst timed; 0 if none was
    measured: bool  # False when the peer did not answer in time


CLOSE_TIMEOUT = 2.0
"""Seconds a closing link waits for the peer's close frame before its socket is cut."""

STALLED_LINK_GRACE = CLOSE_TIMEOUT + 1.0
"""Seconds a link closed for not reading gets to send its close frame, before its socket is cut."""

CALIBRATION_CHUNK = 64 * 1024
"""Filler characters per calibration ping: big enough to time, small enough to stay one frame."""

CALIBRATION_MAX_BURST = 8 * 1024 * 1024
"""The largest burst calibration sends; a link faster than this fills in 50 ms is "fast enough"."""


class TransportEvents(Protocol):
    """What the transport tells the service; called on the network thread, must not block."""

    def link_opened(self, link: Link, render_area_id: str, parameters: dict[str, str], hello: Hello) -> None:
        """A client said hello on a new link."""

    def link_message(self, link: Link, pending: Pending) -> None:
        """A valid message arrived; ``link.take(pending)`` gets it (and frees its inbox share)."""

    def link_closed(self, link: Link, aborted: bool) -> None:
        """The link closed; ``aborted`` when the peer vanished without a clean close."""


HttpHandler = Callable[[Request, ServerConnection], Awaitable[Response | None]]


class Pending:
    """An event of one link waiting in the service's inbox; a newer mouse move may replace it."""

    __slots__ = ("message", "size")

    def __init__(self, message: ClientMessage, size: int) -> None:
        self.message = message
        self.size = size


class Link:
    """The network side of one WebSocket connection."""

    def __init__(self, transport: Transport, websocket: ServerConnection, limits: TransportLimits) -> None:
        self._transport = transport
        self.websocket = websocket
        self._limits = limits
        self._outbox: asyncio.Queue[str | bytes | tuple[int, str]] = asyncio.Queue()
        self._outbox_bytes = 0
        # The inbox share: events (and their bytes) posted and not yet taken by dispatch().
        self._pending = 0
        self._pending_bytes = 0
        self._pending_move: Pending | None = None  # the last event posted, if a move not yet taken
        self._pending_lock = threading.Lock()
        self._room = asyncio.Event()  # set when dispatch() takes an event while reading waits
        self._waiting_for_room = False
        self._stopping = False  # the transport stops: nothing more is posted
        now = time.monotonic()
        self._message_rate = RateBucket(limits.max_message_rate, limits.max_message_rate * limits.message_burst, now)
        self._byte_rate = RateBucket(limits.max_inbound_rate, max(limits.max_inbound_rate, 2 * limits.max_message_size),
                                     now)
        self.closing = False
        self.remote_address = websocket.remote_address
        self._pong_waiters: dict[float, asyncio.Future[None]] = {}
        self._probes = 0  # calibration pings sent; their t is minus this count
        self._calibration: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<Link {self.remote_address}>"

    @property
    def address(self) -> str:
        """The client's IP address, as the limits and the logs name it (the one a trusted proxy forwards)."""
        if isinstance(self.websocket, _CountedConnection):
            return self.websocket.client_address
        return _address_of(self.remote_address)

    # ---- called from any thread
    def send(self, data: str | bytes) -> None:
        """Queue ``data`` for sending, in order."""
        self._transport.call_soon(self._enqueue, data)

    def close(self, code: CloseCode, reason: str = "") -> None:
        """Close after the messages already queued have gone."""
        self._transport.call_soon(self._enqueue, (int(code), reason[:120]))

    def calibrate(self, max_seconds: float, done: Callable[[Calibration], None]) -> None:
        """Measure this link's latency and bandwidth; ``done`` gets the result on the network thread."""
        self._transport.call_soon(self._start_calibration, max_seconds, done)

    def take(self, pending: Pending) -> ClientMessage:
        """The service takes an event of this link off its inbox: the newest message it holds."""
        with self._pending_lock:
            self._pending -= 1
            self._pending_bytes -= pending.size
            if self._pending_move is pending:
                self._pending_move = None
            message = pending.message
            wake, self._waiting_for_room = self._waiting_for_room, False
        if wake:  # only then: a wake-up per message would cost the network thread at 1000 Hz
            self._transport.call_soon(self._room.set)
        return message

    # ---- network thread
    async def _deliver(self, message: ClientMessage, size: int) -> None:
        """Post ``message`` to the service once this link's inbox share has room for it.

        Reading the link waits meanwhile (backpressure down to TCP), except for a mouse move
        following a move not yet taken: it replaces that one, as only the newest position matters.
        """
        is_move = isinstance(message, Input) and isinstance(message.event, MouseEvent) and \
            message.event.action is MouseAction.MOVE
        while True:
            if self._stopping:
                return
            with self._pending_lock:
                cell = self._pending_move
                if is_move and cell is not None:
                    self._pending_bytes += size - cell.size
                    cell.message, cell.size = message, size
                    return
                if self._pending < self._limits.max_pending_events and (
                        self._pending_bytes + size <= self._limits.max_pending_bytes or not self._pending):
                    pending = Pending(message, size)
                    self._pending += 1
                    self._pending_bytes += size
                    self._pending_move = pending if is_move else None
                    break
                self._room.clear()
                self._waiting_for_room = True
            await self._room.wait()
        self._transport._events.link_message(self, pending)

    async def _discard_until_closed(self) -> None:
        """Read and drop what still arrives, within the link's rate: a flooder is not read at all."""
        try:
            async for data in self.websocket:
                self._count_received(len(data))
        except (ConnectionClosed, _Flood):
            pass  # not reading any more: the close times out (close_timeout) and the socket is cut

    def _stop_delivering(self) -> None:
        """The transport stops: a reader waiting for room gives up (dispatch may never take more)."""
        self._stopping = True
        self._room.set()

    def _count_received(self, size: int) -> float:
        """Count one received message; the seconds to pause reading to keep to the byte rate."""
        now = time.monotonic()
        if self._message_rate.take(1, now) > 0:
            raise _Flood()
        return self._byte_rate.take(size, now)

    def _enqueue(self, item: str | bytes | tuple[int, str]) -> None:
        if self.closing:
            return
        if isinstance(item, tuple):
            self.closing = True
        elif self._outbox.qsize() >= self._limits.max_outgoing or \
                self._outbox_bytes + len(item) > self._limits.max_outgoing_bytes:
            # The peer reads slower than the service writes: treat it as gone.
            log.warning("%r: outgoing queue full, closing", self)
            self.closing = True
            self._outbox.put_nowait((int(CloseCode.NETWORKFAILURE), "client does not read"))
            # The close frame waits behind a send that waits for the peer to read, which it may
            # never do: past the time a close takes (close_timeout) the socket is cut.
            asyncio.get_running_loop().call_later(STALLED_LINK_GRACE, self._cut)
            return
        else:
            self._outbox_bytes += len(item)
        self._outbox.put_nowait(item)

    def _cut(self) -> None:
        """Drop the socket of a link that would not read its close frame, unless it closed by now."""
        if self.websocket.state is not State.CLOSED and self.websocket.transport is not None:
            self.websocket.transport.abort()

    def _start_calibration(self, max_seconds: float, done: Callable[[Calibration], None]) -> None:
        self._calibration = asyncio.ensure_future(self._calibrate(max_seconds, done))
        self._transport._tasks.add(self._calibration)
        self._calibration.add_done_callback(self._transport._tasks.discard)

    async def _calibrate(self, max_seconds: float, done: Callable[[Calibration], None]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_seconds
        latencies: list[float] = []
        bandwidth = 0.0
        try:
            for _ in range(5):
                latencies.append(await self._round_trip(1, 0, deadline))
            latency = sorted(latencies)[len(latencies) // 2]
            # Bursts of growing size, until one takes long enough to time well (50 ms beyond
            # the latency) or the time or size budget runs out.
            size = CALIBRATION_CHUNK
            while True:
                started = loop.time()
                await self._round_trip(max(1, size // CALIBRATION_CHUNK), CALIBRATION_CHUNK, deadline)
                transfer = max(loop.time() - started - latency, 1e-4)
                bandwidth = size / transfer
                if transfer >= 0.05 or size >= CALIBRATION_MAX_BURST:
                    break
                size = min(size * 4, CALIBRATION_MAX_BURST)
                if loop.time() + transfer * 4 + latency > deadline:
                    break  # the next burst would not finish in time
            done(Calibration(latency * 1000.0, bandwidth, True))
        except (TimeoutError, ConnectionClosed, asyncio.CancelledError):
            median = sorted(latencies)[len(latencies) // 2] * 1000.0 if latencies else 0.0
            done(Calibration(median, bandwidth, bool(latencies)))
        finally:
            for waiter in self._pong_waiters.values():
                waiter.cancel()
            self._pong_waiters.clear()

    async def _round_trip(self, count: int, pad: int, deadline: float) -> float:
        """Send ``count`` pings of ``pad`` filler each; seconds until the last one's pong."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        waiter: asyncio.Future[None] | None = None
        for _ in range(count):
            # Negative whole numbers: exact in JSON, distinct, and never a time of the service's.
            self._probes += 1
            t = -float(self._probes)
            waiter = self._pong_waiters[t] = loop.create_future()
            self._enqueue(protocol.serialize(Ping(t, pad)))
        assert waiter is not None
        await asyncio.wait_for(waiter, max(0.0, deadline - loop.time()))
        return loop.time() - started

    def _pong(self, message: Pong) -> bool:
        """True if ``message`` answers a calibration ping this link is waiting for."""
        waiter = self._pong_waiters.pop(message.t, None)
        if waiter is None or waiter.done():
            return False
        waiter.set_result(None)
        return True

    async def _send_loop(self) -> None:
        try:
            while True:
                item = await self._outbox.get()
                if isinstance(item, tuple):
                    await self.websocket.close(*item)
                    return
                self._outbox_bytes -= len(item)
                try:
                    await self.websocket.send(item)
                except (UnicodeEncodeError, TypeError):
                    # Never queued by the service (it checks what it sends); if it were, dropping
                    # the one message keeps the link, where letting it raise would end it.
                    log.error("%r: a message that cannot be sent was dropped", self)
        except ConnectionClosed:
            pass


class _Flood(Exception):
    """The link sent more messages than its rate allows, for longer than its burst."""


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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._links: set[Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # background work to end before the loop stops
        self._admission = Admission(limits.admission)
        self.port = 0

    def start(self, host: str, port: int, unix_path: str | None = None) -> None:
        """Start listening on ``host:port`` (0 picks a free port), or on the Unix socket
        ``unix_path`` instead (``port`` stays 0); raises OSError on failure."""
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._listen(host, port, unix_path))
            except BaseException as error:  # reported to the caller of start()
                failure.append(error)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="remoteviz-network", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            raise failure[0]

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

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """Run ``callback(*args)`` on the network thread (safe from any thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(callback, *args)
            except RuntimeError:  # the loop closed meanwhile: nothing left to send to
                pass

    def stop(self) -> None:
        """Close every link and the listening socket, then stop the thread."""
        loop = self._loop
        if loop is None or self._thread is None:
            return

        async def shutdown() -> None:
            for link in self._links:
                link._stop_delivering()
            # Links the service is closing get to send their disconnect and close code first:
            # closing the server would otherwise close them with 1001 under it.
            senders = [link._sender for link in self._links if link.closing and link._sender is not None]
            if senders:
                await asyncio.wait(senders, timeout=3)
            if self._server is not None:
                self._server.close(close_connections=True)
                await self._server.wait_closed()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        if loop.is_running():
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=10)
        self._loop = None

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
        link = Link(self, websocket, self._limits)
        assert websocket.request is not None  # the handler runs after the opening handshake
        headers = websocket.request.headers
        refusal = self._origins.refusal(headers.get("Origin"), headers.get("Host"))
        if refusal is not None:
            self._audit.refused(link.address, refusal)
            # After the handshake, not as an HTTP 403: the page can then show REFUSED and why.
            await _say_and_close(websocket, protocol.serialize(Disconnect(DisconnectReason.REFUSED, refusal)),
                                 CloseCode.REFUSED, "refused")
            return
        try:
            render_area_id, parameters = _parse_target(websocket.request.path)
            hello = await self._receive_hello(websocket)
        except ProtocolError as error:
            self._audit.protocol_error(link.address, str(error))
            await _refuse(websocket, str(error))
            return
        except (ConnectionClosed, TimeoutError):
            return
        if isinstance(websocket, _CountedConnection):
            websocket.identify()
        sender = link._sender = asyncio.create_task(link._send_loop())
        self._links.add(link)
        self._events.link_opened(link, render_area_id, parameters, hello)
        try:
            await self._receive(link, websocket)
        except ProtocolError as error:
            self._audit.protocol_error(link.address, str(error))
            link._enqueue(protocol.serialize(Error(str(error))))
            link._enqueue((int(CloseCode.PROTOCOL_ERROR), "protocol error"))
        except _Flood:
            self._audit.protocol_error(link.address, "flood: more messages than its rate allows")
            link._enqueue(protocol.serialize(Error("too many messages: the service could not keep up")))
            link._enqueue((int(CloseCode.FLOOD), "flood"))
        except ConnectionClosed:
            pass
        finally:
            aborted = not link.closing and not _closed_cleanly(websocket)
            self._links.discard(link)
            for waiter in link._pong_waiters.values():
                waiter.cancel()  # a calibration in progress ends now, with what it measured
            self._events.link_closed(link, aborted)
            # Let the sender flush what is queued (an error, a disconnect) and close; a no-op
            # close item ends it when nothing else will. It never outlives the handler.
            link._enqueue((int(CloseCode.NORMAL), ""))
            # Messages still arriving are read and dropped, or they would fill websockets' small
            # buffer, stop the reading, and the peer's close frame would never be seen.
            discard = asyncio.create_task(link._discard_until_closed())
            try:
                await asyncio.wait_for(sender, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                sender.cancel()
            finally:
                discard.cancel()

    async def _receive(self, link: Link, websocket: ServerConnection) -> None:
        """Read the link until it closes: parse, count, answer pings, post the rest."""
        async for data in websocket:
            message = (protocol.parse_client_text(data) if isinstance(data, str)
                       else protocol.parse_client_binary(data))
            if isinstance(message, Pong) and link._pong(message):
                continue  # calibration asked for it: not the client's to count
            pause = link._count_received(len(data))
            if isinstance(message, Ping):  # answered here so the round trip excludes dispatch
                link.send(protocol.serialize(Pong(message.t)))
            elif isinstance(message, Pong) and message.t < 0:
                pass  # late answers to a calibration that ended: not the service's pings
            elif isinstance(message, Hello):
                raise ProtocolError("hello was already received")
            else:
                await link._deliver(message, len(data))
            if pause:  # beyond its byte rate: stop reading it for a while (TCP pushes back)
                await asyncio.sleep(pause)

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


def _closed_cleanly(websocket: ServerConnection) -> bool:
    received = websocket.protocol.close_rcvd
    return received is not None and received.code in (1000, 1001)


async def _refuse(websocket: ServerConnection, detail: str) -> None:
    await _say_and_close(websocket, protocol.serialize(Error(detail)), CloseCode.PROTOCOL_ERROR, "protocol error")


async def _say_and_close(websocket: ServerConnection, message: str | bytes, code: CloseCode, reason: str) -> None:
    try:
        await websocket.send(message)
        await websocket.close(int(code), reason)
    except ConnectionClosed:
        pass
