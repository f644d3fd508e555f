"""Loading bricks on background threads, most wanted first, so a frame never waits for the disk.

Each frame hands the loader the bricks it misses with their priorities (:meth:`BrickLoader.request`);
that list replaces the previous one, so bricks the view no longer needs are dropped before they
are read, and the queue holds at most ``max_queue`` bricks. Worker threads take the best-ranked
brick, read it, put it in the host cache and call ``on_loaded``. A brick that fails to read is
logged once and not asked for again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

_log = logging.getLogger(__name__)

_MAX_FAILED = 4096  # failed bricks remembered (then forgotten, so a flood of failures cannot grow it)


class BrickLoader:
    """Reads bricks with ``read(key)`` on ``threads`` daemon threads into ``put(key, brick)``."""

    def __init__(
        self,
        read: Callable[[Any], np.ndarray],
        put: Callable[[Any, np.ndarray], None],
        on_loaded: Callable[[], None],
        *,
        threads: int = 2,
        max_queue: int = 256,
    ) -> None:
        self._read = read
        self._put = put
        self._on_loaded = on_loaded
        self.max_queue = max_queue
        self._condition = threading.Condition()
        self._pending: dict[Hashable, tuple[float, ...]] = {}
        self._in_flight: set[Hashable] = set()
        self._failed: set[Hashable] = set()
        self._closed = False
        self.bricks_read = 0
        """Bricks read so far."""
        self.bytes_read = 0
        """Bytes of bricks read so far (decoded)."""
        self._threads = [
            threading.Thread(target=self._work, name=f"remoteviz-bricks-{n}", daemon=True) for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def request(self, wanted: dict[Hashable, tuple[float, ...]]) -> None:
        """Replace the queue with ``wanted`` (key: priority, lowest first), keeping the best
        ``max_queue``; bricks being read go on."""
        ranked = sorted(
            (item for item in wanted.items() if item[0] not in self._in_flight and item[0] not in self._failed),
            key=lambda item: item[1],
        )[: self.max_queue]
        with self._condition:
            self._pending = dict(ranked)
            if ranked:
                self._condition.notify_all()

    @property
    def busy(self) -> bool:
        """Whether bricks are queued or being read."""
        with self._condition:
            return bool(self._pending or self._in_flight)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or being read; False on timeout."""
        with self._condition:
            return self._condition.wait_for(lambda: not (self._pending or self._in_flight), timeout)

    def close(self) -> None:
        """Stop the threads after the bricks being read (safe to call twice)."""
        with self._condition:
            self._closed = True
            self._pending = {}
            self._condition.notify_all()

    def _work(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._closed or bool(self._pending))
                if self._closed:
                    return
                key = min(self._pending, key=self._pending.__getitem__)
                del self._pending[key]
                self._in_flight.add(key)
            try:
                brick = self._read(key)
                self._put(key, brick)
                self.bricks_read += 1
                self.bytes_read += int(brick.nbytes)
            except Exception as error:
                _log.warning("could not read brick %s: %s", key, error)
                with self._condition:
                    if len(self._failed) >= _MAX_FAILED:
                        self._failed.clear()
                    self._failed.add(key)
            finally:
                with self._condition:
                    self._in_flight.discard(key)
                    self._condition.notify_all()
            try:
                self._on_loaded()
            except Exception:
                _log.exception("a brick arrival callback failed")
