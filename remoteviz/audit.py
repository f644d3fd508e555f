"""The log of refusals and protocol errors: one line each, with the peer's address and the reason.

Rate-limited, so an attack cannot flood the log: beyond a burst, lines are counted instead of
written, and the count is logged with the next line let through. Reasons never hold a token or a
URL (the query may carry a token): callers pass the reason the page is told. Used from the
network thread and the dispatch thread, hence the lock.
"""

from __future__ import annotations

import logging
import threading
import time

from .limits import RateBucket

log = logging.getLogger("remoteviz.audit")

LINES_PER_SECOND = 10.0
"""The average rate of lines written."""

BURST = 50.0
"""Lines written at once before the rate applies."""


class LineBudget:
    """How many lines a log may write: ``rate`` a second on average, bursts of ``burst``; the
    lines beyond are counted, and the count is handed to the next line let through. Thread-safe."""

    def __init__(self, rate: float = LINES_PER_SECOND, burst: float = BURST) -> None:
        self._lock = threading.Lock()
        self._bucket = RateBucket(rate, burst, time.monotonic())
        self._suppressed = 0

    def take(self) -> int | None:
        """None if this line must not be written; else how many were not written since the last one."""
        with self._lock:
            if self._bucket.take(1, time.monotonic()) > 0:
                self._bucket.take(-1, time.monotonic())  # not written: give the token back
                self._suppressed += 1
                return None
            suppressed, self._suppressed = self._suppressed, 0
            return suppressed


class Audit:
    """Writes refusal and protocol error lines to the ``remoteviz.audit`` logger."""

    def __init__(self, rate: float = LINES_PER_SECOND, burst: float = BURST) -> None:
        self._budget = LineBudget(rate, burst)

    def refused(self, address: str, reason: str, render_area_id: str | None = None) -> None:
        """A connection from ``address`` (to ``render_area_id``, once known) was refused (REFUSED, a
        limit, an origin, a token)."""
        where = address if render_area_id is None else f"{address} for render area {render_area_id!r}"
        self._write("refused %s: %s", where, reason)

    def protocol_error(self, address: str, reason: str) -> None:
        """The client at ``address`` broke the protocol (4400) or flooded (4429)."""
        self._write("protocol error from %s: %s", address, reason)

    def _write(self, text: str, address: str, reason: str) -> None:
        suppressed = self._budget.take()
        if suppressed is None:
            return
        reason = reason.replace("\n", " ")[:200]
        if suppressed:
            log.warning(text + " (and %d more lines not logged)", address, reason, suppressed)
        else:
            log.warning(text, address, reason)


__all__ = ["Audit", "LineBudget"]
