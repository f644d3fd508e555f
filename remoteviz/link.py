"""The network side of one WebSocket connection, after its hello: a :class:`Link`.

A link owns everything about its connection on the network thread: reading it (pings answered,
calibration's pongs, the message and byte rates, protocol errors and floods closed with their code),
its share of the service's inbox (reading waits when it is full; a mouse move replaces a move not yet
taken), its send queue (a peer that does not read is closed, its socket cut after
``STALLED_LINK_GRACE``) and network calibration. The transport (:mod:`remoteviz.transport`) accepts
the socket, admits it, reads the hello and hands it to a new link; the service sends, closes,
calibrates and takes messages from any thread through the link's public methods.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from . import protocol
from .audit import Audit
from .events import MouseAction, MouseEvent
from .limits import AdmissionLimits, RateBucket
from .network_thread import NetworkThread
from .protocol import ClientMessage, CloseCode, Error, Hello, Input, Ping, Pong, ProtocolError

log = logging.getLogger("remoteviz.link")


MESSAGE_BURST = 2.0
"""Seconds' worth of ``max_message_rate`` messages a link may send at once, above the rate, before it is
a flood (4429): the one number docs/protocol.md and docs/security.md quote (a test holds them to it)."""


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


class Pending:
    """An event of one link waiting in the service's inbox; a newer mouse move may replace it."""

    __slots__ = ("message", "size")

    def __init__(self, message: ClientMessage, size: int) -> None:
        self.message = message
        self.size = size


class LinkEvents(Protocol):
    """What a link tells the service; called on the network thread, must not block."""

    def link_message(self, link: Link, pending: Pending) -> None:
        """A valid message arrived; ``link.take(pending)`` gets it (and frees its inbox share)."""


