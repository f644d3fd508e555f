"""Malformed, oversized and flooding clients are closed alone; everyone else goes on."""

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

import remoteviz as rv
from remoteviz import client, protocol

from .harness import async_wait_until, running_service

HELLO = json.dumps({"type": "hello", "version": 1, "client_id": "", "width": 32, "height": 24,
                    "decoders": ["jpeg", "png"]})


class Echo(rv.ServiceListener):
    def __init__(self, stall: float = 0.0) -> None:
        self.stall = stall

    def on_instantiated_render_area(self, render_area):
        stall = self.stall

        class Reply(rv.RenderAreaListener):
            def on_received_message(self, render_area, connection, message):
                if message == "stall":
                    time.sleep(stall)
                connection.send_message(f"echo {message}")

        render_area.add_listener(Reply())


async def _closed_with(url: str, *messages: str | bytes, hello: bool = True) -> tuple[int, str]:
    """Send ``messages`` raw after the hello; return the close code and the error detail sent."""
    async with ws_connect(url, compression=None) as ws:
        try:
            for message in ([HELLO] if hello else []) + list(messages):
                await ws.send(message)
        except ConnectionClosed:
            pass  # the service may close before reading everything; what it said is read below
        detail = ""
        try:
            async for data in ws:
                if isinstance(data, str):
                    parsed = json.loads(data)
                    if parsed["type"] == "error":
                        detail = parsed["detail"]
        except Exception:
            pass
        return ws.close_code, detail


