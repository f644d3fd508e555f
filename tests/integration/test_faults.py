"""Fault tests of issue #9: a bystander keeps its frames while an attacker fuzzes, floods, churns
and downloads, and the service holds no more memory, file descriptors or threads afterwards.

Figures (the bystander's frame rate per phase) are printed by ``benchmarks/abuse.py``; here the
assertions are about behaviour: frames keep coming, nothing crashes, nothing stays behind.
"""

from __future__ import annotations

import asyncio
import os
import threading

import psutil

import remoteviz as rv
from remoteviz import client
from remoteviz.testing.abuse import Bystander, churn, download, flood, fuzz

from .harness import FrameSource, async_wait_until, running_service

WIRE_MESSAGES = 20_000  # over the socket; tests/unit/test_protocol_fuzz.py parses 25,000 more


class Areas(rv.ServiceListener):
    def on_instantiated_render_area(self, render_area):
        render_area.add_listener(FrameSource(keep_rendering=True))


def resources() -> tuple[int, int, list[str]]:
    """RSS, descriptors, and the names of the threads that are not the test client's own
    (``asyncio_N``: its event loop's executor, which ``download`` uses)."""
    process = psutil.Process()
    threads = sorted(t.name for t in threading.enumerate() if not t.name.startswith("asyncio_"))
    return process.memory_info().rss, process.num_fds(), threads


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
            await churn(attack_url, port, 8)  # a whole session among them
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
    for name, (frames, _, _) in phases.items():
        assert frames > 0, f"the bystander got no frame during {name}"
    sent, connections, codes = phases["fuzz"][2]
    assert sent >= WIRE_MESSAGES and connections > 10
    assert set(codes) <= {1000, 1009, 4002, 4004, 4400, 4429}, codes  # never 1011 or 1006 from the service
    assert 4400 in codes
    assert phases["flood"][2] == 4429
    assert phases["churn"][2] > 200
    assert phases["download"][2] == [big.stat().st_size] * 2
    rss_before, fds_before, threads_before = before
    rss_after, fds_after, threads_after = after
    assert fds_after <= fds_before + 2, (fds_before, fds_after)
    # Only the service's bounded pools may have started a thread meanwhile (encoders start lazily).
    pools = {"remoteviz-encoder": 2, "remoteviz-files": 2}
    grown = [t for t in threads_after if t not in threads_before or threads_after.count(t) > threads_before.count(t)]
    assert all(t.rsplit("_", 1)[0] in pools for t in grown), (threads_before, threads_after)
    for pool, cap in pools.items():
        assert sum(t.startswith(pool) for t in threads_after) <= cap, threads_after
    assert rss_after - rss_before < 96 << 20, (rss_before >> 20, rss_after >> 20)
