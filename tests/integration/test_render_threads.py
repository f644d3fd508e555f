"""Render areas drawn on render threads at once: real EGL contexts, real sockets, real listener calls.

The proof of overlap is a rendezvous in the scene itself: a node whose traversal by the render's
gather waits at a barrier of two, which only opens while the other area is being drawn too (its
timeout breaks it, and the test fails, if the draws take turns instead).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import numpy as np
import pytest

import remoteviz as rv
from remoteviz import client
from remoteviz.events import MouseAction
from remoteviz.pipeline.scheduler import AreaSchedule
from remoteviz.rendering.actions import GatherAction

from .harness import running_service, wait_until

RENDEZVOUS_TIMEOUT = 30.0  # generous: the machine may be loaded; a render that never meets fails


class Rendezvous(rv.Group):
    """A group that records the thread of each render of its scene; the first render after
    :meth:`arm` calls ``gate`` on that thread (a barrier, an event to wait for)."""

    def __init__(self, gate=None) -> None:
        super().__init__()
        self.gate = gate
        self.drawn_on: list[threading.Thread] = []

    def arm(self, gate) -> None:
        self.drawn_on.clear()
        self.gate = gate

    def traverse(self, action) -> None:
        if isinstance(action, GatherAction):
            self.drawn_on.append(threading.current_thread())
            gate, self.gate = self.gate, None
            if gate is not None:
                gate()
        super().traverse(action)


class Cones(rv.ServiceListener):
    """Each new area: a cone under a Rendezvous; its listener calls recorded with their thread.

    ``gates`` (by area id): armed by the area's next ``on_pre_render``, so that it is the render that
    meets it (``view_all`` gathers the scene too, on the dispatch thread)."""

    def __init__(self) -> None:
        self.gates: dict[str, object] = {}
        self.rendezvous: dict[str, Rendezvous] = {}
        self.areas: dict[str, rv.RenderArea] = {}
        self.calls: list[tuple[str, str, threading.Thread]] = []  # (callback, area id, thread)
        self.dispatch_thread: threading.Thread | None = None

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        self.dispatch_thread = threading.current_thread()
        rendezvous = self.rendezvous[render_area.id] = Rendezvous()
        examiner = rv.SceneExaminer()
        examiner.add_child(rv.GradientBackground())
        examiner.add_child(rendezvous)
        rendezvous.add_child(rv.Cone())
        render_area.scene_manager.scene_graph = examiner
        examiner.view_all(render_area.viewport)
        render_area.add_listener(Recording(self))
        self.areas[render_area.id] = render_area

    def names(self, area_id: str) -> list[str]:
        return [name for name, area, _ in self.calls if area == area_id]


class Recording(rv.RenderAreaListener):
    def __init__(self, cones: Cones) -> None:
        self.cones = cones

    def _record(self, name: str, render_area: rv.RenderArea) -> None:
        self.cones.calls.append((name, render_area.id, threading.current_thread()))

    def on_pre_render(self, render_area):
        self._record("on_pre_render", render_area)
        gate = self.cones.gates.pop(render_area.id, None)
        if gate is not None:
            self.cones.rendezvous[render_area.id].arm(gate)
        return True

    def on_post_render(self, render_area):
        self._record("on_post_render", render_area)

    def on_mouse_move(self, render_area, connection, x, y, *, event):
        self._record("on_mouse_move", render_area)
        return True

    def on_received_message(self, render_area, connection, message):
        self._record(f"on_received_message {message}", render_area)
        if message == "redraw":
            render_area.request_redraw()


def _shows_a_cone(image: np.ndarray) -> bool:
    height, width = image.shape[:2]
    return image[height // 2, width // 2].astype(int).mean() > image[height - 3, 2].astype(int).mean() + 40


def test_two_areas_are_drawn_on_two_render_threads_at_once() -> None:
    barrier = threading.Barrier(2, timeout=RENDEZVOUS_TIMEOUT)
    cones = Cones()

    async def scenario(runner):
        async with client.connect(runner.url("Left", "width=160&height=120")) as left, \
                client.connect(runner.url("Right", "width=160&height=120")) as right:
            await left.next_frame()
            await right.next_frame()
            for area in ("Left", "Right"):  # each one's next render waits for the other's
                cones.gates[area] = barrier.wait
            await left.send_message("redraw")
            await right.send_message("redraw")
            return await left.next_frame(timeout=60), await right.next_frame(timeout=60)

    with running_service(cones, run_mode=rv.RunMode.INVENTOR_SERVICE, render_threads=2) as runner:
        first_left, first_right = asyncio.run(scenario(runner))
    assert not barrier.broken, "the two renders never were in progress at the same time"
    assert _shows_a_cone(first_left.image) and _shows_a_cone(first_right.image)
    left, right = (cones.rendezvous[a].drawn_on[0] for a in ("Left", "Right"))
    assert left is not right, "each area on a thread of its own"
    assert left.name.startswith("remoteviz-render-") and right.name.startswith("remoteviz-render-")
    assert cones.dispatch_thread not in (left, right)
    # The application's callbacks stay on the dispatch thread.
    assert cones.calls and all(thread is cones.dispatch_thread for _, _, thread in cones.calls)
    for area in ("Left", "Right"):
        assert cones.names(area)[:2] == ["on_pre_render", "on_post_render"]


def test_with_one_render_thread_areas_are_drawn_on_the_dispatch_thread() -> None:
    cones = Cones()

    async def scenario(runner):
        async with client.connect(runner.url("Left", "width=96&height=64")) as left, \
                client.connect(runner.url("Right", "width=96&height=64")) as right:
            return await left.next_frame(), await right.next_frame()

    with running_service(cones, run_mode=rv.RunMode.INVENTOR_SERVICE, render_threads=1) as runner:
        frames = asyncio.run(scenario(runner))
    assert all(_shows_a_cone(frame.image) for frame in frames)
    assert {cones.rendezvous[a].drawn_on[0] for a in ("Left", "Right")} == {cones.dispatch_thread}


def events_kept_by(schedule: AreaSchedule, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The events ``schedule`` keeps from now on until its render ends, as it keeps them: its ``hold``
    answers, seen by wrapping the class's method for the test (the schedule has no count of them to
    show, and its own state cannot be written from outside: tests/unit/test_core_ownership.py)."""
    kept: list[object] = []
    hold = AreaSchedule.hold

    def recording(self: AreaSchedule, event: Callable[[], None]) -> bool:
        answer = hold(self, event)
        if answer and self is schedule:
            kept.append(event)
        return answer

    monkeypatch.setattr(AreaSchedule, "hold", recording)
    return kept


