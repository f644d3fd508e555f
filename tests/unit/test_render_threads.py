"""Which render thread draws which area: the same one each time, a new area on the least used."""

from __future__ import annotations

import threading

import pytest

from remoteviz.render_threads import RenderThreads, default_count


def where(threads: RenderThreads, area_id: str) -> tuple[int, str]:
    """The renderer index and the thread a draw of ``area_id`` gets."""
    return threads.submit(area_id, lambda index: (index, threading.current_thread().name)).result(timeout=30)


def test_an_area_stays_on_its_thread_and_a_new_one_goes_to_the_least_used() -> None:
    threads = RenderThreads(2)
    try:
        first, second, third = where(threads, "A"), where(threads, "B"), where(threads, "C")
        assert (first[0], second[0], third[0]) == (0, 1, 0)
        assert first[1].startswith("remoteviz-render-0") and second[1].startswith("remoteviz-render-1")
        assert where(threads, "A") == first and where(threads, "B") == second  # sticky: its GL objects are there
        threads.forget("C")
        threads.forget("A")  # thread 0 is free again
        assert where(threads, "D")[0] == 0
    finally:
        threads.close()


def test_a_draw_that_raises_hands_its_error_back() -> None:
    threads = RenderThreads(1)
    try:
        def fail(index: int) -> None:
            raise RuntimeError(f"no context {index}")

        with pytest.raises(RuntimeError, match="no context 0"):
            threads.submit("A", fail).result(timeout=30)
    finally:
        threads.close()
    with pytest.raises(ValueError):
        RenderThreads(0)
    assert default_count() >= 1
