"""The network thread: one asyncio event loop on a thread of its own, reached from any thread.

The transport starts it with its server and stops it; each link sends through it from the service's
threads (``call_soon``) and runs its background work on it (``spawn``: calibration), work that is
cancelled before the loop stops.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any


class NetworkThread:
    """The network thread and its event loop (owned by the transport, used by its links)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # background work to end before the loop stops

    def start(self, setup: Callable[[], Awaitable[None]]) -> None:
        """Start the thread and run ``setup()`` on its loop, which then runs on; raises what ``setup`` raised."""
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(setup())
            except BaseException as error:  # reported to the caller of start()
                failure.append(error)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="remoteviz-network", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            raise failure[0]

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """Run ``callback(*args)`` on the network thread (safe from any thread; nothing once it stopped)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(callback, *args)
            except RuntimeError:  # the loop closed meanwhile: nothing left to send to
                pass

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` as a task, cancelled if still running when the loop stops (network thread only)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def stop(self, shutdown: Callable[[], Awaitable[None]]) -> None:
        """Run ``shutdown()`` on the loop, cancel the background work, then stop the loop and its thread."""
        loop = self._loop
        if loop is None or self._thread is None:
            return

        async def end() -> None:
            await shutdown()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        if loop.is_running():
            asyncio.run_coroutine_threadsafe(end(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=10)
        self._loop = None
