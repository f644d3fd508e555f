"""The WebSocket proxy: ``ws://manager/<app>/<render area id>?...`` relayed to an instance.

Without ``session``/``token`` in the query, a new instance of ``<app>`` is started for the
connection (with an API secret configured, only for a page holding a start token that the
application's backend minted: ``?start=``, :func:`.access.issue_start_token`); with them (what
a REST answer in proxy mode, or a page that kept them, gives), the connection joins that
session's instance. The page's ``hello`` is read first, so the proxy can
talk the protocol to it while the instance starts: ``notify pendingNetworkCalibration`` (the page
shows its loader), then, once the instance is ready, the same notification with the ``session``
and ``token`` a reload can reconnect with. A refusal (cap, unknown app, bad token, bad origin)
is a ``disconnect`` REFUSED with the reason and close code 4002, never a bare 1006.

The relay reads one message from a side only after the previous one was written to the other
(aiohttp's send waits for the socket buffer to drain), so a slow browser slows its instance's
connection down (whose service keeps only the newest frame) and the manager buffers a bounded
amount per connection. Close codes and reasons pass through both ways; when the instance goes
away without one (it crashed, was killed, or ended), the page is told what happened: DISPOSED
(4001) with the end's reason once the instance has ended, NETWORKFAILURE (4004) if it still runs.
The instance is told the browser's address (``X-Forwarded-For``), which it trusts from the manager
(``ServiceSettings.trusted_proxies``), so its per-address limits count viewers, not the manager.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiohttp
from aiohttp import WSMsgType, web

from .. import protocol
from ..protocol import CloseCode, Disconnect, DisconnectReason, Notify
from ..tokens import TokenError
from .access import SESSION_KEY, StartTokens, origin_allowed, printable, request_client
from .backend import Address, UnixAddress
from .instances import Instance
from .manager import Owner, Refusal, SessionManager

log = logging.getLogger("remoteviz.sessions")

HELLO_TIMEOUT = 10.0
UPSTREAM_TIMEOUT = 10.0  # seconds for the instance to accept the relayed connection
MAX_BROWSER_MESSAGE = 4 << 20  # the instance enforces its own, smaller limit and closes with 1009
MAX_INSTANCE_MESSAGE = 256 << 20  # frames: a 4K PNG still is several MB
_QUIET_TYPES = ('"ping"', '"pong"')  # keep-alives and probes are not activity
_SENDABLE = set(range(3000, 5000)) | {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011}
END_WAIT = 1.0
"""Seconds the proxy waits, when an instance's connection drops without a close, to learn whether it ended."""


def _sendable(code: int | None, reason: str) -> tuple[int, bytes]:
    """A close code and reason that may be sent on: 1005/1006 are only ever observed."""
    if code is None or code == 1005:
        return 1000, reason.encode()[:120]
    if code not in _SENDABLE:
        return 1011, b"the other side went away"
    return code, reason.encode()[:120]


def _text(message: Disconnect | Notify) -> str:
    text = protocol.serialize(message)
    assert isinstance(text, str)  # control messages are JSON text
    return text


def _disconnect(reason: DisconnectReason, detail: str) -> str:
    return _text(Disconnect(reason, detail))


def _notify(event: str, **fields: object) -> str:
    return _text(Notify(event, fields))


