"""The client-side rendering additions to protocol version 1: round trips, the chunk header's
layout, and the parser's strictness about them."""

from __future__ import annotations

import json

import pytest

from remoteviz import protocol
from remoteviz.protocol import (
    CameraState,
    ProtocolError,
    RenderDecision,
    RenderMode,
    RenderRequest,
    SceneAck,
    SceneChunk,
    SceneUpdate,
)

CAMERA = CameraState((1.0, 2.0, 3.0), (0.0, 0.0, 0.0, 1.0), 4.5, 0.785, False)


@pytest.mark.parametrize("message", [RenderRequest(RenderMode.AUTO, True, True, 4096), SceneAck(7), CAMERA],
                         ids=lambda m: type(m).__name__)
def test_client_messages_round_trip(message) -> None:
    assert protocol.parse_client_text(protocol.serialize(message)) == message


@pytest.mark.parametrize("message", [
    RenderDecision(RenderMode.CLIENT, "the application allows it"),
    SceneUpdate(3, False, [{"id": "n1", "kind": "mesh"}], ["n2"], {"ab" * 16: 100}, {"camera": {"height": 1.0}}),
    CAMERA,
], ids=lambda m: type(m).__name__)
def test_service_messages_round_trip(message) -> None:
    assert protocol.parse_service_text(protocol.serialize(message)) == message


def test_the_scene_chunk_header_layout_matches_the_specification() -> None:
    digest = bytes(range(16)).hex()
    data = protocol.serialize(SceneChunk(0x01020304, digest, 5, 9, b"PAY"))
    assert isinstance(data, bytes) and protocol.SCENE_CHUNK_HEADER_SIZE == 32
    assert data[0] == 3 and data[1:4] == b"\0\0\0"
    assert data[4:8] == (0x01020304).to_bytes(4, "little")
    assert int.from_bytes(data[8:12], "little") == 5
    assert int.from_bytes(data[12:16], "little") == 9
    assert data[16:32] == bytes(range(16))
    assert data[32:] == b"PAY"
    parsed = protocol.parse_service_binary(data)
    assert isinstance(parsed, SceneChunk) and parsed.buffer == digest and bytes(parsed.payload) == b"PAY"


def test_a_chunk_past_its_buffer_or_short_of_its_header_is_refused() -> None:
    data = protocol.serialize(SceneChunk(1, "00" * 16, 8, 9, b"PAY"))
    with pytest.raises(ProtocolError, match="past"):
        protocol.parse_service_binary(data)
    with pytest.raises(ProtocolError, match="header"):
        protocol.parse_service_binary(bytes([3, 0, 0]))


def test_a_client_cannot_send_scene_chunks() -> None:
    with pytest.raises(ProtocolError):
        protocol.parse_client_binary(protocol.serialize(SceneChunk(1, "00" * 16, 0, 3, b"PAY")))


@pytest.mark.parametrize("fields, error", [
    ({"mode": "gpu"}, "not one of"),
    ({"mode": "client", "webgl2": 1}, "bool"),
    ({"mode": "client", "memory_mb": -1}, "outside"),
])
def test_render_requests_are_checked(fields, error) -> None:
    with pytest.raises(ProtocolError, match=error):
        protocol.parse_client_text(json.dumps({"type": "render", **fields}))


@pytest.mark.parametrize("fields, error", [
    ({"position": [0, 0]}, "3 numbers"),
    ({"position": [0, 0, "x"]}, "int or float"),
    ({"position": [0, 0, 1e300]}, "absurdly"),
    ({"orientation": [0, 0, 0, 0]}, "unit quaternion"),
    ({"focal_distance": 0}, "positive"),
    ({"height": -1}, "positive"),
    ({"height": 3.5}, "under pi"),
    ({"position": [0, 0, float("nan")]}, "finite"),
    ({"seq": -1}, "outside"),
    ({"seq": 1.5}, "integer"),
])
def test_camera_messages_are_checked(fields, error) -> None:
    good = {"type": "camera", "position": [0, 0, 5], "orientation": [0, 0, 0, 1], "focal_distance": 5, "height": 0.7}
    with pytest.raises(ProtocolError, match=error):
        protocol.parse_client_text(json.dumps({**good, **fields}))


def test_a_camera_keeps_its_seq_and_an_orthographic_height_may_exceed_pi() -> None:
    fields = {"type": "camera", "position": [0, 0, 5], "orientation": [0, 0, 0, 1], "focal_distance": 5, "height": 40,
              "orthographic": True, "seq": 12}
    message = protocol.parse_client_text(json.dumps(fields))
    assert isinstance(message, CameraState) and message.seq == 12 and message.height == 40
    assert json.loads(protocol.serialize(message)) == {**fields, "orientation": [0.0, 0.0, 0.0, 1.0]}


def test_a_camera_orientation_is_normalised() -> None:
    message = protocol.parse_client_text(json.dumps(
        {"type": "camera", "position": [0, 0, 5], "orientation": [0, 0, 0, 1.2], "focal_distance": 5, "height": 0.7}))
    assert isinstance(message, CameraState) and message.orientation == (0.0, 0.0, 0.0, 1.0)
