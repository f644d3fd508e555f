"""The remoteviz wire protocol, version 1, as plain data in and plain data out.

No sockets and no asyncio here: the transport hands this module the text or bytes of one
WebSocket message and gets back a typed message (or a :class:`ProtocolError` saying exactly what
was wrong); to send, it asks this module for the text or bytes to write. ``docs/protocol.md`` is
the specification; this module is its executable form, used by the service and by
:mod:`remoteviz.client` alike.
"""

from __future__ import annotations

import enum
import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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

VERSION = 1
"""The protocol version both ends announce; a mismatch is refused at hello time."""

MAX_SIDE = 8192
"""The largest width or height, in pixels, that any message may name."""

MAX_ID_LENGTH = 128
"""The longest render area or client id accepted."""


class ProtocolError(ValueError):
    """A message from the peer broke the protocol; ``str(error)`` is sent back as the reason."""


class Codec(enum.IntEnum):
    """The encoding of a frame's payload, as carried in the frame header."""

    JPEG = 1
    PNG = 2
    H264 = 3
    VP9 = 4
    AV1 = 5

    @property
    def is_video(self) -> bool:
        """True for the video codecs, whose frames depend on earlier ones."""
        return self >= Codec.H264


class FrameFlags(enum.IntFlag):
    """Bits of the frame header's flags byte."""

    NONE = 0
    KEY = 1  # decodable on its own (always set for images)
    STILL = 2  # a still (best quality) frame rather than an interactive one


class DisconnectReason(enum.Enum):
    """Why the service closed a connection, as the browser is told."""

    DISPOSED = "DISPOSED"  # the render area was disposed
    REFUSED = "REFUSED"  # the application refused the connection
    KICKED = "KICKED"  # the application closed the connection or client
    NETWORKFAILURE = "NETWORKFAILURE"  # the peer vanished or stopped answering


class CloseCode(enum.IntEnum):
    """WebSocket close codes the service uses (the 4000-4999 range is the application's)."""

    NORMAL = 1000
    DISPOSED = 4001
    REFUSED = 4002
    KICKED = 4003
    NETWORKFAILURE = 4004
    PROTOCOL_ERROR = 4400
    TOO_BIG = 1009  # closed by the WebSocket layer ("message too big")
    INTERNAL_ERROR = 1011  # handling this connection failed inside the service (logged there); others go on
    FLOOD = 4429


BINARY_FRAME = 1
BINARY_MESSAGE = 2
BINARY_SCENE_CHUNK = 3
"""A piece of a scene buffer (client-side rendering), service to client only."""

_FRAME_HEADER = struct.Struct("<BBBBIHHHHII")
FRAME_HEADER_SIZE = _FRAME_HEADER.size
"""Bytes before a frame's text and payload (24)."""

_SCENE_CHUNK_HEADER = struct.Struct("<BBBBIII16s")
SCENE_CHUNK_HEADER_SIZE = _SCENE_CHUNK_HEADER.size
"""Bytes before a scene chunk's payload (32)."""

MAX_SCENE_CHUNK = 1 << 18
"""The most payload bytes one scene chunk carries (256 KiB), so pings and frames pass between chunks."""

MAX_COORDINATE = 1e15
"""The largest absolute coordinate a camera message may carry."""


class RenderMode(enum.Enum):
    """Who draws a view: the service (frames) or the browser (geometry); ``auto`` lets the service choose."""

    SERVER = "server"
    CLIENT = "client"
    AUTO = "auto"


# --------------------------------------------------------------------------- client -> service


@dataclass(frozen=True, slots=True)
class Hello:
    """The first message of every connection: who the client is and what it can decode."""

    client_id: str
    width: int
    height: int
    container_width: int
    container_height: int
    decoders: frozenset[str]
    application: str = ""
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class Input:
    """An input event; ``seq`` numbers it so that a frame can name the last input it shows."""

    event: InputEvent
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Ack:
    """The browser decoded frame ``frame_id`` in ``decode_ms`` milliseconds."""

    frame_id: int
    decode_ms: float


@dataclass(frozen=True, slots=True)
class SizeRequest:
    """The browser asks for a new render area size."""

    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ContainerResize:
    """The browser's container element changed size."""

    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Ping:
    """Keep-alive and round-trip probe; answered with :class:`Pong` carrying the same ``t``.

    ``pad`` adds that many filler characters, so that network calibration can time a burst.
    """

    t: float
    pad: int = 0


