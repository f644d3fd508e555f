"""The port range: which port each instance listens on, and when a port is free again.

The manager never binds a port itself (bind, close, hand the number over is the race of
JupyterHub #3005): it *reserves* a number here and the child binds it and reports (``ready`` or
``failed``). A port is released only when the process that held it has exited, in the exit
callback, so it is never handed to two live instances. A port a stranger holds (the child could
not bind it) is quarantined for a while instead of being offered again at once.
"""

from __future__ import annotations

import collections
import time

QUARANTINE = 30.0
"""Seconds a port that some other process holds is left alone."""


class PortPool:
    """Ports ``first..last``; reserve with :meth:`take`, give back with :meth:`release`."""

    def __init__(self, first: int, last: int) -> None:
        self._free: collections.deque[int] = collections.deque(range(first, last + 1))
        self._taken: set[int] = set()
        self._quarantined: dict[int, float] = {}  # port -> until (monotonic)
        self.size = last - first + 1

    def take(self) -> int | None:
        """A port no live instance holds, or None when every one is in use."""
        self._end_quarantines()
        if not self._free:
            return None
        # Least recently released first: a port just freed is the last to be reused.
        port = self._free.popleft()
        self._taken.add(port)
        return port

    def release(self, port: int) -> None:
        """The process holding ``port`` has exited: the port is free again."""
        if port in self._taken:
            self._taken.discard(port)
            self._free.append(port)

    def quarantine(self, port: int, seconds: float = QUARANTINE) -> None:
        """A reserved port turned out to be held by another program: offer it again later."""
        if port in self._taken:
            self._taken.discard(port)
            self._quarantined[port] = time.monotonic() + seconds

    @property
    def free(self) -> int:
        """Ports that can be reserved now."""
        self._end_quarantines()
        return len(self._free)

    @property
    def taken(self) -> frozenset[int]:
        """Ports reserved by live instances."""
        return frozenset(self._taken)

    def _end_quarantines(self) -> None:
        now = time.monotonic()
        for port, until in list(self._quarantined.items()):
            if until <= now:
                del self._quarantined[port]
                self._free.append(port)
