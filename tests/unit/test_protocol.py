"""The wire protocol module alone: no sockets, no threads."""

import json

import pytest

from remoteviz import protocol
from remoteviz.events import (
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
from remoteviz.protocol import (
    Accept,
    Ack,
    AppMessage,
    Codec,
    ContainerResize,
    Disconnect,
    DisconnectReason,
    Error,
    Failure,
    Frame,
    FrameFlags,
    Hello,
    Input,
    KeyFrameRequest,
    Notify,
    Ping,
    Pong,
    ProtocolError,
    Resize,
    SizeRequest,
    StreamConfig,
)

CLIENT_MESSAGES = [
    Hello("page", 640, 480, 800, 600, frozenset({"jpeg", "png", "h264"}), "app", "agent"),
    Input(MouseEvent(MouseAction.DOWN, 1, 2, MouseButton.RIGHT, 2, Modifiers.CTRL | Modifiers.SHIFT), 7),
    Input(MouseEvent(MouseAction.DOUBLE_CLICK, -3, 9000), 8),
    Input(WheelEvent(5, 6, -2.5, Modifiers.ALT), 9),
    Input(KeyEvent(KeyAction.UP, 0, 0, "ArrowLeft", Modifiers.META), 10),
    Input(TouchEvent(TouchAction.CANCEL, 12345, 3, 4), 11),
    Ack(42, 3.5),
    SizeRequest(1920, 1080),
    ContainerResize(0, 0),
    Ping(1.5),
    Pong(2.5),
    KeyFrameRequest(),
    AppMessage("text ✓"),
    AppMessage(b"\x00\x01\xff"),
]


@pytest.mark.parametrize("message", CLIENT_MESSAGES, ids=lambda m: type(m).__name__)
def test_every_client_message_round_trips(message) -> None:
    data = protocol.serialize(message)
    parsed = protocol.parse_client_text(data) if isinstance(data, str) else protocol.parse_client_binary(data)
    assert parsed == message


SERVICE_MESSAGES = [
    Accept("c1", "p1", "TheCone", 640, 480, "png", "jpeg"),
    Disconnect(DisconnectReason.KICKED, "bye"),
    Error("bad"),
    Failure("encode", "RuntimeError: broke", 400),
    Notify("finishedNetworkCalibration", {"bandwidth": 1e6, "latency_ms": 3.0}),
    Resize(10, 20),
    StreamConfig(Codec.H264, "avc1.42E01F", 1280, 720),
    AppMessage("hi"),
    AppMessage(b"\x02\x03"),
    Ping(0.25),
]


@pytest.mark.parametrize("message", SERVICE_MESSAGES, ids=lambda m: type(m).__name__)
def test_every_service_message_round_trips(message) -> None:
    data = protocol.serialize(message)
    parsed = protocol.parse_service_text(data) if isinstance(data, str) else protocol.parse_service_binary(data)
    assert parsed == message


def test_frame_header_layout_matches_the_specification() -> None:
    frame = Frame(0x01020304, Codec.VP9, FrameFlags.KEY | FrameFlags.STILL, 1280, 720, 1920, 1080, 77, "t✓", b"PAY")
    data = protocol.serialize(frame)
    assert protocol.FRAME_HEADER_SIZE == 24
    assert data[0] == 1 and data[1] == 4 and data[2] == 3 and data[3] == 0
    assert data[4:8] == (0x01020304).to_bytes(4, "little")
    assert int.from_bytes(data[8:10], "little") == 1280
    assert int.from_bytes(data[10:12], "little") == 720
    assert int.from_bytes(data[12:14], "little") == 1920
    assert int.from_bytes(data[14:16], "little") == 1080
    assert int.from_bytes(data[16:20], "little") == 77
    text = "t✓".encode()
    assert int.from_bytes(data[20:24], "little") == len(text)
    assert data[24:24 + len(text)] == text and data[24 + len(text):] == b"PAY"
    parsed = protocol.parse_service_binary(data)
    assert (parsed.frame_id, parsed.codec, parsed.is_key, parsed.is_still, parsed.text, bytes(parsed.payload)) == (
        0x01020304, Codec.VP9, True, True, "t✓", b"PAY")


@pytest.mark.parametrize("text, fragment", [
    ("", "JSON object"),
    ("null", "JSON object"),
    ('"hello"', "JSON object"),
    ('{"no_type": 1}', "string field 'type'"),
    ('{"type": 5}', "string field 'type'"),
    ('{"type": "mouse", "x": 1, "y": 1}', "lacks field 'action'"),
    ('{"type": "mouse", "action": "down", "x": true, "y": 1}', "not a boolean"),
    ('{"type": "mouse", "action": "down", "x": 1, "y": 1, "button": 9}', "'button' = 9"),
    ('{"type": "mouse", "action": "down", "x": 1, "y": 1, "mods": 99}', "'mods'"),
    ('{"type": "key", "action": "down", "x": 1, "y": 1, "key": ""}', "'key' is empty"),
    ('{"type": "key", "action": "down", "x": 1, "y": 1, "key": "' + "k" * 40 + '"}', "longer than 32"),
    ('{"type": "touch", "action": "start", "id": -1, "x": 1, "y": 1}', "'id'"),
    ('{"type": "wheel", "x": 1, "y": 1, "delta": 1e9}', "absurdly large"),
    ('{"type": "ack", "frame": 1.5}', "must be an integer"),
    ('{"type": "size", "width": 0, "height": 10}', "outside [1, 8192]"),
    ('{"type": "message"}', "lacks field 'text'"),
    ('{"type": "hello", "version": 2}', "version 2 is not supported"),
    ('{"type": "hello", "version": 1, "decoders": "jpeg"}', "'decoders'"),
    ('{"type": "hello", "version": 1, "client_id": "' + "x" * 200 + '"}', "longer than 128"),
    ("[" * 100000 + "]" * 100000, "JSON object"),
    ('{"type": "ping", "t": 1' + "0" * 400 + '}', "must be finite"),
    ('{"type": "mouse", "action": "move", "x": -1' + "0" * 400 + ', "y": 1}', "must be finite"),
    ('{"type": "message", "text": "\\ud800"}', "not valid Unicode"),
    ('{"type": "hello", "version": 1, "decoders": ["\\udc00"]}', "not valid Unicode"),
    ('{"type": "ping", "t": 1, "\\ud800": 1}', "not valid Unicode"),
])
def test_malformed_client_text_is_a_clear_protocol_error(text: str, fragment: str) -> None:
    with pytest.raises(ProtocolError) as error:
        protocol.parse_client_text(text)
    assert fragment in str(error.value)


def test_binary_from_a_client_must_be_an_application_message() -> None:
    with pytest.raises(ProtocolError):
        protocol.parse_client_binary(b"")
    with pytest.raises(ProtocolError):
        protocol.parse_client_binary(b"\x01frame-from-client")
    assert protocol.parse_client_binary(b"\x02") == AppMessage(b"")


def test_truncated_frames_are_rejected_by_the_client_parser() -> None:
    data = protocol.serialize(Frame(1, Codec.JPEG, FrameFlags.KEY, 1, 1, 1, 1, 0, "abc", b""))
    with pytest.raises(ProtocolError):
        protocol.parse_service_binary(data[:10])
    with pytest.raises(ProtocolError):
        protocol.parse_service_binary(data[:25])  # text runs past the end
    bad_codec = bytearray(data)
    bad_codec[1] = 99
    with pytest.raises(ProtocolError):
        protocol.parse_service_binary(bytes(bad_codec))


def test_input_fields_on_the_wire_use_the_documented_names() -> None:
    wire = json.loads(protocol.serialize(Input(MouseEvent(MouseAction.MOVE, 3, 4, buttons=1), 5)))
    assert wire == {"type": "mouse", "action": "move", "x": 3, "y": 4, "button": 0, "buttons": 1, "mods": 0,
                    "seq": 5}
    assert protocol.parse_client_text('{"type":"mouse","action":"move","x":3.6,"y":4.4}').event.x == 4