def test_input_to_an_area_being_drawn_waits_for_its_frame_and_other_areas_go_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """While Slow's scene is drawn on a render thread, its mouse move and message wait, in order,
    until its frame is back (after on_post_render); Quick's message is handled meanwhile."""
    release = threading.Event()
    cones = Cones()

    def hold_until_released() -> None:
        assert release.wait(RENDEZVOUS_TIMEOUT), "the test never released the render"

    async def scenario(runner):
        async with client.connect(runner.url("Quick", "width=96&height=64")) as quick:
            await quick.next_frame()
            cones.gates["Slow"] = hold_until_released  # Slow's first render waits in its scene
            async with client.connect(runner.url("Slow", "width=96&height=64")) as slow:
                await async_until(lambda: len(cones.rendezvous.get("Slow", Rendezvous()).drawn_on) == 1)
                kept = events_kept_by(runner.service._core.schedule(cones.areas["Slow"]), monkeypatch)
                await slow.mouse(MouseAction.MOVE, 10, 10)
                await slow.send_message("to slow")
                await quick.send_message("to quick")
                await async_until(lambda: "on_received_message to quick" in cones.names("Quick"))
                await async_until(lambda: len(kept) == 2)
                waiting = list(cones.names("Slow"))
                release.set()
                await slow.next_frame()
                await async_until(lambda: "on_received_message to slow" in cones.names("Slow"))
                return waiting

    with running_service(cones, run_mode=rv.RunMode.INVENTOR_SERVICE, render_threads=2) as runner:
        waiting = asyncio.run(scenario(runner))
    assert waiting == ["on_pre_render"], "nothing of Slow ran while its scene was drawn"
    assert cones.rendezvous["Slow"].drawn_on[0].name.startswith("remoteviz-render-")
    assert cones.names("Slow")[:4] == ["on_pre_render", "on_post_render", "on_mouse_move",
                                       "on_received_message to slow"]
    assert all(thread is cones.dispatch_thread for _, _, thread in cones.calls)


