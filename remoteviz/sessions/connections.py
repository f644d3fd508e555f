"""The manager's sockets, counted from the TCP accept: per address and in all, and a header timeout.

aiohttp reads a request from every socket it is given, however slowly it arrives, and keeps
each open: 300 sockets that send a header line every 2 s used to exhaust the manager's file
descriptors. Here each accepted socket first takes a place in :class:`remoteviz.limits.Admission`
(the service's own counts): beyond ``max_connections_per_address`` (or, before a whole request
has come, ``max_connections_without_request_per_address``) it is closed at once, before a byte
is read; a socket that has not sent a request's headers ``header_timeout`` seconds after it
opened, or after its previous request ended, is closed. The global cap is kept below the
process's file descriptor limit (each proxied viewer holds two). Refusals go to the
rate-limited audit log.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import ssl
from typing import cast

from aiohttp import web
from aiohttp.typedefs import Handler

from ..audit import Audit, LineBudget
from ..limits import Admission, AdmissionLimits, Ticket, TrustedProxies
from .access import CLIENT_KEY, client_address
from .config import ManagerConfig

log = logging.getLogger("remoteviz.sessions")

RESERVED_FDS = 64
"""File descriptors kept for everything but client sockets: instances' control sockets, logs, files."""

BACKLOG = 64
"""The listen backlog, which is also how many sockets asyncio accepts at once before any is
counted (and closed, if refused): kept apart in the file descriptor budget too."""


def admission_limits(config: ManagerConfig) -> AdmissionLimits:
    """The configured socket limits, the total lowered so that every socket and its upstream fit
    in the process's file descriptor limit (``ulimit -n``)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    total = config.max_connections
    if soft != resource.RLIM_INFINITY:
        fitting = max(8, (soft - RESERVED_FDS - BACKLOG) // 2)
        if fitting < total:
            log.warning("max_connections lowered from %d to %d to fit the file descriptor limit (ulimit -n %d)",
                        total, fitting, soft)
            total = fitting
    return AdmissionLimits(max_sockets=total, max_sockets_per_address=config.max_connections_per_address,
                           max_unidentified=min(total, config.max_connections_without_request),
                           max_unidentified_per_address=config.max_connections_without_request_per_address)


class Connections:
    """The counts of the manager's sockets and the rules each one is held to."""

    def __init__(self, config: ManagerConfig, audit: Audit, trusted: TrustedProxies) -> None:
        self.admission = Admission(admission_limits(config))
        self.header_timeout = config.header_timeout
        self.audit = audit
        self.trusted = trusted

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Note the client's address on the request; tell its socket a whole request came, and when it ends."""
        client = client_address(request, self.trusted)
        request[CLIENT_KEY] = client
        transport = request.transport
        connection = transport.get_protocol() if transport is not None else None
        if not isinstance(connection, CountedConnection):
            return await handler(request)
        refusal = connection.request_started(client)
        try:
            if refusal is not None:
                self.audit.refused(client, refusal)
                return web.json_response({"error": refusal}, status=429, headers={"Connection": "close"})
            return await handler(request)
        finally:
            connection.request_ended()


class CountedConnection(asyncio.Protocol):
    """One accepted socket: its place in the counts, then aiohttp's own protocol for the rest."""

    def __init__(self, inner: asyncio.Protocol, connections: Connections) -> None:
        self._inner = inner
        self._connections = connections
        self._ticket: Ticket | None = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._in_request = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Admit the socket or close it before anything is read."""
        self._transport = cast(asyncio.Transport, transport)  # a socket's transport, whatever the annotation
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        trusted = self._connections.trusted.trusts(address)
        ticket = self._connections.admission.admit(address, per_address=not trusted)
        if isinstance(ticket, str):
            self._connections.audit.refused(address, ticket)
            self._transport.abort()
            return
        self._ticket = ticket
        self._arm()
        self._inner.connection_made(transport)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self._connections.header_timeout, self._too_slow)

    def _too_slow(self) -> None:
        self._timer = None
        if self._in_request or self._transport is None:
            return
        if self._ticket is not None and not self._ticket.identified:
            self._connections.audit.refused(self._ticket.address or "a trusted proxy",
                                            f"no request within {self._connections.header_timeout:g} s")
        self._transport.abort()

    def request_started(self, client: str) -> str | None:
        """A request's headers have all come, from ``client`` (forwarded, behind a trusted proxy):
        the header timer stops. The reason the socket is refused, if that client has no room."""
        self._in_request = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._ticket is None:
            return None
        refusal = self._ticket.forwarded(client) if not self._ticket.address else None
        if refusal is None:
            self._ticket.identify()
        return refusal

    def request_ended(self) -> None:
        """The request was answered: the next one's headers get ``header_timeout`` again."""
        self._in_request = False
        if self._transport is not None and not self._transport.is_closing():
            self._arm()

    def data_received(self, data: bytes) -> None:
        """To aiohttp."""
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        """To aiohttp."""
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        """To aiohttp (its writes wait while the socket's buffer is full)."""
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        """To aiohttp."""
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        """Free the socket's place; tell aiohttp if it ever knew of the socket."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._ticket is None:
            return
        self._ticket.release()
        self._inner.connection_lost(exc)


async def listen(runner: web.AppRunner, connections: Connections, host: str, port: int,
                 ssl_context: ssl.SSLContext | None) -> asyncio.Server:
    """Listen on ``host:port``, each accepted socket counted before aiohttp reads it."""
    factory = runner.server
    assert factory is not None  # set up
    loop = asyncio.get_running_loop()
    # A TLS handshake comes before connection_made (before the socket is counted): bound it too.
    return await loop.create_server(lambda: CountedConnection(factory(), connections), host, port,
                                    reuse_address=True, backlog=BACKLOG, ssl=ssl_context,
                                    ssl_handshake_timeout=connections.header_timeout if ssl_context else None)


class AcceptErrors(logging.Filter):
    """Rate-limits asyncio's "accept() out of system resource" lines (one per failed accept, all at
    once when the file descriptors run out) like the audit log; other lines pass."""

    def __init__(self) -> None:
        super().__init__()
        self._budget = LineBudget()

    def filter(self, record: logging.LogRecord) -> bool:
        """False for such a line beyond the budget."""
        if "out of system resource" not in str(record.msg):
            return True
        return self._budget.take() is not None