@dataclass(frozen=True, slots=True)
class Pong:
    """The answer to a :class:`Ping`."""

    t: float


@dataclass(frozen=True, slots=True)
class KeyFrameRequest:
    """The browser's video decoder failed and needs a key frame to resume."""


@dataclass(frozen=True, slots=True)
class AppMessage:
    """An application message, text or bytes, in either direction."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class RenderRequest:
    """The page asks who should draw its view, and says what it can draw with (client-side rendering)."""

    mode: RenderMode
    webgl2: bool = False
    software: bool = False  # the WebGL renderer is a software one (SwiftShader, llvmpipe)
    memory_mb: int = 0  # what the browser says of the device's memory; 0 when it does not say


@dataclass(frozen=True, slots=True)
class SceneAck:
    """The page holds scene chunk ``chunk``: the service may send more (scene flow control)."""

    chunk: int


@dataclass(frozen=True, slots=True)
class CameraState:
    """A camera, either way: the page's camera after its navigation, or the service's (the truth).

    ``height`` is the field of view in radians of a perspective camera, the visible height of an
    orthographic one; ``orientation`` is an ``(x, y, z, w)`` unit quaternion. ``seq``, from a page,
    is the last ``scene`` update it had received: a camera moved from one the service has since
    replaced (application code, another viewer) is stale, and the service ignores it.
    """

    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float]
    focal_distance: float
    height: float
    orthographic: bool = False
    seq: int | None = None


ClientMessage = (Hello | Input | Ack | SizeRequest | ContainerResize | Ping | Pong | KeyFrameRequest | AppMessage
                 | RenderRequest | SceneAck | CameraState)

# --------------------------------------------------------------------------- service -> client


@dataclass(frozen=True, slots=True)
class Accept:
    """The service accepted the connection."""

    connection_id: str
    client_id: str
    render_area_id: str
    width: int
    height: int
    still_encoder: str
    interactive_encoder: str


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The service is about to close the connection, and why."""

    reason: DisconnectReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Error:
    """The client broke the protocol; the connection closes right after."""

    detail: str


@dataclass(frozen=True, slots=True)
class Notify:
    """A service notification (``startNetworkCalibration``, ``finishedNetworkCalibration``...)."""

    event: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Failure:
    """The service cannot make frames for this view now; it retries after ``retry_ms``.

    ``stage`` is ``render`` (rendering, or the application's frame source) or ``encode``. The
    connection stays open: the next frame means it works again.
    """

    stage: str
    detail: str
    retry_ms: int


@dataclass(frozen=True, slots=True)
class Resize:
    """The render area changed size; frames that follow have it."""

    width: int
    height: int


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """Sent before the first frame of a video stream, and whenever its configuration changes."""

    codec: Codec
    codec_string: str  # what WebCodecs' VideoDecoder.configure() takes, e.g. "avc1.42E01F"
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Frame:
    """One encoded frame and its header fields."""

    frame_id: int
    codec: Codec
    flags: FrameFlags
    width: int  # of the encoded picture
    height: int
    area_width: int  # of the render area the picture shows (bigger when downscaled)
    area_height: int
    input_seq: int  # the last input (Input.seq) whose effect this frame shows; 0 if none
    text: str
    payload: bytes | memoryview

    @property
    def is_key(self) -> bool:
        """True when the frame decodes on its own."""
        return bool(self.flags & FrameFlags.KEY)

    @property
    def is_still(self) -> bool:
        """True for a still (best quality) frame."""
        return bool(self.flags & FrameFlags.STILL)


@dataclass(frozen=True, slots=True)
class RenderDecision:
    """Who draws the page's view from now on, and why (the answer to :class:`RenderRequest`)."""

    mode: RenderMode  # SERVER or CLIENT, never AUTO
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SceneUpdate:
    """Scene records for client-side rendering: the whole scene (``full``) or what changed since
    the last update (``docs/client-side-rendering.md`` lists the fields)."""

    seq: int
    full: bool
    records: list[dict[str, Any]]
    removed: list[str]
    buffers: dict[str, int]  # the buffers this update needs and the page lacks: hash -> deflated size
    extra: dict[str, Any] = field(default_factory=dict)  # camera, background, lights, bounds


