"""The WebSocket proxy: ``ws://manager/<app>/<render area id>?...`` relayed to an instance.

Without ``session``/``token`` in the query, a new instance of ``<app>`` is started for the
connection; with them (what a REST answer in proxy mode, or a page that kept them, gives), the
connection joins that session's instance. The page's ``hello`` is read first, so the proxy can
talk the protocol to it while the instance starts: ``notify pendingNetworkCalibration`` (the page
shows its loader), then, once the instance is ready, the same notification with the ``session``
and ``token`` a reload can reconnect with. A refusal (cap, unknown app, bad token, bad origin)
is a ``disconnect`` REFUSED with the reason and close code 4002, never a bare 1006.

The relay reads one message from a side only after the previous one was written to the other
(aiohttp's send waits for the socket buffer to drain), so a slow browser slows its instance's
connection down (whose service keeps only the newest frame) and the manager buffers a bounded
amount per connection. Close codes and reasons pass through both ways.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiohttp
from aiohttp import WSMsgType, web

from .. import protocol
from ..protocol import CloseCode, Disconnect, DisconnectReason, Notify
from .access import SESSION_KEY, origin_allowed
from .backend import Address, UnixAddress
from .manager import Refusal, SessionManager

log = logging.getLogger("remoteviz.sessions")

HELLO_TIMEOUT = 10.0
UPSTREAM_TIMEOUT = 10.0  # seconds for the instance to accept the relayed connection
MAX_BROWSER_MESSAGE = 4 << 20  # the instance enforces its own, smaller limit and closes with 1009
MAX_INSTANCE_MESSAGE = 256 << 20  # frames: a 4K PNG still is several MB
_QUIET_TYPES = ('"ping"', '"pong"')  # keep-alives and probes are not activity
_SENDABLE = set(range(3000, 5000)) | {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011}


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
        log.warning("proxy %s from %s refused (%s): %s", request.path, request.remote, why, detail)
        try:
            await browser.send_str(_disconnect(DisconnectReason.REFUSED, detail))
            await browser.close(code=int(CloseCode.REFUSED), message=b"refused")
        except ConnectionError:
            pass

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
        instance = None
        try:
            if session_id is None:
                if app not in self._config.apps:
                    raise Refusal(404, f"unknown application {app!r}")
                if self._manager.can_spawn:  # else create() refuses at once: no loader to flash
                    await browser.send_str(_notify("pendingNetworkCalibration", state="launching"))
                grant = await self._manager.create(app, proxied=True)
                instance = grant.instance
                await browser.send_str(_notify("pendingNetworkCalibration", state="ready", session=instance.id,
                                               token=grant.token, expires=grant.expires))
                log.info("session %s: started for a proxied viewer from %s", instance.id, request.remote)
            else:
                instance = await self._manager.join(session_id, token, area)
                if instance.app != app:
                    raise Refusal(403, "the session is of another application")
                log.info("session %s: proxied viewer from %s joins", instance.id, request.remote)
        except Refusal as refusal:
            await self._refuse(browser, request, "token" if session_id else "spawn", refusal.reason)
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
                        timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0))
            except (aiohttp.ClientError, OSError, TimeoutError) as error:
                log.warning("session %s: cannot reach the instance: %s", instance.id, error or "timed out")
                try:
                    await browser.send_str(_disconnect(DisconnectReason.NETWORKFAILURE,
                                                       "the viewer instance cannot be reached"))
                    await browser.close(code=int(CloseCode.NETWORKFAILURE), message=b"networkfailure")
                except ConnectionError:
                    pass
                return
            async with upstream:
                await upstream.send_str(hello)
                await self._relay(browser, upstream, instance.activity)
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
                     activity: Callable[[], None]) -> None:
        bytes_count = self._metrics.proxied_bytes
        down = asyncio.ensure_future(_pump(upstream, browser, activity, bytes_count, "to_browser"))
        up = asyncio.ensure_future(_pump(browser, upstream, activity, bytes_count, "to_instance"))
        done, pending = await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
        first = done.pop()
        if first.exception() is not None:
            log.warning("relaying failed: %r", first.exception())
            code: int | None = 1011
            reason = ""
        else:
            code, reason = first.result()
        other = browser if first is down else upstream
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        send_code, send_reason = _sendable(code, reason)
        try:
            await other.close(code=send_code, message=send_reason)
        except ConnectionError:
            pass


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
