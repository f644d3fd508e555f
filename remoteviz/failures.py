"""Backing off from a render area whose frames fail, and saying so: to the viewers in general terms,
to the log in detail, once per kind.

A render or an encode that raises is retried after a delay that doubles up to a cap, so a
broken encoder or a missing OpenGL context never spins the service or floods its log. The area's
viewers are told that its frames fail (a ``failure`` message) when an episode starts, in words
that hold nothing of the server's insides (:data:`VIEWER_DETAIL`: an exception's text may name
files, hosts or data); success ends the episode. The log gets each kind of failure (its stage,
exception type and text) once with its traceback, and again at most every :data:`RELOG_INTERVAL`
seconds with the count of those not logged (:class:`KindLog`), however often episodes come and go:
an encoder that fails one frame in three does not write a traceback after each success.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

FIRST_DELAY = 0.1
"""Seconds before the first retry."""

MAX_DELAY = 5.0
"""The longest wait between retries."""

RELOG_INTERVAL = 60.0
"""Seconds before a kind of failure already logged is logged again (with how often it recurred)."""

MAX_KINDS = 32
"""Kinds of failure remembered per log; the oldest is forgotten beyond (so nothing grows without a bound)."""

VIEWER_DETAIL = {"render": "the frame could not be rendered", "encode": "the frame could not be encoded"}
"""What viewers are told of a failure, by stage: the detail stays in the server's log."""


class KindLog:
    """Which kinds of failure to log now: each the first time, then at most once per ``interval``
    seconds, with the count of those not logged meanwhile (one thread only)."""

    __slots__ = ("_interval", "_max_kinds", "_kinds")  # private, and none added from outside

    def __init__(self, interval: float = RELOG_INTERVAL, max_kinds: int = MAX_KINDS) -> None:
        self._interval = interval
        self._max_kinds = max_kinds
        self._kinds: collections.OrderedDict[tuple[str, ...], tuple[float, int]] = collections.OrderedDict()

    def should_log(self, kind: tuple[str, ...], now: float) -> tuple[bool, int]:
        """Whether to log a failure of ``kind`` at ``now``, and how many of it were not logged before it."""
        seen = self._kinds.get(kind)
        if seen is not None and now - seen[0] < self._interval:
            self._kinds[kind] = (seen[0], seen[1] + 1)
            return False, 0
        self._kinds[kind] = (now, 0)
        self._kinds.move_to_end(kind)
        while len(self._kinds) > self._max_kinds:
            self._kinds.popitem(last=False)
        return True, seen[1] if seen is not None else 0


@dataclass(frozen=True)
class Report:
    """What to tell about a failure: the viewers when an episode starts, the log when it is news."""

    stage: str  # "render" or "encode"
    detail: str  # the exception's type and text: for the log only, never for viewers
    retry_in: float  # seconds
    is_news: bool  # the first failure of this stage in this episode: tell the viewers
    log: bool  # the first of its kind (or the first for RELOG_INTERVAL): log it with its traceback
    not_logged: int  # failures of its kind since it was last logged


class Backoff:
    """The failure state of one render area (dispatch thread only)."""

    __slots__ = ("_delay", "_retry_at", "_stages", "_logged", "_log")  # private, and none added from outside

    def __init__(self) -> None:
        self._delay = 0.0
        self._retry_at = 0.0
        self._stages: set[str] = set()  # failed in this episode
        self._logged = False  # something of this episode was logged: its end is logged too
        self._log = KindLog()

    @property
    def failing(self) -> bool:
        """True between a failure and the next success."""
        return bool(self._stages)

    @property
    def retry_at(self) -> float:
        """The monotonic time before which nothing is retried."""
        return self._retry_at

    def failed(self, stage: str, error: BaseException, now: float) -> Report:
        """Count a failure at ``now``; the report says when to retry, whom to tell and whether to log it."""
        self._delay = FIRST_DELAY if not self._delay else min(MAX_DELAY, self._delay * 2)
        self._retry_at = now + self._delay
        detail = f"{type(error).__name__}: {error}"[:300]
        is_news = stage not in self._stages
        self._stages.add(stage)
        log, not_logged = self._log.should_log((stage, detail), now)
        self._logged = self._logged or log
        return Report(stage, detail, self._delay, is_news, log, not_logged)

    def succeeded(self) -> tuple[bool, bool]:
        """A frame went through: whether that ends a failure episode, and whether to log that it
        did (only when a failure of the episode was logged: an end is news only after its start)."""
        ended, logged = self.failing, self.failing and self._logged
        self._delay = 0.0
        self._retry_at = 0.0
        self._stages.clear()
        self._logged = False
        return ended, logged


__all__ = ["Backoff", "KindLog", "Report", "FIRST_DELAY", "MAX_DELAY", "MAX_KINDS", "RELOG_INTERVAL",
           "VIEWER_DETAIL"]
