"""An asyncio client that speaks the protocol as a browser does; the tests and benchmarks use it.

    async with remoteviz.client.connect("ws://127.0.0.1:8080/TheCone") as view:
        frame = await view.next_frame()          # decoded to an (H, W, 3) numpy array
        await view.mouse(MouseAction.DOWN, 10, 10)
        await view.send_message("hello")
        message = await view.next_message()
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl as ssl_module
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from . import protocol
from .encoders.image import decode_image
from .events import (
    InputEvent,
    KeyAction,
    KeyEvent,
    Modifiers,
    MouseAction,
    MouseButton,
    MouseEvent,
    TouchAction,
    TouchEvent,
    WheelEvent,
)
from .protocol import (
    Accept,
    Ack,
    AppMessage,
    Codec,
    Disconnect,
    Error,
    Failure,
    Frame,
    Hello,
    Input,
    Notify,
    Ping,
    Pong,
    Resize,
    StreamConfig,
)

DEFAULT_DECODERS = frozenset({"jpeg", "png"})


@dataclass
class ReceivedFrame:
    """A frame as received: its header fields, its text, and its picture decoded."""

    frame: Frame
    image: np.ndarray | None  # None when the client was asked not to decode
    received_at: float  # time.monotonic() when it arrived
    decode_ms: float

    @property
    def frame_id(self) -> int:
        """The frame id (increasing per connection)."""
        return self.frame.frame_id

    @property
    def is_still(self) -> bool:
        """True for a still (best quality) frame."""
        return self.frame.is_still

    @property
    def codec(self) -> Codec:
        """The payload's codec."""
        return self.frame.codec


class ServiceClosed(ConnectionError):
    """The service closed the connection; ``reason`` and ``code`` say why."""

    def __init__(self, reason: str, detail: str, code: int | None) -> None:
        super().__init__(f"{reason}: {detail} (close code {code})")
        self.reason = reason
        self.detail = detail
        self.code = code


SceneMessage = protocol.RenderDecision | protocol.SceneUpdate | protocol.SceneChunk | protocol.CameraState
"""What :meth:`RemoteView.next_scene_message` returns."""


