"""Bricks in host memory: a least-recently-used cache bounded by a byte budget, safe from any thread.

The loader threads put bricks in, the render threads take them out to upload them; bricks put in
``pinned`` (the coarsest level, which every frame may need) are never dropped and count against
the budget like the others.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Hashable

import numpy as np


class HostBrickCache:
    """Bricks by key, holding at most ``budget`` bytes of unpinned and pinned bricks together."""

    def __init__(self, budget: int) -> None:
        if budget <= 0:
            raise ValueError(f"expected a host memory budget above 0 bytes, got {budget}")
        self.budget = int(budget)
        self._lock = threading.Lock()
        self._bricks: collections.OrderedDict[Hashable, np.ndarray] = collections.OrderedDict()
        self._pinned: dict[Hashable, np.ndarray] = {}
        self._nbytes = 0

    @property
    def nbytes(self) -> int:
        """The bytes the cached bricks take."""
        return self._nbytes

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._pinned or key in self._bricks

    def keys(self) -> list[Hashable]:
        """The keys of the bricks held, pinned ones first."""
        with self._lock:
            return [*self._pinned, *self._bricks]

    def get(self, key: Hashable) -> np.ndarray | None:
        """The brick, marked as just used, or None when it is not here."""
        with self._lock:
            pinned = self._pinned.get(key)
            if pinned is not None:
                return pinned
            brick = self._bricks.get(key)
            if brick is not None:
                self._bricks.move_to_end(key)
            return brick

    def put(self, key: Hashable, brick: np.ndarray, *, pinned: bool = False) -> None:
        """Keep ``brick``, dropping the least recently used unpinned bricks beyond the budget.

        A pinned brick that does not fit raises ``MemoryError``; an unpinned one that cannot fit
        even in an empty cache is not kept.
        """
        size = int(brick.nbytes)
        with self._lock:
            if key in self._pinned or key in self._bricks:
                return
            if pinned:
                if self._nbytes - self._unpinned_bytes() + size > self.budget:
                    raise MemoryError(f"pinned bricks need more than the {self.budget / 1e6:.1f} MB host budget")
                self._pinned[key] = brick
            else:
                if size > self.budget - self._pinned_bytes():
                    return
                self._bricks[key] = brick
            self._nbytes += size
            while self._nbytes > self.budget and self._bricks:
                _, dropped = self._bricks.popitem(last=False)
                self._nbytes -= int(dropped.nbytes)

    def _pinned_bytes(self) -> int:
        return sum(int(b.nbytes) for b in self._pinned.values())

    def _unpinned_bytes(self) -> int:
        return self._nbytes - self._pinned_bytes()
