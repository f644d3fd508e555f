"""The service's render threads: several render areas drawn at once, each thread with a GL context of its own.

Thread ``i`` draws with the process's renderer ``i`` (:meth:`remoteviz.rendering.renderer.Renderer.shared`),
whose context it creates on first use. A render area always renders on the same thread, so its
framebuffers and the GPU copies of its scene stay in one context; a new area goes to the thread
with the fewest areas. Which area renders when, and what may happen meanwhile, is the scheduler's
rule (:meth:`remoteviz.pipeline.scheduler.AreaSchedule.hold`); this module only runs the draws.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def default_count() -> int:
    """Render threads when the settings name none: one per core this process may run on.

    Measured on a 2-core llvmpipe machine (``benchmarks/parallel_render.py``, ``docs/performance.md``):
    a thread per core lets busy areas use every core, as processes would, at no more CPU per frame.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class RenderThreads:
    """``count`` render threads, each running one draw at a time with its own renderer."""

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError(f"expected at least one render thread, got {count}")
        self._threads = [ThreadPoolExecutor(1, thread_name_prefix=f"remoteviz-render-{index}")
                         for index in range(count)]
        self._areas: dict[str, int] = {}  # render area id -> its thread

    def submit(self, area_id: str, draw: Callable[[int], T]) -> Future[T]:
        """Run ``draw(renderer_index)`` on the thread of area ``area_id``."""
        index = self._areas.get(area_id)
        if index is None:
            loads = [0] * len(self._threads)
            for used in self._areas.values():
                loads[used] += 1
            index = self._areas[area_id] = loads.index(min(loads))
        return self._threads[index].submit(draw, index)

    def forget(self, area_id: str) -> None:
        """The area was disposed: its place on its thread is free."""
        self._areas.pop(area_id, None)

    def close(self) -> None:
        """Wait for the draws in flight and stop the threads (their renderers stay, for the next service)."""
        for thread in self._threads:
            thread.shutdown(wait=True)
        self._areas.clear()
