"""A notebook view's relayed connection, the path of a page that cannot reach the kernel's port:
the whole protocol (handshake, calibration, frames, acks, input, messages) carried as the widget's
custom messages, with at most ``RELAY_WINDOW`` messages ahead of the page's acknowledgements.

The page's side of the widget channel is played here through the ``comm`` package's own hook for
kernels (``comm.create_comm``): what the widget publishes is what the page would receive, and what
the test hands to ``comm.handle_msg`` is what the page would send. The real page does the same in
JupyterLab (``tests/browser/test_notebook.py``). The Python client talks to the relay through a
loopback WebSocket that stands for the page's RelaySocket.
"""

from __future__ import annotations

import asyncio
from typing import Any

import comm
import numpy as np
import pytest
from websockets.asyncio.server import ServerConnection, serve

import remoteviz as rv
from remoteviz import client, notebook


class PageComm(comm.DummyComm):
    """The page's end of the widget's comm: the widget's custom messages go into ``received``."""

    received: asyncio.Queue[tuple[dict[str, Any], list[bytes]]]

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None,
                    **keys: Any) -> None:
        if msg_type == "comm_msg" and isinstance(data, dict) and data.get("method") == "custom":
            self.received.put_nowait((data["content"], [bytes(b) for b in buffers or []]))

    def page_sends(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        self.handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": buffers or []})


class Echo(rv.ServiceListener):
    """Each render area answers a message ``burst N`` with N messages ``0`` ... ``N-1``."""

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        render_area.add_listener(Burst())


class Burst(rv.RenderAreaListener):
    def on_received_message(self, render_area: rv.RenderArea, connection: rv.Connection,
                            message: str | bytes) -> None:
        for index in range(int(str(message).split()[1])):
            connection.send_message(str(index))


class RelayedPage:
    """A page's RelaySocket for one relayed connection, as a loopback WebSocket server: whatever
    connects to it talks to the kernel's service through the widget's relay."""

    def __init__(self, page: PageComm) -> None:
        self.page = page
        self.acking = asyncio.Event()
        self.acking.set()
        self.relayed = 0  # relay-message's the kernel has sent
        self.unacknowledged = 0

    async def handle(self, ws: ServerConnection) -> None:
        self.page.page_sends({"type": "relay-open", "channel": "page", "id": 1})
        content, _ = await self.page.received.get()
        assert content["type"] == "relay-opened", content

        async def to_kernel() -> None:
            async for message in ws:
                if isinstance(message, str):
                    self.page.page_sends({"type": "relay-send", "channel": "page", "id": 1, "text": message})
                else:
                    self.page.page_sends({"type": "relay-send", "channel": "page", "id": 1}, [message])
            self.page.page_sends({"type": "relay-close", "channel": "page", "id": 1, "code": 1000})

        sending = asyncio.ensure_future(to_kernel())
        try:
            while True:
                content, buffers = await self.page.received.get()
                if content["type"] == "relay-closed":
                    await ws.close(content["code"] if content["code"] >= 3000 else 1000, content["reason"])
                    return
                assert content["type"] == "relay-message", content
                self.relayed += 1
                self.unacknowledged += 1
                await ws.send(content["text"] if "text" in content else buffers[0])
                await self.acking.wait()
                self.page.page_sends({"type": "relay-ack", "channel": "page", "id": 1, "count": self.unacknowledged})
                self.unacknowledged = 0
        finally:
            sending.cancel()


@pytest.mark.timeout(240)  # generous: a loaded machine takes long over the first frame
def test_a_relayed_view_streams_takes_input_and_keeps_the_kernel_within_its_window(monkeypatch) -> None:
    monkeypatch.setattr(comm, "create_comm", PageComm)

    async def scenario() -> None:
        service = rv.Service()
        service.add_listener(Echo())
        notebook.start(service=service)
        widget = notebook.view("Relayed", 96, 64, service=service)
        page = widget.comm
        assert isinstance(page, PageComm)
        page.received = asyncio.Queue()
        relayed = RelayedPage(page)
        try:
            async with serve(relayed.handle, "127.0.0.1", 0, compression=None) as bridge:
                port = bridge.sockets[0].getsockname()[1]
                async with client.connect(f"ws://127.0.0.1:{port}/Relayed", width=96, height=64) as view:
                    assert view.accept.render_area_id == "Relayed"
                    frame = await view.next_frame(timeout=90)
                    assert frame.image is not None and frame.image.shape == (64, 96, 3)
                    assert np.ptp(frame.image) >= 0  # decoded pixels came through the relay
                    # The page stops taking messages: the kernel sends at most a window more.
                    relayed.acking.clear()
                    before = relayed.relayed
                    await view.send_message("burst 60")
                    await asyncio.sleep(1.5)
                    ahead = relayed.relayed - before
                    assert 1 <= ahead <= notebook.RELAY_WINDOW, ahead
                    relayed.acking.set()
                    got = [await view.next_message(timeout=60) for _ in range(60)]
                    assert [int(m) for m in got] == list(range(60)), "every message, in order, once the page took them"
        finally:
            service.stop()
            await asyncio.sleep(0.1)
            service.close()

    asyncio.run(scenario())


def test_a_relay_the_page_floods_is_closed_with_a_reason(monkeypatch) -> None:
    monkeypatch.setattr(comm, "create_comm", PageComm)

    async def scenario() -> None:
        service = rv.Service()
        notebook.start(service=service)
        widget = notebook.view("Flooded", 32, 32, service=service)
        page = widget.comm
        assert isinstance(page, PageComm)
        page.received = asyncio.Queue()
        try:
            page.page_sends({"type": "relay-open", "channel": "page", "id": 7})
            # Far more than the relay holds, before the kernel's loop has had a turn to pass any on.
            for _ in range(notebook.RELAY_INPUT_LIMIT + 10):
                page.page_sends({"type": "relay-send", "channel": "page", "id": 7, "text": "{}"})
            page.page_sends({"type": "nonsense"})  # malformed and unknown messages are ignored
            page.page_sends({"type": "relay-ack", "channel": "page", "id": "x"})
            kinds = []
            while not kinds or kinds[-1]["type"] != "relay-closed":
                content, _ = await asyncio.wait_for(page.received.get(), 20)
                kinds.append(content)
            assert kinds[-1]["id"] == 7 and "faster than the service" in kinds[-1]["reason"], kinds[-1]
        finally:
            service.stop()
            await asyncio.sleep(0.1)
            service.close()

    asyncio.run(scenario())