class Proxy:
    """The WebSocket side of the manager's port."""

    def __init__(self, manager: SessionManager) -> None:
        self._manager = manager
        self._config = manager.config
        self._metrics = manager.metrics
        self._client = aiohttp.ClientSession(auto_decompress=False)
        self._start_tokens = StartTokens(self._config.api_secret) if self._config.api_secret else None

    async def close(self) -> None:
        """Close the upstream client session (after every relay ended)."""
        await self._client.close()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One browser connection, from upgrade to close."""
        browser = web.WebSocketResponse(max_msg_size=MAX_BROWSER_MESSAGE, compress=False, heartbeat=20.0)
        await browser.prepare(request)
        app, area = request.match_info["app"], request.match_info["area"]
        self._metrics.proxied_connections += 1
        self._metrics.open_proxied_connections += 1
        try:
            await self._serve(request, browser, app, area)
        finally:
            self._metrics.open_proxied_connections -= 1
            if not browser.closed:
                await browser.close()
        return browser

    async def _refuse(self, browser: web.WebSocketResponse, request: web.Request, why: str, detail: str) -> None:
        self._metrics.refused(why)
        self._manager.audit.refused(request_client(request), f"proxy {printable(request.path)} ({why}): {detail}")
        try:
            await browser.send_str(_disconnect(DisconnectReason.REFUSED, detail))
            await browser.close(code=int(CloseCode.REFUSED), message=b"refused")
        except ConnectionError:
            pass

    def _owner(self, request: web.Request, app: str, area: str) -> Owner:
        """Who starts an instance here; raises Refusal without a valid start token when a secret is set."""
        if self._start_tokens is None:
            return Owner(request_client(request))
        try:
            user = self._start_tokens.redeem(request.query.get("start"), app, area)
        except TokenError as error:
            raise Refusal(403, str(error)) from None
        return Owner(request_client(request), user)

    async def _serve(self, request: web.Request, browser: web.WebSocketResponse, app: str, area: str) -> None:
        if not origin_allowed(request, self._config):
            await self._refuse(browser, request, "origin", "origin not allowed")
            return
        if len(area) > 128 or any(ord(c) < 32 for c in area):
            await self._refuse(browser, request, "area", "bad render area id")
            return
        try:
            message = await browser.receive(timeout=HELLO_TIMEOUT)
        except TimeoutError:
            await self._refuse(browser, request, "hello", f"no hello within {HELLO_TIMEOUT:g} s")
            return
        if message.type is not WSMsgType.TEXT:
            return  # closed before saying hello
        hello = message.data
        query = dict(request.query)
        session_id, token = query.pop("session", None), query.pop("token", None)
        query.pop("start", None)  # the manager's, not the instance's
        instance = None
        why = "token" if session_id else "spawn"
        try:
            if session_id is None:
                if app not in self._config.apps:
                    raise Refusal(404, f"unknown application {app!r}")
                owner = self._owner(request, app, area)
                if self._manager.can_spawn:  # else create() refuses at once: no loader to flash
                    await browser.send_str(_notify("pendingNetworkCalibration", state="launching"))
                try:
                    grant = await self._manager.create(app, proxied=True, owner=owner)
                except Refusal:
                    if self._start_tokens is not None:  # nothing started: the token may be tried again
                        self._start_tokens.give_back(request.query.get("start", ""))
                    raise
                instance = grant.instance
                await browser.send_str(_notify("pendingNetworkCalibration", state="ready", session=instance.id,
                                               token=grant.token, expires=grant.expires))
                log.info("session %s: started for a proxied viewer from %s", instance.id, owner.address)
            else:
                instance = await self._manager.join(session_id, token, area)
                if instance.app != app:
                    raise Refusal(403, "the session is of another application")
                log.info("session %s: proxied viewer from %s joins", instance.id, request_client(request))
        except Refusal as refusal:
            await self._refuse(browser, request, why, refusal.reason)
            return
        except ConnectionError:  # the page left while its instance started: nobody else can use it
            if instance is not None and session_id is None:
                instance.stop("abandoned")
            return
        request[SESSION_KEY] = instance.id
        query["token"] = self._manager.grant(instance).token
        assert instance.address is not None  # create() and join() give ready instances only
        client, url = self._upstream(instance.address, area)
        instance.viewer_joined()
        try:
            try:
                async with asyncio.timeout(UPSTREAM_TIMEOUT):
                    upstream = await client.ws_connect(
                        url, params=query, max_msg_size=MAX_INSTANCE_MESSAGE, compress=0, autoping=True,
                        headers={"X-Forwarded-For": request_client(request)},
                        timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0))
            except (aiohttp.ClientError, OSError, TimeoutError) as error:
                if isinstance(error, aiohttp.WSServerHandshakeError) and error.status == 503:
                    # The instance counted this viewer's address (forwarded) and found it at its limit.
                    await self._refuse(browser, request, "instance", "the viewer instance refused the connection: "
                                       "too many connections from this address")
                    return
                log.warning("session %s: cannot reach the instance: %s", instance.id,
                            printable(error) if str(error) else "timed out")
                await _close_with(browser, DisconnectReason.NETWORKFAILURE, CloseCode.NETWORKFAILURE,
                                  "the viewer instance cannot be reached")
                return
            async with upstream:
                await upstream.send_str(hello)
                await self._relay(browser, upstream, instance)
        finally:
            instance.viewer_left()
            if client is not self._client:
                await client.close()

    def _upstream(self, address: Address, area: str) -> tuple[aiohttp.ClientSession, str]:
        """The client session and URL that reach an instance: its TCP port through the shared
        session, or its Unix socket through a session of this connection's (a connector names one socket)."""
        if isinstance(address, UnixAddress):
            connector = aiohttp.UnixConnector(path=address.path)
            return aiohttp.ClientSession(connector=connector, auto_decompress=False), f"ws://localhost/{area}"
        return self._client, f"ws://{address.host}:{address.port}/{area}"

    async def _relay(self, browser: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse,
                     instance: Instance) -> None:
        bytes_count = self._metrics.proxied_bytes
        down = asyncio.ensure_future(_pump(upstream, browser, instance.activity, bytes_count, "to_browser"))
        up = asyncio.ensure_future(_pump(browser, upstream, instance.activity, bytes_count, "to_instance"))
        done, pending = await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
        first = done.pop()
        if first.exception() is not None:
            log.warning("relaying failed: %s", printable(repr(first.exception())))
            code: int | None = 1006
            reason = ""
        else:
            code, reason = first.result()
        other = browser if first is down else upstream
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if other is browser and code is not None and code != 1005 and code not in _SENDABLE:
            # The instance went away without a close of its own: say what happened instead of a bare 1011.
            await _tell_why(browser, instance)
            return
        send_code, send_reason = _sendable(code, reason)
        try:
            await other.close(code=send_code, message=send_reason)
        except ConnectionError:
            pass