class RemoteView:
    """One connection to one render area; create it with :func:`connect`."""

    def __init__(self, websocket: ClientConnection, *, auto_ack: bool, decode: bool) -> None:
        self._ws = websocket
        self.auto_ack = auto_ack
        self._decode = decode
        self.accept: Accept | None = None
        self.width = 0
        self.height = 0
        self.disconnect: Disconnect | None = None
        self.error: str | None = None
        self.notifications: list[Notify] = []
        self.failures: list[Failure] = []  # the service could not make frames (it retries)
        self.resizes: list[Resize] = []
        self._frames: asyncio.Queue[ReceivedFrame] = asyncio.Queue()
        self._messages: asyncio.Queue[str | bytes] = asyncio.Queue()
        self._scene: asyncio.Queue[SceneMessage] = asyncio.Queue()  # client-side rendering, in order
        self._video: object | None = None  # a PyAV decoder once a video stream starts
        self._seq = 0
        self._input_sent_at: dict[int, float] = {}
        self.input_latencies_ms: list[float] = []
        self._reader: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._accepted = asyncio.Event()

    # ---- lifecycle
    async def _start(self, hello: Hello, timeout: float) -> None:
        await self._ws.send(protocol.serialize(hello))
        self._reader = asyncio.create_task(self._read())
        accepted = asyncio.ensure_future(self._accepted.wait())
        closed = asyncio.ensure_future(self._closed.wait())
        done, _ = await asyncio.wait({accepted, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        accepted.cancel()
        closed.cancel()
        if self.accept is None:
            raise self.closed_error() if self._closed.is_set() else TimeoutError("no accept from the service")

    @property
    def is_closed(self) -> bool:
        """True once the service closed the connection."""
        return self._closed.is_set()

    @property
    def close_code(self) -> int | None:
        """The WebSocket close code the service sent, once closed."""
        return self._ws.close_code

    def closed_error(self) -> ServiceClosed:
        """A ServiceClosed describing why the connection closed."""
        if self.disconnect is not None:
            return ServiceClosed(self.disconnect.reason.value, self.disconnect.detail, self._ws.close_code)
        return ServiceClosed("ERROR" if self.error else "CLOSED", self.error or "", self._ws.close_code)

    async def wait_closed(self, timeout: float = 5.0) -> None:
        """Wait until the service closes the connection."""
        await asyncio.wait_for(self._closed.wait(), timeout)

    async def close(self) -> None:
        """Close the connection from this side."""
        await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, 5)

    # ---- receiving
    async def _read(self) -> None:
        try:
            async for data in self._ws:
                if isinstance(data, str):
                    message = protocol.parse_service_text(data)
                    if isinstance(message, Ping):  # probes of latency and calibration
                        await self._ws.send(protocol.serialize(Pong(message.t)))
                    else:
                        self._on_text(message)
                else:
                    message = protocol.parse_service_binary(data)
                    if isinstance(message, AppMessage):
                        self._messages.put_nowait(message.data)
                    elif isinstance(message, protocol.SceneChunk):
                        self._scene.put_nowait(protocol.SceneChunk(message.chunk, message.buffer, message.offset,
                                                                   message.total, bytes(message.payload)))
                        if self.auto_ack:
                            await self.scene_ack(message.chunk)
                    else:
                        await self._on_frame(message)
        except ConnectionClosed:
            pass
        except protocol.ProtocolError as error:
            self.error = f"the service broke the protocol: {error}"
            await self._ws.close()
        finally:
            self._closed.set()

    def _on_text(self, message: protocol.ServiceMessage) -> None:
        match message:
            case Accept():
                self.accept = message
                self._accepted.set()
                self.width, self.height = message.width, message.height
            case Disconnect():
                self.disconnect = message
            case Error(detail=detail):
                self.error = detail
            case Failure():
                self.failures.append(message)
            case Notify():
                self.notifications.append(message)
            case Resize(width=w, height=h):
                self.resizes.append(message)
                self.width, self.height = w, h
            case StreamConfig():
                self._video = _open_video_decoder(message.codec)
            case AppMessage(data=data):
                self._messages.put_nowait(data)
            case protocol.RenderDecision() | protocol.SceneUpdate() | protocol.CameraState():
                self._scene.put_nowait(message)

    async def _on_frame(self, frame: Frame) -> None:
        now = time.monotonic()
        started = time.perf_counter()
        image = self._decode_frame(frame) if self._decode else None
        decode_ms = (time.perf_counter() - started) * 1000.0
        sent = self._input_sent_at.pop(frame.input_seq, None)
        if sent is not None:
            self.input_latencies_ms.append((time.monotonic() - sent) * 1000.0)
            for seq in [s for s in self._input_sent_at if s < frame.input_seq]:
                del self._input_sent_at[seq]
        self._frames.put_nowait(ReceivedFrame(frame, image, now, decode_ms))
        if self.auto_ack:
            await self.ack(frame.frame_id, decode_ms)

    def _decode_frame(self, frame: Frame) -> np.ndarray | None:
        if not frame.codec.is_video:
            return decode_image(frame.codec, frame.payload)
        if self._video is None:
            raise protocol.ProtocolError("a video frame came before the stream message that configures it")
        import av

        pictures = self._video.decode(av.Packet(bytes(frame.payload)))  # type: ignore[attr-defined]
        if not pictures:
            return None
        # H.264 pads odd sizes to even ones: crop back to the picture's real size.
        return np.asarray(pictures[-1].to_ndarray(format="rgb24")[:frame.height, :frame.width])

    async def next_frame(self, timeout: float = 10.0) -> ReceivedFrame:
        """The next frame received (waits up to ``timeout`` seconds)."""
        getter = asyncio.ensure_future(self._frames.get())
        closed = asyncio.ensure_future(self._closed.wait())
        done, _ = await asyncio.wait({getter, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        closed.cancel()
        if getter in done:
            return getter.result()
        getter.cancel()
        if self._closed.is_set() and self._frames.empty():
            raise self.closed_error()
        raise TimeoutError(f"no frame within {timeout} s")

    async def latest_frame(self, timeout: float = 10.0, settle: float = 0.0) -> ReceivedFrame:
        """The newest frame: waits for one, then drains whatever arrives within ``settle`` seconds."""
        frame = await self.next_frame(timeout)
        deadline = time.monotonic() + settle
        while True:
            while not self._frames.empty():
                frame = self._frames.get_nowait()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return frame
            try:
                frame = await self.next_frame(remaining)
            except TimeoutError:
                return frame

    async def frame_where(self, predicate: Callable[[ReceivedFrame], bool], timeout: float = 10.0) -> ReceivedFrame:
        """The first frame for which ``predicate(frame)`` is true."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.next_frame(max(0.0, deadline - time.monotonic()))
            if predicate(frame):
                return frame

    def pending_frames(self) -> int:
        """Frames received and not yet taken with next_frame()."""
        return self._frames.qsize()

    async def next_message(self, timeout: float = 10.0) -> str | bytes:
        """The next application message from the service."""
        return await asyncio.wait_for(self._messages.get(), timeout)

    async def next_scene_message(self, timeout: float = 10.0) -> SceneMessage:
        """The next client-side rendering message: a ``render`` answer, a scene update, a chunk or a camera."""
        return await asyncio.wait_for(self._scene.get(), timeout)

    # ---- sending
    async def request_rendering(self, mode: protocol.RenderMode, *, webgl2: bool = True, software: bool = False,
                                memory_mb: int = 0) -> None:
        """Ask to draw client-side (or server-side); the answer comes as a RenderDecision."""
        await self._ws.send(protocol.serialize(protocol.RenderRequest(mode, webgl2, software, memory_mb)))

    async def scene_ack(self, chunk: int) -> None:
        """Acknowledge a scene chunk (done automatically when ``auto_ack``)."""
        with contextlib.suppress(ConnectionClosed):
            await self._ws.send(protocol.serialize(protocol.SceneAck(chunk)))

    async def send_camera(self, camera: protocol.CameraState) -> None:
        """Tell the service where this client-side page's camera is."""
        await self._ws.send(protocol.serialize(camera))

    async def ack(self, frame_id: int, decode_ms: float = 0.0) -> None:
        """Acknowledge a frame (done automatically when ``auto_ack``)."""
        with contextlib.suppress(ConnectionClosed):
            await self._ws.send(protocol.serialize(Ack(frame_id, decode_ms)))

    async def send_input(self, event: InputEvent) -> int:
        """Send an input event; returns its seq."""
        self._seq += 1
        self._input_sent_at[self._seq] = time.monotonic()
        if len(self._input_sent_at) > 1024:  # bounded: forget the oldest stamps
            del self._input_sent_at[min(self._input_sent_at)]
        await self._ws.send(protocol.serialize(Input(event, self._seq)))
        return self._seq

    async def mouse(self, action: MouseAction, x: int, y: int, button: MouseButton = MouseButton.LEFT,
                    buttons: int = 0, modifiers: Modifiers = Modifiers.NONE) -> int:
        """Send a mouse event."""
        return await self.send_input(MouseEvent(action, x, y, button, buttons, modifiers))

    async def wheel(self, x: int, y: int, delta: float, modifiers: Modifiers = Modifiers.NONE) -> int:
        """Send a wheel event."""
        return await self.send_input(WheelEvent(x, y, delta, modifiers))

    async def key(self, action: KeyAction, key: str, x: int = 0, y: int = 0,
                  modifiers: Modifiers = Modifiers.NONE) -> int:
        """Send a key event."""
        return await self.send_input(KeyEvent(action, x, y, key, modifiers))

    async def touch(self, action: TouchAction, touch_id: int, x: int, y: int) -> int:
        """Send one touch point's change."""
        return await self.send_input(TouchEvent(action, touch_id, x, y))

    async def drag(self, points: Iterable[tuple[int, int]], button: MouseButton = MouseButton.LEFT) -> None:
        """Press at the first point, move through the others, release at the last."""
        points = list(points)
        mask = 1 << {MouseButton.LEFT: 0, MouseButton.RIGHT: 1, MouseButton.MIDDLE: 2}.get(button, 0)
        await self.mouse(MouseAction.DOWN, *points[0], button, mask)
        for x, y in points[1:]:
            await self.mouse(MouseAction.MOVE, x, y, button, mask)
        await self.mouse(MouseAction.UP, *points[-1], button, 0)

    async def send_message(self, message: str | bytes) -> None:
        """Send an application message."""
        await self._ws.send(protocol.serialize(AppMessage(message)))

    async def request_size(self, width: int, height: int) -> None:
        """Ask the service for a new render area size."""
        await self._ws.send(protocol.serialize(protocol.SizeRequest(width, height)))

    async def send_raw(self, data: str | bytes) -> None:
        """Send bytes or text as they are (for tests of malformed input)."""
        await self._ws.send(data)


def _open_video_decoder(codec: Codec) -> object:
    """A PyAV decoder that gives each picture at once, as a browser's WebCodecs decoder does."""
    import av

    name = {Codec.H264: "h264", Codec.VP9: "vp9", Codec.AV1: "libdav1d"}[codec]
    context = av.CodecContext.create(name, "r")
    context.thread_count = 1  # frame threads would hold pictures back
    if name == "libdav1d":
        context.options = {"max_frame_delay": "1"}
    return context


class _TlsOptions(TypedDict, total=False):
    """The TLS keyword :func:`connect` passes to websockets only when it has a context."""

    ssl: ssl_module.SSLContext


@contextlib.asynccontextmanager
async def connect(url: str, *, width: int = 0, height: int = 0, client_id: str = "",
                  decoders: Iterable[str] = DEFAULT_DECODERS, auto_ack: bool = True, decode: bool = True,
                  timeout: float = 10.0, application: str = "remoteviz.client",
                  max_size: int | None = 64 << 20, ssl: ssl_module.SSLContext | None = None,
                  origin: str | None = None) -> AsyncIterator[RemoteView]:
    """Connect to ``url`` (``ws://host:port/RENDER_AREA_ID?fields``, or ``wss://``) and wait for the accept.

    Raises :class:`ServiceClosed` if the service refuses. ``client_id`` groups connections into
    one client like the views of one page; empty makes a new client. ``ssl`` is the TLS context
    for a ``wss://`` URL (the system's trusted certificates when None); ``origin`` is sent as the
    Origin header, as a page on that origin would.
    """
    tls: _TlsOptions = {"ssl": ssl} if ssl is not None else {}  # websockets refuses ssl=None with wss://
    websocket = await ws_connect(url, compression=None, max_size=max_size, open_timeout=timeout,
                                 origin=None if origin is None else Origin(origin), **tls)
    view = RemoteView(websocket, auto_ack=auto_ack, decode=decode)
    hello = Hello(client_id or secrets.token_hex(8), width, height, width, height, frozenset(decoders),
                  application, "remoteviz-python-client")
    try:
        await view._start(hello, timeout)
        yield view
    finally:
        await view.close()