BAD = {
    "not json": ("{nope", 4400, "JSON object"),
    "json array": ("[1, 2]", 4400, "JSON object"),
    "unknown type": ('{"type": "teleport"}', 4400, "unknown message type 'teleport'"),
    "bad field": ('{"type": "mouse", "action": "down", "x": "left", "y": 1}', 4400, "field 'x'"),
    "bad action": ('{"type": "mouse", "action": "explode", "x": 1, "y": 1}', 4400, "'action'"),
    "ack never sent": ('{"type": "ack", "frame": 999}', 4400, "frame 999, which is not in flight"),
    "absurd size": ('{"type": "size", "width": 100000, "height": 10}', 4400, "outside [1, 8192]"),
    "absurd coordinate": ('{"type": "wheel", "x": 1e12, "y": 0, "delta": 1}', 4400, "absurdly"),
    "NaN": ('{"type": "wheel", "x": NaN, "y": 0, "delta": 1}', 4400, "finite"),
    "bad binary kind": (b"\x07abc", 4400, "byte 2"),
    "hello twice": (HELLO, 4400, "hello was already received"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_message_closes_only_the_offender(case: str) -> None:
    message, code, detail = BAD[case]

    async def scenario(runner):
        async with client.connect(runner.url("Shared")) as good:
            closed = await _closed_with(runner.url("Shared"), message)
            await async_wait_until(lambda: runner.service.num_clients == 1)
            await good.send_message("ping")
            return closed, await good.next_message()

    with running_service(Echo()) as runner:
        (close_code, error), answer = asyncio.run(scenario(runner))
    assert close_code == code
    assert detail in error
    assert answer == "echo ping"


def test_oversized_message_is_refused_by_size() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Big")) as good:
            closed = await _closed_with(runner.url("Big"), json.dumps({"type": "message", "text": "x" * 5000}))
            await good.send_message("ok?")
            return closed, await good.next_message()

    with running_service(Echo(), max_message_size=4096) as runner:
        (close_code, _), answer = asyncio.run(scenario(runner))
    assert close_code == 1009  # the WebSocket layer's "message too big"
    assert answer == "echo ok?"


@pytest.mark.parametrize("first", [b"\x02binary", '{"type": "ping", "t": 1}'])
def test_first_message_must_be_hello(first) -> None:
    with running_service(Echo()) as runner:
        code, detail = asyncio.run(_closed_with(runner.url("A"), first, hello=False))
    assert code == 4400 and "first message must be hello" in detail


def test_no_hello_in_time_is_closed() -> None:
    with running_service(Echo(), hello_timeout=0.2) as runner:
        code, detail = asyncio.run(_closed_with(runner.url("A"), hello=False))
    assert code == 4400 and "no hello within" in detail


def test_url_without_render_area_is_refused() -> None:
    async def scenario(port: int):
        return await _closed_with(f"ws://127.0.0.1:{port}/")

    with running_service(Echo()) as runner:
        code, detail = asyncio.run(scenario(runner.service.port))
    assert code == 4400 and "must name a render area" in detail


def test_a_flood_closes_the_flooder_and_nothing_grows() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Calm")) as good, client.connect(runner.url("Flood")) as bad:
            await bad.send_message("stall")  # dispatch is now busy for a while
            keys = [protocol.serialize(protocol.Input(rv.KeyEvent(rv.KeyAction.DOWN, 0, 0, "a"), i))
                    for i in range(400)]
            try:
                for key in keys:
                    await bad.send_raw(key)
            except Exception:
                pass
            await bad.wait_closed(timeout=10)
            await good.send_message("still fine")
            answers = [await good.next_message() for _ in range(1)]
            return bad.close_code, bad.error, answers

    with running_service(Echo(stall=0.5), max_pending_events=32, max_message_rate=20) as runner:
        code, error, answers = asyncio.run(scenario(runner))
        assert len(runner.service._inbox) < 64
    assert code == 4429
    assert "too many messages" in error
    assert answers == ["echo still fine"]


def test_mouse_moves_beyond_the_budget_are_dropped_not_fatal() -> None:
    moves = []

    class Moves(rv.ServiceListener):
        def on_instantiated_render_area(self, render_area):
            class Count(rv.RenderAreaListener):
                def on_mouse_move(self, render_area, connection, x, y):
                    moves.append(x)
                    return True

                def on_received_message(self, render_area, connection, message):
                    time.sleep(0.3)
                    connection.send_message("done")

            render_area.add_listener(Count())

    async def scenario(runner):
        async with client.connect(runner.url("Moves")) as view:
            await view.send_message("stall")
            for i in range(300):
                await view.mouse(rv.MouseAction.MOVE, i, 0)
            assert await view.next_message() == "done"
            await view.send_message("stall")
            assert await view.next_message() == "done"
            return view.is_closed

    with running_service(Moves(), max_pending_events=16) as runner:
        closed = asyncio.run(scenario(runner))
    assert not closed
    assert 0 < len(moves) < 300


def burst_in(document: str, pattern: str) -> set[float]:
    """The flood bursts, in seconds, that a document gives (``pattern`` captures the number)."""
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / document).read_text()
    return {float(n) for n in re.findall(pattern, text)}


def test_issue_19_the_flood_burst_the_docs_give_is_the_one_the_code_applies() -> None:
    from remoteviz.transport import MESSAGE_BURST

    # One truth: every page that gives the burst gives the code's constant (docs/security.md said 5 s).
    for document in ("docs/protocol.md", "docs/security.md", "docs/architecture.md", "docs/deployment.md"):
        assert burst_in(document, r"(\d+(?:\.\d+)?)-second\s+burst") == {MESSAGE_BURST}, document
    assert burst_in("docs/guide.md", r"longer than (\d+(?:\.\d+)?) s is a flood") == {MESSAGE_BURST}

    # And the code applies it: at 100 messages per second, a burst of fewer than MESSAGE_BURST
    # seconds' worth at once is taken; one of far more is a flood.
    rate = 100
    keys = [protocol.serialize(protocol.Input(rv.KeyEvent(rv.KeyAction.DOWN, 0, 0, "a"), i))
            for i in range(int(3 * MESSAGE_BURST * rate))]

    async def scenario(runner):
        async with client.connect(runner.url("Within")) as within, client.connect(runner.url("Beyond")) as beyond:
            for key in keys[:int(0.8 * MESSAGE_BURST * rate)]:
                await within.send_raw(key)
            try:
                for key in keys:
                    await beyond.send_raw(key)
            except Exception:
                pass  # closed under it
            await beyond.wait_closed(timeout=10)
            await within.send_message("still here?")
            return await within.next_message(), within.is_closed, beyond.close_code

    with running_service(Echo(), max_message_rate=rate) as runner:
        answer, within_closed, code = asyncio.run(scenario(runner))
    assert answer == "echo still here?" and not within_closed
    assert code == 4429