@dataclass(frozen=True, slots=True)
class SceneChunk:
    """A piece of a deflated scene buffer: ``payload`` is bytes ``offset..`` of ``total``."""

    chunk: int
    buffer: str  # the buffer's hash, 32 hexadecimal digits
    offset: int
    total: int
    payload: bytes | memoryview


ServiceMessage = (Accept | Disconnect | Error | Failure | Notify | Resize | StreamConfig | Ping | Pong | AppMessage
                  | Frame | RenderDecision | SceneUpdate | SceneChunk | CameraState)

# --------------------------------------------------------------------------- validation helpers


def _field(obj: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
    value = obj.get(name, default)
    if value is ...:
        raise ProtocolError(f"{obj.get('type')!s} message lacks field {name!r}")
    # bool is an int in Python; JSON true is never a valid number here.
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise ProtocolError(f"field {name!r} must be {_kind_name(kind)}, not a boolean")
    if not isinstance(value, kind):
        raise ProtocolError(f"field {name!r} must be {_kind_name(kind)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _int(obj: dict[str, Any], name: str, lo: int, hi: int, default: Any = ...) -> int:
    value = _field(obj, name, (int, float), default)
    if isinstance(value, float):
        if not value.is_integer():
            raise ProtocolError(f"field {name!r} must be an integer")
        value = int(value)
    if not lo <= value <= hi:
        raise ProtocolError(f"field {name!r} = {value} is outside [{lo}, {hi}]")
    return int(value)


def _number(obj: dict[str, Any], name: str, default: Any = ...) -> float:
    value = _field(obj, name, (int, float), default)
    try:
        value = float(value)
    except OverflowError:  # a JSON integer too large for a float
        raise ProtocolError(f"field {name!r} must be finite") from None
    if not math.isfinite(value):
        raise ProtocolError(f"field {name!r} must be finite")
    return value


def _text(obj: dict[str, Any], name: str, max_length: int, default: Any = ...) -> str:
    value: str = _field(obj, name, str, default)
    if len(value) > max_length:
        raise ProtocolError(f"field {name!r} is longer than {max_length} characters")
    return value


def _coord(obj: dict[str, Any], name: str) -> int:
    # Coordinates may fall outside the area during a drag; bound them only against absurdity.
    value = _number(obj, name)
    if abs(value) > 4 * MAX_SIDE:
        raise ProtocolError(f"field {name!r} is absurdly far outside the render area")
    return round(value)


def _modifiers(obj: dict[str, Any]) -> Modifiers:
    return Modifiers(_int(obj, "mods", 0, 15, 0))


def _enum(obj: dict[str, Any], name: str, enum_type: type[enum.Enum]) -> Any:
    value = _field(obj, name, str)
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum_type)
        raise ProtocolError(f"field {name!r} = {value!r} is not one of {allowed}") from None


# --------------------------------------------------------------------------- parsing


def _parse_hello(obj: dict[str, Any]) -> Hello:
    version = _int(obj, "version", 0, 1 << 16)
    if version != VERSION:
        raise ProtocolError(f"protocol version {version} is not supported (this service speaks {VERSION})")
    decoders = _field(obj, "decoders", list, [])
    if len(decoders) > 32 or not all(isinstance(d, str) and len(d) <= 32 for d in decoders):
        raise ProtocolError("field 'decoders' must be a short list of short strings")
    return Hello(
        client_id=_text(obj, "client_id", MAX_ID_LENGTH, ""),
        width=_int(obj, "width", 0, MAX_SIDE, 0),
        height=_int(obj, "height", 0, MAX_SIDE, 0),
        container_width=_int(obj, "container_width", 0, MAX_SIDE, 0),
        container_height=_int(obj, "container_height", 0, MAX_SIDE, 0),
        decoders=frozenset(d.lower() for d in decoders),
        application=_text(obj, "application", 256, ""),
        user_agent=_text(obj, "user_agent", 1024, ""),
    )


def _bool(obj: dict[str, Any], name: str, default: Any = ...) -> bool:
    value: bool = _field(obj, name, bool, default)
    return value


def _numbers(obj: dict[str, Any], name: str, count: int) -> tuple[float, ...]:
    values = _field(obj, name, list)
    if len(values) != count:
        raise ProtocolError(f"field {name!r} must hold {count} numbers")
    numbers = tuple(_number({"v": v}, "v") for v in values)
    if any(abs(v) > MAX_COORDINATE for v in numbers):
        raise ProtocolError(f"field {name!r} holds an absurdly large number")
    return numbers


def _parse_render(obj: dict[str, Any]) -> RenderRequest:
    return RenderRequest(_enum(obj, "mode", RenderMode), _bool(obj, "webgl2", False), _bool(obj, "software", False),
                         _int(obj, "memory_mb", 0, 1 << 24, 0))


def parse_camera(obj: dict[str, Any]) -> CameraState:
    """A ``camera`` message's fields as a :class:`CameraState`, or :class:`ProtocolError`."""
    position = _numbers(obj, "position", 3)
    x, y, z, w = _numbers(obj, "orientation", 4)
    length = math.sqrt(x * x + y * y + z * z + w * w)
    if not 0.5 < length < 2.0:
        raise ProtocolError("field 'orientation' must be a unit quaternion")
    focal = _number(obj, "focal_distance")
    height = _number(obj, "height")
    if not (0.0 < focal <= MAX_COORDINATE and 0.0 < height <= MAX_COORDINATE):
        raise ProtocolError("fields 'focal_distance' and 'height' must be positive")
    orthographic = _bool(obj, "orthographic", False)
    if not orthographic and height >= math.pi:
        raise ProtocolError("field 'height' of a perspective camera is an angle under pi")
    return CameraState((position[0], position[1], position[2]), (x / length, y / length, z / length, w / length),
                       focal, height, orthographic, _int(obj, "seq", 0, 2**32 - 1, None) if "seq" in obj else None)


def _parse_mouse(obj: dict[str, Any]) -> MouseEvent:
    return MouseEvent(
        action=_enum(obj, "action", MouseAction),
        x=_coord(obj, "x"),
        y=_coord(obj, "y"),
        button=MouseButton(_int(obj, "button", 0, 4, 0)),
        buttons=_int(obj, "buttons", 0, 31, 0),
        modifiers=_modifiers(obj),
    )


def _parse_wheel(obj: dict[str, Any]) -> WheelEvent:
    delta = _number(obj, "delta")
    if abs(delta) > 1000:
        raise ProtocolError("field 'delta' is absurdly large")
    return WheelEvent(x=_coord(obj, "x"), y=_coord(obj, "y"), delta=delta, modifiers=_modifiers(obj))


def _parse_key(obj: dict[str, Any]) -> KeyEvent:
    key = _text(obj, "key", 32)
    if not key:
        raise ProtocolError("field 'key' is empty")
    return KeyEvent(
        action=_enum(obj, "action", KeyAction),
        x=_coord(obj, "x"),
        y=_coord(obj, "y"),
        key=key,
        modifiers=_modifiers(obj),
    )


def _parse_touch(obj: dict[str, Any]) -> TouchEvent:
    return TouchEvent(
        action=_enum(obj, "action", TouchAction),
        touch_id=_int(obj, "id", 0, 2**31 - 1),
        x=_coord(obj, "x"),
        y=_coord(obj, "y"),
    )


_INPUT_PARSERS: dict[str, Callable[[dict[str, Any]], InputEvent]] = {
    "mouse": _parse_mouse, "wheel": _parse_wheel, "key": _parse_key, "touch": _parse_touch}


def parse_client_text(text: str) -> ClientMessage:
    """Parse one text WebSocket message from a client, or raise :class:`ProtocolError`.

    Whatever the text, the only exception is :class:`ProtocolError`: a parse failure is the
    client's fault, never the service's.
    """
    obj = _load_object(text)
    try:
        return _parse_client_object(obj)
    except ProtocolError:
        raise
    except (ValueError, TypeError, OverflowError, ArithmeticError) as error:
        raise ProtocolError(f"malformed {obj.get('type')!s} message: {type(error).__name__}") from None


def _parse_client_object(obj: dict[str, Any]) -> ClientMessage:
    kind = obj.get("type")
    if kind in _INPUT_PARSERS:
        return Input(event=_INPUT_PARSERS[kind](obj), seq=_int(obj, "seq", 0, 2**32 - 1, 0))
    if kind == "ack":
        return Ack(frame_id=_int(obj, "frame", 0, 2**32 - 1), decode_ms=max(0.0, _number(obj, "decode_ms", 0.0)))
    if kind == "hello":
        return _parse_hello(obj)
    if kind == "size":
        return SizeRequest(_int(obj, "width", 1, MAX_SIDE), _int(obj, "height", 1, MAX_SIDE))
    if kind == "container":
        return ContainerResize(_int(obj, "width", 0, MAX_SIDE), _int(obj, "height", 0, MAX_SIDE))
    if kind == "ping":
        return Ping(_number(obj, "t"))
    if kind == "pong":
        return Pong(_number(obj, "t"))
    if kind == "keyframe":
        return KeyFrameRequest()
    if kind == "message":
        return AppMessage(_field(obj, "text", str))
    if kind == "render":
        return _parse_render(obj)
    if kind == "scene_ack":
        return SceneAck(_int(obj, "chunk", 0, 2**32 - 1))
    if kind == "camera":
        return parse_camera(obj)
    raise ProtocolError(f"unknown message type {kind!r}")


def parse_client_binary(data: bytes) -> AppMessage:
    """Parse one binary WebSocket message from a client (only application bytes are allowed)."""
    if not data or data[0] != BINARY_MESSAGE:
        raise ProtocolError("a binary message from a client must start with byte 2 (application message)")
    return AppMessage(bytes(data[1:]))


def _load_object(text: str) -> dict[str, Any]:
    try:
        obj = json.loads(text, object_pairs_hook=_checked_pairs)
    except ProtocolError:
        raise
    except (ValueError, RecursionError):
        raise ProtocolError("a text message must be a JSON object") from None
    if not isinstance(obj, dict):
        raise ProtocolError("a text message must be a JSON object")
    if not isinstance(obj.get("type"), str):
        raise ProtocolError("a text message must have a string field 'type'")
    return obj


def _checked_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose strings are valid Unicode.

    JSON escapes can name a lone surrogate (``"\\ud800"``), which no UTF-8 text can carry: relayed
    to another browser it could not be sent at all. Refused here, at the edge.
    """
    for key, value in pairs:
        if not is_valid_unicode(key):
            raise ProtocolError("a field name is not valid Unicode (lone surrogate)")
        items = value if isinstance(value, list) else (value,)
        if any(isinstance(v, str) and not is_valid_unicode(v) for v in items):
            raise ProtocolError(f"field {key!r} is not valid Unicode (lone surrogate)")
    return dict(pairs)


def is_valid_unicode(text: str) -> bool:
    """True when ``text`` can be encoded as UTF-8 (it holds no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --------------------------------------------------------------------------- serialising


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _event_fields(event: InputEvent) -> dict[str, Any]:
    if isinstance(event, MouseEvent):
        return {"type": "mouse", "action": event.action.value, "x": event.x, "y": event.y,
                "button": int(event.button), "buttons": event.buttons, "mods": int(event.modifiers)}
    if isinstance(event, WheelEvent):
        return {"type": "wheel", "x": event.x, "y": event.y, "delta": event.delta, "mods": int(event.modifiers)}
    if isinstance(event, KeyEvent):
        return {"type": "key", "action": event.action.value, "x": event.x, "y": event.y,
                "key": event.key, "mods": int(event.modifiers)}
    return {"type": "touch", "action": event.action.value, "id": event.touch_id, "x": event.x, "y": event.y}


def serialize(message: ClientMessage | ServiceMessage) -> str | bytes:
    """The text or bytes of one WebSocket message carrying ``message`` (either direction)."""
    match message:
        case Frame():
            return encode_frame(message)
        case AppMessage(data=bytes() as data):
            return bytes([BINARY_MESSAGE]) + data
        case AppMessage(data=str() as text):
            return _dump({"type": "message", "text": text})
        case Input(event=event, seq=seq):
            return _dump({**_event_fields(event), "seq": seq})
        case Hello():
            return _dump({"type": "hello", "version": VERSION, "client_id": message.client_id,
                          "width": message.width, "height": message.height,
                          "container_width": message.container_width,
                          "container_height": message.container_height,
                          "decoders": sorted(message.decoders), "application": message.application,
                          "user_agent": message.user_agent})
        case Ack(frame_id=frame_id, decode_ms=decode_ms):
            return _dump({"type": "ack", "frame": frame_id, "decode_ms": decode_ms})
        case SizeRequest(width=w, height=h):
            return _dump({"type": "size", "width": w, "height": h})
        case ContainerResize(width=w, height=h):
            return _dump({"type": "container", "width": w, "height": h})
        case Ping(t=t, pad=0):
            return _dump({"type": "ping", "t": t})
        case Ping(t=t, pad=pad):
            return _dump({"type": "ping", "t": t, "pad": "x" * pad})
        case Pong(t=t):
            return _dump({"type": "pong", "t": t})
        case KeyFrameRequest():
            return _dump({"type": "keyframe"})
        case Accept():
            return _dump({"type": "accept", "version": VERSION, "connection_id": message.connection_id,
                          "client_id": message.client_id, "render_area_id": message.render_area_id,
                          "width": message.width, "height": message.height,
                          "still_encoder": message.still_encoder,
                          "interactive_encoder": message.interactive_encoder})
        case Disconnect(reason=reason, detail=detail):
            return _dump({"type": "disconnect", "reason": reason.value, "detail": detail})
        case Error(detail=detail):
            return _dump({"type": "error", "detail": detail})
        case Failure(stage=stage, detail=detail, retry_ms=retry_ms):
            return _dump({"type": "failure", "stage": stage, "detail": detail, "retry_ms": retry_ms})
        case Notify(event=event, data=data):
            return _dump({**data, "type": "notify", "event": event})
        case Resize(width=w, height=h):
            return _dump({"type": "resize", "width": w, "height": h})
        case StreamConfig():
            return _dump({"type": "stream", "codec": message.codec.name.lower(),
                          "codec_string": message.codec_string, "width": message.width,
                          "height": message.height})
        case RenderRequest():
            return _dump({"type": "render", "mode": message.mode.value, "webgl2": message.webgl2,
                          "software": message.software, "memory_mb": message.memory_mb})
        case RenderDecision(mode=mode, reason=reason):
            return _dump({"type": "render", "mode": mode.value, "reason": reason})
        case SceneAck(chunk=chunk):
            return _dump({"type": "scene_ack", "chunk": chunk})
        case CameraState():
            seen = {} if message.seq is None else {"seq": message.seq}
            return _dump({"type": "camera", "position": list(message.position),
                          "orientation": list(message.orientation), "focal_distance": message.focal_distance,
                          "height": message.height, "orthographic": message.orthographic, **seen})
        case SceneUpdate():
            return _dump({**message.extra, "type": "scene", "seq": message.seq, "full": message.full,
                          "records": message.records, "removed": message.removed, "buffers": message.buffers})
        case SceneChunk():
            return encode_scene_chunk(message)
    raise TypeError(f"not a protocol message: {message!r}")


def encode_frame_header(
    frame_id: int,
    codec: Codec,
    flags: FrameFlags,
    width: int,
    height: int,
    area_width: int,
    area_height: int,
    input_seq: int,
    text: bytes,
) -> bytes:
    """The header and text of a frame message; the payload follows them on the wire."""
    return _FRAME_HEADER.pack(BINARY_FRAME, codec, flags, 0, frame_id, width, height, area_width,
                              area_height, input_seq, len(text)) + text


def encode_frame(frame: Frame) -> bytes:
    """The whole binary message for ``frame``."""
    header = encode_frame_header(frame.frame_id, frame.codec, frame.flags, frame.width, frame.height,
                                 frame.area_width, frame.area_height, frame.input_seq,
                                 frame.text.encode())
    return header + bytes(frame.payload)


def encode_scene_chunk(chunk: SceneChunk) -> bytes:
    """The whole binary message for a scene chunk."""
    return _SCENE_CHUNK_HEADER.pack(BINARY_SCENE_CHUNK, 0, 0, 0, chunk.chunk, chunk.offset, chunk.total,
                                    bytes.fromhex(chunk.buffer)) + bytes(chunk.payload)


# --------------------------------------------------------------------------- the client's side


def parse_service_text(text: str) -> ServiceMessage:
    """Parse one text message from the service (used by :mod:`remoteviz.client`)."""
    obj = _load_object(text)
    kind = obj["type"]
    if kind == "accept":
        return Accept(
            connection_id=_field(obj, "connection_id", str), client_id=_field(obj, "client_id", str),
            render_area_id=_field(obj, "render_area_id", str), width=_int(obj, "width", 0, MAX_SIDE),
            height=_int(obj, "height", 0, MAX_SIDE), still_encoder=_field(obj, "still_encoder", str),
            interactive_encoder=_field(obj, "interactive_encoder", str))
    if kind == "disconnect":
        return Disconnect(_enum(obj, "reason", DisconnectReason), _field(obj, "detail", str, ""))
    if kind == "error":
        return Error(_field(obj, "detail", str))
    if kind == "failure":
        return Failure(_field(obj, "stage", str), _field(obj, "detail", str), _int(obj, "retry_ms", 0, 2**31 - 1))
    if kind == "notify":
        data = {k: v for k, v in obj.items() if k not in ("type", "event")}
        return Notify(_field(obj, "event", str), data)
    if kind == "resize":
        return Resize(_int(obj, "width", 0, MAX_SIDE), _int(obj, "height", 0, MAX_SIDE))
    if kind == "stream":
        codec = _field(obj, "codec", str).upper()
        if codec not in Codec.__members__:
            raise ProtocolError(f"unknown codec {codec!r}")
        return StreamConfig(Codec[codec], _field(obj, "codec_string", str),
                            _int(obj, "width", 0, MAX_SIDE), _int(obj, "height", 0, MAX_SIDE))
    if kind == "message":
        return AppMessage(_field(obj, "text", str))
    if kind == "ping":
        return Ping(_number(obj, "t"))
    if kind == "pong":
        return Pong(_number(obj, "t"))
    if kind == "render":
        return RenderDecision(_enum(obj, "mode", RenderMode), _field(obj, "reason", str, ""))
    if kind == "camera":
        return parse_camera(obj)
    if kind == "scene":
        buffers = _field(obj, "buffers", dict)
        extra = {k: v for k, v in obj.items() if k not in ("type", "seq", "full", "records", "removed", "buffers")}
        return SceneUpdate(_int(obj, "seq", 0, 2**32 - 1), _bool(obj, "full"), _field(obj, "records", list),
                           _field(obj, "removed", list), buffers, extra)
    raise ProtocolError(f"unknown message type {kind!r}")


def parse_service_binary(data: bytes) -> Frame | AppMessage | SceneChunk:
    """Parse one binary message from the service: a frame or application bytes."""
    if not data:
        raise ProtocolError("empty binary message")
    if data[0] == BINARY_MESSAGE:
        return AppMessage(bytes(data[1:]))
    if data[0] == BINARY_SCENE_CHUNK:
        if len(data) < SCENE_CHUNK_HEADER_SIZE:
            raise ProtocolError("scene chunk shorter than its header")
        _, _, _, _, chunk, offset, total, digest = _SCENE_CHUNK_HEADER.unpack_from(data)
        payload = memoryview(data)[SCENE_CHUNK_HEADER_SIZE:]
        if offset + len(payload) > total:
            raise ProtocolError("scene chunk runs past its buffer's end")
        return SceneChunk(chunk, digest.hex(), offset, total, payload)
    if data[0] != BINARY_FRAME or len(data) < FRAME_HEADER_SIZE:
        raise ProtocolError("binary message is neither a frame nor an application message")
    (_, codec, flags, _, frame_id, width, height, area_width, area_height, input_seq,
     text_len) = _FRAME_HEADER.unpack_from(data)
    end = FRAME_HEADER_SIZE + text_len
    if end > len(data):
        raise ProtocolError("frame text runs past the end of the message")
    try:
        codec = Codec(codec)
    except ValueError:
        raise ProtocolError(f"unknown codec id {codec}") from None
    view = memoryview(data)
    return Frame(frame_id, codec, FrameFlags(flags), width, height, area_width, area_height,
                 input_seq, bytes(view[FRAME_HEADER_SIZE:end]).decode("utf-8", "replace"), view[end:])