def test_frames_asked_of_the_application_come_from_the_dispatch_thread() -> None:
    """INDEPENDENT_SERVICE mode: on_requested_frame (where an application draws with its own GL
    context, current on its thread) is always called on the dispatch thread."""
    threads: list[threading.Thread] = []
    dispatch: list[threading.Thread] = []

    class Source(rv.RenderAreaListener):
        def on_requested_frame(self, render_area, connection):
            threads.append(threading.current_thread())
            return np.full((render_area.height, render_area.width, 3), 90, np.uint8), False

    class Areas(rv.ServiceListener):
        def on_instantiated_render_area(self, render_area):
            dispatch.append(threading.current_thread())
            render_area.add_listener(Source())

    async def scenario(runner):
        async with client.connect(runner.url("A", "width=32&height=16")) as a, \
                client.connect(runner.url("B", "width=32&height=16")) as b:
            return await a.next_frame(), await b.next_frame()

    with running_service(Areas(), render_threads=4) as runner:
        frames = asyncio.run(scenario(runner))
    assert all(int(np.abs(f.image.astype(int) - 90).max()) <= 3 for f in frames)
    assert len(threads) >= 2 and set(threads) == {dispatch[0]}


async def async_until(predicate, timeout: float = RENDEZVOUS_TIMEOUT) -> None:
    """Wait (without blocking the client's loop) for a condition the dispatch thread brings about."""
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, wait_until, predicate, timeout)


class Vetoing(rv.RenderAreaListener):
    """Refuses every frame of its area (``on_pre_render`` returns False), counting the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def on_pre_render(self, render_area):
        self.calls += 1
        return False


def test_a_frame_refused_by_on_pre_render_is_dropped_until_the_next_change() -> None:
    vetoing = Vetoing()
    areas: dict[str, rv.RenderArea] = {}
    spinning: list[int] = []  # on_pre_render calls seen while the area was still due after a refusal
    watching = [True]  # until the test itself changes the area

    class Listener(rv.ServiceListener):
        def on_instantiated_render_area(self, render_area):
            render_area.scene_manager.scene_graph = rv.Cone()
            render_area.add_listener(vetoing)
            areas[render_area.id] = render_area

    async def scenario(runner):
        def check() -> None:  # every settled state: a refused area is not due again by itself
            area = areas.get("Vetoed")
            if watching[0] and area is not None and vetoing.calls and runner.service._core.schedule(area).dirty:
                spinning.append(vetoing.calls)

        runner.watch(check)
        async with client.connect(runner.url("Vetoed", "width=64&height=48")):
            await asyncio.to_thread(wait_until, lambda: vetoing.calls >= 1, 30.0)
            before = runner.iterations
            await asyncio.to_thread(wait_until, lambda: runner.iterations >= before + 20, 30.0)
            refused = vetoing.calls
            watching[0] = False
            runner.service.call_soon(areas["Vetoed"].request_redraw)  # a change: asked again, once
            await asyncio.to_thread(wait_until, lambda: vetoing.calls > refused, 30.0)
        return refused

    for render_threads in (1, 2):
        vetoing.calls = 0
        spinning.clear()
        watching[0] = True
        with running_service(Listener(), run_mode=rv.RunMode.INVENTOR_SERVICE, render_threads=render_threads) as runner:
            refused = asyncio.run(scenario(runner))
        assert refused == 1, f"on_pre_render asked {refused} times for one change ({render_threads} render threads)"
        assert not spinning, f"the refused area stayed due ({render_threads} render threads)"
