"""A loopback TCP proxy that limits bandwidth, to see a service behave over a slow link.

    async with ThrottledProxy("127.0.0.1", service_port, bytes_per_second=2_000_000) as proxy:
        url = f"ws://127.0.0.1:{proxy.port}/TheCone"

Data from the service towards the client is released at ``bytes_per_second`` (the direction
frames travel); the other direction passes freely. The proxy reads from the service only as fast
as it may forward, so the service feels the slow link as TCP back-pressure, as it would over a
real one. The rate can change while connections are open (:attr:`bytes_per_second`).
"""

from __future__ import annotations

import asyncio
import contextlib

CHUNK = 16 * 1024
"""Bytes forwarded at a time: small enough that the rate is smooth at 1 MB/s."""


class ThrottledProxy:
    """Forwards loopback TCP connections to ``host:port``, limiting the downstream rate."""

    def __init__(self, host: str, port: int, bytes_per_second: float, listen_host: str = "127.0.0.1") -> None:
        self.target = (host, port)
        self.bytes_per_second = bytes_per_second
        self.bytes_forwarded = 0
        self._listen_host = listen_host
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def __aenter__(self) -> ThrottledProxy:
        self._server = await asyncio.start_server(self._accept, self._listen_host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        up = asyncio.ensure_future(self._pipe(client_reader, upstream_writer, limited=False))
        down = asyncio.ensure_future(self._pipe(upstream_reader, client_writer, limited=True))
        for task in (up, down):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        for task in (up, down):
            task.cancel()
        for writer in (client_writer, upstream_writer):
            writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limited: bool) -> None:
        loop = asyncio.get_running_loop()
        allowance_at = loop.time()  # when the bytes forwarded so far are "paid for"
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                if limited:
                    allowance_at = max(allowance_at, loop.time()) + len(data) / self.bytes_per_second
                    delay = allowance_at - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    self.bytes_forwarded += len(data)
                writer.write(data)
                await writer.drain()
            with contextlib.suppress(OSError):
                writer.write_eof()
