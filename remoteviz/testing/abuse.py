"""Attackers and a bystander, for the fault tests and ``benchmarks/abuse.py``.

Each attack is a coroutine against a service's URL: fuzzing the protocol over as many
connections as the service closes, flooding one connection with mouse moves, churning
connections, downloading a large file. :class:`Bystander` counts the frames a well-behaved
viewer keeps receiving meanwhile. Like :mod:`remoteviz.throttle`, a tool, not part of the service.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Awaitable
from typing import TypeVar

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from .. import client
from .fuzz import ProtocolFuzzer

T = TypeVar("T")

MOVE = json.dumps({"type": "mouse", "action": "move", "x": 1, "y": 1})
HELLO = json.dumps({"type": "hello", "version": 1, "decoders": ["jpeg", "png"]})


class Bystander:
    """Counts the frames one viewer (a :class:`remoteviz.client.RemoteView`) receives."""

    def __init__(self, view: client.RemoteView) -> None:
        self.view = view
        self.frames = 0
        self._task = asyncio.create_task(self._count())

    async def _count(self) -> None:
        try:
            while True:
                await self.view.next_frame(timeout=60)
                self.frames += 1
        except client.ServiceClosed:
            pass  # the view closed: counting ends

    async def frames_during(self, work: Awaitable[T]) -> tuple[int, float, T]:
        """Frames received while ``work`` ran, the seconds it took, and its result."""
        started, before = time.monotonic(), self.frames
        result = await work
        return self.frames - before, time.monotonic() - started, result

    async def fps_for(self, seconds: float) -> float:
        """Frames per second over the next ``seconds``."""
        frames, elapsed, _ = await self.frames_during(asyncio.sleep(seconds))
        return frames / elapsed

    def stop(self) -> None:
        """Stop counting."""
        self._task.cancel()


async def fuzz(url: str, messages: int, seed: int, per_connection: int = 25) -> tuple[int, int, dict[int, int]]:
    """Send ``messages`` fuzzed messages, ``per_connection`` at a time after a hello.

    Returns the messages sent, the connections opened and the close codes seen (how many of each).
    """
    fuzzer = ProtocolFuzzer(seed, valid_ratio=0.85)
    sent = connections = 0
    codes: dict[int, int] = {}
    while sent < messages:
        code = None
        try:
            async with ws_connect(url, compression=None, max_size=None, open_timeout=10) as ws:
                connections += 1
                await ws.send(fuzzer.hello())
                for _ in range(per_connection):
                    await ws.send(fuzzer.message())
                    sent += 1
                await ws.close()
            code = ws.close_code
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else 1006
        except (InvalidHandshake, OSError, TimeoutError):
            await asyncio.sleep(0.05)  # refused at accept: a per-address limit at work
        if code is not None:
            codes[code] = codes.get(code, 0) + 1
    return sent, connections, codes


async def flood(url: str, moves: int) -> int:
    """Say hello, then send ``moves`` mouse moves as fast as possible; the close code received."""
    async with ws_connect(url, compression=None, max_queue=None) as ws:
        await ws.send(HELLO)
        try:
            for i in range(moves):
                await ws.send(MOVE)
                if i % 256 == 0:
                    # It reads what came meanwhile (a send into a socket with room never yields), so
                    # that it sees the close frame before the service gives up the close handshake.
                    await asyncio.sleep(0)
        except ConnectionClosed:
            pass
        await asyncio.wait_for(ws.wait_closed(), 30)
    return ws.close_code or 1006


async def churn(url: str, port: int, count: int) -> int:
    """Open and drop ``count`` connections: TCP only, WebSocket without hello, hello then gone,
    and whole viewing sessions, in turn. Returns how many opened."""
    opened = 0
    for i in range(count):
        try:
            if i % 4 == 0:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
            elif i % 4 == 1:
                async with ws_connect(url, compression=None):
                    pass
            elif i % 4 == 2:
                async with ws_connect(url, compression=None) as ws:
                    await ws.send(HELLO)
            else:
                async with client.connect(url) as view:
                    await view.next_frame()
            opened += 1
        except (InvalidHandshake, OSError, ConnectionClosed, TimeoutError, client.ServiceClosed):
            await asyncio.sleep(0.02)
    return opened


async def download(url: str, pause: float = 0.0) -> int:
    """Fetch ``url`` in a thread, pausing ``pause`` seconds per 256 KiB as a slow reader; the bytes."""
    def fetch() -> int:
        with urllib.request.urlopen(url, timeout=120) as response:
            size = 0
            while chunk := response.read(1 << 18):
                size += len(chunk)
                time.sleep(pause)
            return size

    return await asyncio.to_thread(fetch)


__all__ = ["Bystander", "churn", "download", "flood", "fuzz"]
