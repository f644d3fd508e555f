"""The kernel's side of a notebook's live view: the widget (an anywidget, whose page side is
``notebook_view.js``) and the relay that carries a connection over the widget channel.

It is given the service it shows (:class:`ViewedService`) and names no service class, so the
service itself makes the view of a render area a cell shows (``RenderArea._repr_mimebundle_``);
:mod:`remoteviz.notebook` adds the process's service as the default and starts it in the kernel.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import anywidget
import traitlets

from .http import CLIENT_DIR
from .render_area import RenderArea
from .settings import ServiceSettings
from .tokens import issue_token

_VIEW_MODULE = Path(__file__).resolve().parent / "notebook_view.js"
VIEW_TOKEN_TTL = 300.0
"""How long a view's token opens its render area, in seconds: long enough to connect with it; the
page asks the kernel for a fresh one at each connection."""
RELAY_WINDOW = 8
"""Messages relayed to the page over the widget channel and not yet acknowledged by it, at most:
the kernel reads the next one from its service only once the page has taken one."""
RELAY_INPUT_LIMIT = 256
"""Page messages waiting for the service in one relay, at most: more closes that relay (a flood)."""
MAX_RELAYS = 8
"""Relayed connections open at once per view (a page opens one; reconnections replace it)."""


class ViewedService(Protocol):
    """What a view reads of the service it shows (a :class:`remoteviz.Service`)."""

    @property
    def settings(self) -> ServiceSettings:
        """Its settings: the host, TLS and the access secret tokens are signed with."""

    @property
    def is_open(self) -> bool:
        """Whether it listens."""

    @property
    def port(self) -> int:
        """The port it listens on."""


def _client_modules() -> dict[str, str]:
    """The browser client's modules by file name, as the widget's page side loads them."""
    return {path.name: path.read_text() for path in sorted(CLIENT_DIR.resolve().glob("*.js"))}


def _own_service_tls() -> ssl.SSLContext:
    """TLS to the kernel's own service, in this process: its certificate names no loopback host."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class _Relay:
    """One page connection carried over the widget channel: a WebSocket from the kernel to its own
    service, its messages passed to the page (``RELAY_WINDOW`` unacknowledged at most) and the
    page's passed back (``RELAY_INPUT_LIMIT`` waiting at most)."""

    def __init__(self, view: RenderAreaView, channel: str, relay_id: int, url: str) -> None:
        self._view, self._channel, self._id, self._url = view, channel, relay_id, url
        self._unacknowledged = 0
        self._acknowledged = asyncio.Event()
        self._outgoing: asyncio.Queue[str | bytes] = asyncio.Queue(RELAY_INPUT_LIMIT)
        self._close: tuple[int, str] | None = None
        self._closing = asyncio.Event()
        self.task = asyncio.get_event_loop().create_task(self._run())

    def _send(self, kind: str, fields: dict[str, Any] | None = None, buffers: list[bytes] | None = None) -> None:
        self._view.send({"type": kind, "channel": self._channel, "id": self._id, **(fields or {})}, buffers)

    async def _run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        try:
            async with connect(self._url, compression=None, max_size=None, open_timeout=20,
                               ssl=_own_service_tls() if self._url.startswith("wss:") else None) as ws:
                self._send("relay-opened")
                if not self._closing.is_set():  # a page that flooded before the connection opened: no traffic
                    tasks = [asyncio.ensure_future(coroutine) for coroutine in
                             (self._to_page(ws), self._to_service(ws), self._closing.wait())]
                    try:
                        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        for task in tasks:
                            task.cancel()
                await ws.close(*(self._close or (1000, "")))
                # Closed by the page or for its flood: that reason; else the service's.
                code, reason = self._close or (ws.close_code or 1006, ws.close_reason or "")
        except (OSError, TimeoutError, WebSocketException) as error:
            code, reason = 1006, f"the kernel could not reach its own service: {error}"
        self._send("relay-closed", {"code": code, "reason": reason})

    async def _to_page(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for message in ws:
                while self._unacknowledged >= RELAY_WINDOW:
                    self._acknowledged.clear()
                    await self._acknowledged.wait()
                self._unacknowledged += 1
                if isinstance(message, str):
                    self._send("relay-message", {"text": message})
                else:
                    self._send("relay-message", None, [message])
        except ConnectionClosed:
            pass  # the service closed it: _run tells the page its code and reason

    async def _to_service(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                await ws.send(await self._outgoing.get())
        except ConnectionClosed:
            pass

    def acknowledge(self, count: int) -> None:
        """The page took ``count`` more messages."""
        self._unacknowledged = max(0, self._unacknowledged - count)
        self._acknowledged.set()

    def forward(self, message: str | bytes) -> None:
        """A message of the page for the service."""
        try:
            self._outgoing.put_nowait(message)
        except asyncio.QueueFull:
            self.close(1008, "the page sent messages faster than the service took them")

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection to the service (the page hears ``relay-closed``)."""
        if self._close is None:
            self._close = (code if code == 1000 or 3000 <= code < 5000 else 1000, reason[:120])
        self._closing.set()


class RenderAreaView(anywidget.AnyWidget):
    """A notebook cell's live view of one render area: pictures in, mouse, wheel, keys and touch out.

    Its synced state (what a saved notebook keeps) is the URL without any token, the size and the
    client's sources; tokens and relayed messages travel as the widget's custom messages.
    """

    _esm = _VIEW_MODULE
    url = traitlets.Unicode("").tag(sync=True)
    """The render area's WebSocket URL, ``ws://127.0.0.1:PORT/AREA`` (query fields go to the service; no token)."""
    width = traitlets.Int(640).tag(sync=True)
    """The view's width in CSS pixels."""
    height = traitlets.Int(480).tag(sync=True)
    """The view's height in CSS pixels."""
    modules = traitlets.Dict().tag(sync=True)
    """The browser client's module sources, sent once per view."""

    def __init__(self, url: str, width: int = 640, height: int = 480, *, service: ViewedService,
                 render_area_id: str = "", token: str | None = None, **kwargs: Any) -> None:
        super().__init__(url=url, width=width, height=height, modules=_client_modules(), **kwargs)
        self._service = service
        self._render_area_id = render_area_id or url.split("?")[0].rsplit("/", 1)[-1]
        self._fixed_token = token
        self._relays: dict[tuple[str, int], _Relay] = {}
        self.on_msg(self._on_page_message)

    def token(self) -> str | None:
        """A token for this view's render area: the one given to :func:`view`, else a fresh one
        signed with the service's secret (valid :data:`VIEW_TOKEN_TTL` seconds), else None."""
        if self._fixed_token is not None:
            return self._fixed_token
        access = self._service.settings.access
        if isinstance(access, (str, bytes)):
            return issue_token(access, self._render_area_id, ttl=VIEW_TOKEN_TTL, now=time.time())
        return None

    def _service_url(self) -> str:
        """The URL the kernel itself connects to for a relayed connection: the view's, with a token."""
        token = self.token()
        if token is None:
            return self.url
        return self.url + ("&" if "?" in self.url else "?") + urlencode({"token": token})

    def _on_page_message(self, widget: object, content: Any, buffers: list[Any]) -> None:
        """A custom message of the page: a token request, or a relayed connection's traffic."""
        if not isinstance(content, dict) or not isinstance(content.get("channel"), str):
            return
        kind, channel, relay_id = content.get("type"), content["channel"], content.get("id")
        if kind == "token":
            self.send({"type": "token", "channel": channel, "token": self.token() or ""})
            return
        if not isinstance(relay_id, int):
            return
        key = (channel, relay_id)
        relay = self._relays.get(key)
        if kind == "relay-open" and relay is None:
            self._forget_closed_relays()
            if len(self._relays) >= MAX_RELAYS or not self._service.is_open:
                reason = "the service is closed" if not self._service.is_open else "too many relayed connections"
                self.send({"type": "relay-closed", "channel": channel, "id": relay_id, "code": 1013, "reason": reason})
                return
            self._relays[key] = _Relay(self, channel, relay_id, self._service_url())
        elif relay is not None and kind == "relay-send":
            text = content.get("text")
            if isinstance(text, str):
                relay.forward(text)
            elif buffers:
                relay.forward(bytes(buffers[0]))
        elif relay is not None and kind == "relay-ack":
            count = content.get("count", 1)
            relay.acknowledge(count if isinstance(count, int) and count > 0 else 1)
        elif relay is not None and kind == "relay-close":
            code, reason = content.get("code", 1000), content.get("reason", "")
            relay.close(code if isinstance(code, int) else 1000, reason if isinstance(reason, str) else "")

    def _forget_closed_relays(self) -> None:
        for key in [key for key, relay in self._relays.items() if relay.task.done()]:
            del self._relays[key]

    def close(self) -> None:
        """Close the widget and every connection it relays."""
        for relay in self._relays.values():
            relay.close(1001, "the notebook view was closed")
        super().close()


def live_view(render_area: RenderArea | str, width: int | None, height: int | None, service: ViewedService,
              **parameters: str) -> RenderAreaView:
    """A live view of ``render_area`` (or of the render area with that id, created on connection) on
    ``service`` (what :func:`remoteviz.notebook.view` and a render area shown by a cell make).

    ``parameters`` travel as connection parameters. A ``token`` among them is kept in the kernel
    and handed to the page as a fresh one would be; without one, and with a secret as the
    service's ``access`` setting (as :func:`start` sets by default), each connection gets a
    short-lived token signed with it. The size defaults to the render area's, else 640 x 480.
    """
    if not service.is_open:
        raise RuntimeError("the service is not open: call remoteviz.notebook.start() first")
    area_id = render_area.id if isinstance(render_area, RenderArea) else render_area
    if isinstance(render_area, RenderArea):
        width, height = width or render_area.width, height or render_area.height
    token = parameters.pop("token", None)
    query = urlencode(parameters)
    host = service.settings.host if service.settings.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    scheme = "wss" if service.settings.is_secure else "ws"
    url = f"{scheme}://{host}:{service.port}/{quote(area_id, safe='')}" + (f"?{query}" if query else "")
    return RenderAreaView(url, width or 640, height or 480, service=service, render_area_id=area_id, token=token)
