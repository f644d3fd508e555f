"""Backing off from a render area whose frames fail, and saying so once.

A render or an encode that raises is retried after a delay that doubles up to a cap, so a
broken encoder or a missing OpenGL context never spins the service or floods its log; the first
failure (and each new kind of failure) is logged with its traceback and reported to the area's
viewers as a ``failure`` message; success ends the episode.
"""

from __future__ import annotations

from dataclasses import dataclass

FIRST_DELAY = 0.1
"""Seconds before the first retry."""

MAX_DELAY = 5.0
"""The longest wait between retries."""


@dataclass
class Report:
    """What to tell about a failure: the viewers always, the log only when it is news."""

    stage: str  # "render" or "encode"
    detail: str
    retry_in: float  # seconds
    is_news: bool  # first of its kind in this episode: log it


class Backoff:
    """The failure state of one render area (dispatch thread only)."""

    def __init__(self) -> None:
        self._delay = 0.0
        self._retry_at = 0.0
        self._seen: set[tuple[str, str]] = set()

    @property
    def failing(self) -> bool:
        """True between a failure and the next success."""
        return bool(self._seen)

    @property
    def retry_at(self) -> float:
        """The monotonic time before which nothing is retried."""
        return self._retry_at

    def failed(self, stage: str, error: BaseException, now: float) -> Report:
        """Count a failure at ``now``; the report says when to retry and whether to log it."""
        self._delay = FIRST_DELAY if not self._delay else min(MAX_DELAY, self._delay * 2)
        self._retry_at = now + self._delay
        detail = f"{type(error).__name__}: {error}"[:300]
        key = (stage, detail)
        is_news = key not in self._seen
        self._seen.add(key)
        return Report(stage, detail, self._delay, is_news)

    def succeeded(self) -> bool:
        """A frame went through; True if that ends a failure episode."""
        was_failing = self.failing
        self._delay = 0.0
        self._retry_at = 0.0
        self._seen.clear()
        return was_failing


__all__ = ["Backoff", "Report", "FIRST_DELAY", "MAX_DELAY"]