async def _close_with(browser: web.WebSocketResponse, reason: DisconnectReason, code: CloseCode, detail: str) -> None:
    try:
        await browser.send_str(_disconnect(reason, detail))
        await browser.close(code=int(code), message=reason.value.lower().encode())
    except ConnectionError:
        pass


async def _tell_why(browser: web.WebSocketResponse, instance: Instance) -> None:
    """The instance's connection dropped: DISPOSED with its end's reason if it ended, else NETWORKFAILURE."""
    try:
        await asyncio.wait_for(instance.exited.wait(), END_WAIT)
    except TimeoutError:
        pass
    if instance.end_reason is not None:
        await _close_with(browser, DisconnectReason.DISPOSED, CloseCode.DISPOSED,
                          f"the viewer instance ended ({instance.end_reason})")
    else:
        await _close_with(browser, DisconnectReason.NETWORKFAILURE, CloseCode.NETWORKFAILURE,
                          "the connection to the viewer instance was lost")


async def _pump(source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                activity: Callable[[], None], counts: dict[str, int], direction: str) -> tuple[int | None, str]:
    """Relay ``source`` to ``sink`` until ``source`` closes; its close code and reason."""
    while True:
        message = await source.receive()
        if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            data = message.data
            text = message.type is WSMsgType.TEXT
            if not text or not any(t in data[:40] for t in _QUIET_TYPES):
                activity()
            counts[direction] += len(data)
            try:
                await (sink.send_str(data) if text else sink.send_bytes(data))
            except ConnectionError:
                return sink.close_code, ""
        elif message.type is WSMsgType.CLOSE:
            return message.data, message.extra or ""
        elif message.type in (WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return source.close_code or 1006, ""
