"""Fault tests of issue #9: a bystander keeps its frames while an attacker fuzzes, floods, churns
and downloads, and the service holds no more memory, file descriptors or threads afterwards.

Figures (the bystander's frame rate per phase) are printed by ``benchmarks/abuse.py``; here the
assertions are about behaviour: frames keep coming, nothing crashes, nothing stays behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import urllib.request

import psutil
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

import remoteviz as rv
from remoteviz import client
from remoteviz.fuzz import ProtocolFuzzer

from .harness import FrameSource, async_wait_until, running_service

WIRE_MESSAGES = 20_000  # over the socket; tests/unit/test_protocol_fuzz.py parses 25,000 more


class Areas(rv.ServiceListener):
    def on_instantiated_render_area(self, render_area):
        render_area.add_listener(FrameSource(keep_rendering=True))


class Bystander:
    """A viewer that counts its frames in the background."""

    def __init__(self, view) -> None:
        self.view = view
        self.frames = 0
        self._task = asyncio.create_task(self._count())

    async def _count(self) -> None:
        while True:
            await self.view.next_frame(timeout=30)
            self.frames += 1

    async def frames_during(self, attack) -> tuple[int, object]:
        before = self.frames
        result = await attack
        return self.frames - before, result

    def stop(self) -> None:
        self._task.cancel()


async def fuzz(url: str, messages: int, seed: int) -> tuple[int, int, set[int]]:
    """Send ``messages`` fuzzed messages over as many connections as the service closes."""
    fuzzer = ProtocolFuzzer(seed, valid_ratio=0.85)
    sent = connections = 0
    codes: set[int] = set()
    while sent < messages:
        try:
            async with ws_connect(url, compression=None, max_size=None, open_timeout=10) as ws:
                connections += 1
                await ws.send(fuzzer.hello())
                for _ in range(25):
                    await ws.send(fuzzer.message())
                    sent += 1
                await ws.close()
            codes.add(ws.close_code)
        except ConnectionClosed as closed:
            codes.add(closed.rcvd.code if closed.rcvd else 1006)
        except (InvalidHandshake, OSError, TimeoutError):
            await asyncio.sleep(0.05)  # refused at accept: the per-address limit is doing its job
    return sent, connections, codes


async def flood(url: str, moves: int) -> int | None:
    move = json.dumps({"type": "mouse", "action": "move", "x": 1, "y": 1})
    async with ws_connect(url, compression=None) as ws:
        await ws.send(json.dumps({"type": "hello", "version": 1, "decoders": ["jpeg"]}))
        try:
            for _ in range(moves):
                await ws.send(move)
        except ConnectionClosed:
            pass
        await asyncio.wait_for(ws.wait_closed(), 20)
        return ws.close_code


async def churn(url: str, port: int, count: int) -> int:
    """Open and drop connections: half say hello, a quarter only open TCP, a quarter vanish mid-hello."""
    done = 0
    for i in range(count):
        try:
            if i % 4 == 0:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
            elif i % 4 == 1:
                async with ws_connect(url, compression=None):
                    pass
            else:
                async with ws_connect(url, compression=None) as ws:
                    await ws.send(json.dumps({"type": "hello", "version": 1}))
            done += 1
        except (InvalidHandshake, OSError, ConnectionClosed):
            await asyncio.sleep(0.02)
    return done


async def download(url: str, pause: float = 0.0) -> int:
    """Fetch ``url``, pausing between chunks as a slow reader would; the bytes received."""
    def fetch() -> int:
        with urllib.request.urlopen(url, timeout=60) as response:
            size = 0
            while chunk := response.read(1 << 18):
                size += len(chunk)
                time.sleep(pause)
            return size

    return await asyncio.to_thread(fetch)


def resources() -> tuple[int, int, list[str]]:
    process = psutil.Process()
    return process.memory_info().rss, process.num_fds(), sorted(t.name for t in threading.enumerate())


def test_a_bystander_keeps_its_frames_through_fuzz_flood_churn_and_download(tmp_path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1 << 20) * 24)

    async def scenario(runner):
        port = runner.service.port
        attack_url = runner.url("Attacked", "width=64&height=48")
        file_url = f"http://127.0.0.1:{port}/big.bin"
        async with client.connect(runner.url("Bystander", "width=160&height=120")) as view:
            bystander = Bystander(view)
            await async_wait_until(lambda: bystander.frames > 5, timeout=20)
            # Warm up what is made once and kept (encoder and file reading threads).
            await fuzz(attack_url, 50, seed=1)
            await churn(attack_url, port, 8)
            await asyncio.gather(download(file_url), download(file_url))
            await async_wait_until(lambda: runner.service.num_clients == 1, timeout=20)
            before = resources()
            phases = {
                "fuzz": await bystander.frames_during(fuzz(attack_url, WIRE_MESSAGES, seed=9)),
                "flood": await bystander.frames_during(flood(attack_url, 50_000)),
                "churn": await bystander.frames_during(churn(attack_url, port, 300)),
                "download": await bystander.frames_during(
                    asyncio.gather(download(file_url, 0.01), download(file_url, 0.01))),
            }
            await async_wait_until(lambda: runner.service.num_clients == 1, timeout=30)
            await asyncio.sleep(0.5)  # sockets closed by the peers are reaped
            after = resources()
            bystander.stop()
            return phases, before, after, view.is_closed

    with running_service(Areas(), max_connections_per_address=64, static_dir=str(tmp_path)) as runner:
        phases, before, after, closed = asyncio.run(scenario(runner))

    assert not closed
    for name, (frames, _) in phases.items():
        assert frames > 0, f"the bystander got no frame during {name}"
    sent, connections, codes = phases["fuzz"][1]
    assert sent >= WIRE_MESSAGES and connections > 10
    assert codes <= {1000, 1009, 4002, 4004, 4400, 4429}, codes  # never 1011 or 1006 from the service
    assert 4400 in codes
    assert phases["flood"][1] == 4429
    assert phases["download"][1] == [big.stat().st_size] * 2
    rss_before, fds_before, threads_before = before
    rss_after, fds_after, threads_after = after
    assert fds_after <= fds_before + 2, (fds_before, fds_after)
    assert len(threads_after) <= len(threads_before), (threads_before, threads_after)
    assert rss_after - rss_before < 96 << 20, (rss_before >> 20, rss_after >> 20)