class Link:
    """The network side of one WebSocket connection that said hello.

    The service's methods (``send``, ``close``, ``calibrate``, ``take``) are safe from any thread; the
    transport's (``start``, ``receive``, ``finish``, ``stop_delivering``, ``flush``) run on the network
    thread, in that order of a link's life.
    """

    def __init__(self, websocket: ServerConnection, address: str, limits: TransportLimits, events: LinkEvents,
                 audit: Audit, network: NetworkThread) -> None:
        self._websocket = websocket
        self._address = address
        self._limits = limits
        self._events = events
        self._audit = audit
        self._network = network
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
        self._closing = False
        self._pong_waiters: dict[float, asyncio.Future[None]] = {}
        self._probes = 0  # calibration pings sent; their t is minus this count
        self._sender: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<Link {self._websocket.remote_address}>"

    @property
    def address(self) -> str:
        """The client's IP address, as the limits and the logs name it (the one a trusted proxy forwards)."""
        return self._address

    @property
    def closing(self) -> bool:
        """A close is queued (by the service, for a protocol error, a flood or a peer that does not read, or
        as the link ends): nothing queued after it is sent."""
        return self._closing

    # ---- called from any thread
    def send(self, data: str | bytes) -> None:
        """Queue ``data`` for sending, in order."""
        self._network.call_soon(self._enqueue, data)

    def close(self, code: CloseCode, reason: str = "") -> None:
        """Close after the messages already queued have gone."""
        self._network.call_soon(self._enqueue, (int(code), reason[:120]))

    def calibrate(self, max_seconds: float, done: Callable[[Calibration], None]) -> None:
        """Measure this link's latency and bandwidth; ``done`` gets the result on the network thread."""
        self._network.call_soon(self._start_calibration, max_seconds, done)

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
            self._network.call_soon(self._room.set)
        return message

    # ---- the transport's, on the network thread
    def start(self) -> None:
        """Start sending what is queued (before the service hears of the link, which may send at once)."""
        self._sender = asyncio.create_task(self._send_loop())

    async def receive(self) -> None:
        """Read the link until it closes: parse, count, answer pings, post the rest to the service.

        A protocol error or a flood is audited, answered with an error and closes the link (4400,
        4429). On return, a calibration in progress ends with what it measured.
        """
        try:
            await self._read()
        except ProtocolError as error:
            self._audit.protocol_error(self._address, str(error))
            self._enqueue(protocol.serialize(Error(str(error))))
            self._enqueue((int(CloseCode.PROTOCOL_ERROR), "protocol error"))
        except _Flood:
            self._audit.protocol_error(self._address, "flood: more messages than its rate allows")
            self._enqueue(protocol.serialize(Error("too many messages: the service could not keep up")))
            self._enqueue((int(CloseCode.FLOOD), "flood"))
        except ConnectionClosed:
            pass
        finally:
            for waiter in self._pong_waiters.values():
                waiter.cancel()  # no answer will be read now

    @property
    def aborted(self) -> bool:
        """Once ``receive`` returned: the peer vanished without a clean close, nobody closing the link."""
        received = self._websocket.protocol.close_rcvd
        return not self._closing and not (received is not None and received.code in (1000, 1001))

    async def finish(self) -> None:
        """After ``receive``: send what is queued (an error, a disconnect) and close, within 5 s.

        Messages still arriving meanwhile are read and dropped, or they would fill websockets' small
        buffer, stop the reading, and the peer's close frame would never be seen.
        """
        assert self._sender is not None, "finish() before start()"
        # A no-op close item ends the sender when nothing else will: it never outlives the link.
        self._enqueue((int(CloseCode.NORMAL), ""))
        discard = asyncio.create_task(self._discard_until_closed())
        try:
            await asyncio.wait_for(self._sender, timeout=5)
        except (TimeoutError, asyncio.CancelledError):
            self._sender.cancel()
        finally:
            discard.cancel()

    def stop_delivering(self) -> None:
        """The transport stops: a reader waiting for room gives up (dispatch may never take more)."""
        self._stopping = True
        self._room.set()

    async def flush(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for what is queued to go, up to the close frame (a closing link)."""
        if self._sender is not None:
            await asyncio.wait([self._sender], timeout=timeout)

    # ---- network thread, the link's own
    async def _read(self) -> None:
        async for data in self._websocket:
            message = (protocol.parse_client_text(data) if isinstance(data, str)
                       else protocol.parse_client_binary(data))
            if isinstance(message, Pong) and self._pong(message):
                continue  # calibration asked for it: not the client's to count
            pause = self._count_received(len(data))
            if isinstance(message, Ping):  # answered here so the round trip excludes dispatch
                self.send(protocol.serialize(Pong(message.t)))
            elif isinstance(message, Pong) and message.t < 0:
                pass  # late answers to a calibration that ended: not the service's pings
            elif isinstance(message, Hello):
                raise ProtocolError("hello was already received")
            else:
                await self._deliver(message, len(data))
            if pause:  # beyond its byte rate: stop reading it for a while (TCP pushes back)
                await asyncio.sleep(pause)

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
        self._events.link_message(self, pending)

    async def _discard_until_closed(self) -> None:
        """Read and drop what still arrives, within the link's rate: a flooder is not read at all."""
        try:
            async for data in self._websocket:
                self._count_received(len(data))
        except (ConnectionClosed, _Flood):
            pass  # not reading any more: the close times out (close_timeout) and the socket is cut

    def _count_received(self, size: int) -> float:
        """Count one received message; the seconds to pause reading to keep to the byte rate."""
        now = time.monotonic()
        if self._message_rate.take(1, now) > 0:
            raise _Flood()
        return self._byte_rate.take(size, now)

    def _enqueue(self, item: str | bytes | tuple[int, str]) -> None:
        if self._closing:
            return
        if isinstance(item, tuple):
            self._closing = True
        elif self._outbox.qsize() >= self._limits.max_outgoing or \
                self._outbox_bytes + len(item) > self._limits.max_outgoing_bytes:
            # The peer reads slower than the service writes: treat it as gone.
            log.warning("%r: outgoing queue full, closing", self)
            self._closing = True
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
        if self._websocket.state is not State.CLOSED and self._websocket.transport is not None:
            self._websocket.transport.abort()

    def _start_calibration(self, max_seconds: float, done: Callable[[Calibration], None]) -> None:
        self._network.spawn(self._calibrate(max_seconds, done))

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
                    await self._websocket.close(*item)
                    return
                self._outbox_bytes -= len(item)
                try:
                    await self._websocket.send(item)
                except (UnicodeEncodeError, TypeError):
                    # Never queued by the service (it checks what it sends); if it were, dropping
                    # the one message keeps the link, where letting it raise would end it.
                    log.error("%r: a message that cannot be sent was dropped", self)
        except ConnectionClosed:
            pass


class _Flood(Exception):
    """The link sent more messages than its rate allows, for longer than its burst."""
