"""A real service on a loopback port, dispatched on its own thread, for the integration tests."""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import numpy as np

import remoteviz as rv

T = TypeVar("T")


class ServiceThread:
    """Runs ``dispatch()`` in a loop on a thread of its own, as an application's main loop would."""

    def __init__(self, service: rv.Service) -> None:
        self.service = service
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="test-dispatch", daemon=True)
        self.errors: list[BaseException] = []
        self._dispatching = threading.Event()  # set after the first dispatch(): this thread owns the service
        self.iterations = 0  # dispatch() calls: an idle service makes few
        self._watchers: list[Callable[[], None]] = []

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` on the dispatch thread after every ``dispatch()``.

        All service state changes inside ``dispatch()``, so the callback sees every state the service
        settles in, with nothing changing under it: a condition to wait for, or an invariant to check,
        without sampling from another thread.
        """
        self._watchers.append(callback)

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self.service.dispatch(timeout=0.02)
                self.iterations += 1
                self._dispatching.set()
                for callback in list(self._watchers):
                    callback()
        except BaseException as error:  # surfaced by the fixture, never swallowed
            self.errors.append(error)
        finally:
            self._dispatching.set()

    def start(self) -> None:
        """Start dispatching; returns once this thread is the service's dispatch thread."""
        self._thread.start()
        assert self._dispatching.wait(10), "the dispatch thread did not start"

    def call(self, callback: Callable[..., T], *args: object, timeout: float = 10.0) -> T:
        """``callback(*args)`` run on the dispatch thread (``Service.call_soon``); its result, or what it raised.

        The way a test changes the service's state (``create_render_area``, say) from its own thread.
        """
        result: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                result.set_result(callback(*args))
            except BaseException as error:  # handed to the caller, not the dispatch loop
                result.set_exception(error)

        self.service.call_soon(run)
        return result.result(timeout)

    def stop(self) -> None:
        self._stop.set()
        self.service._wake()
        self._thread.join(timeout=10)

    def url(self, render_area_id: str, query: str = "") -> str:
        return f"ws://127.0.0.1:{self.service.port}/{render_area_id}" + (f"?{query}" if query else "")


@contextlib.contextmanager
def running_service(*listeners: rv.ServiceListener, **settings: object) -> Iterator[ServiceThread]:
    """Open a fresh service on a free loopback port with ``listeners``; close it afterwards."""
    service = rv.Service()
    for listener in listeners:
        service.add_listener(listener)
    options = {"host": "127.0.0.1", "port": 0, "run_mode": rv.RunMode.INDEPENDENT_SERVICE, **settings}
    assert service.open(rv.ServiceSettings(**options))
    runner = ServiceThread(service)
    runner.start()
    try:
        yield runner
    finally:
        runner.stop()
        service.close()
    assert not runner.errors, runner.errors


def pattern(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A deterministic picture with smooth and sharp parts, different for each seed."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = (x * 255 // max(1, width - 1) + seed * 37) % 256
    image[..., 1] = (y * 255 // max(1, height - 1)) % 256
    image[..., 2] = ((x // 8 + y // 8 + seed) % 2) * 200
    return image


class FrameSource(rv.RenderAreaListener):
    """Serves numbered patterns in INDEPENDENT_SERVICE mode and records what happens."""

    def __init__(self, log: list | None = None, keep_rendering: bool = False) -> None:
        self.log = log if log is not None else []
        self.frames_made = 0
        self.keep_rendering = keep_rendering

    def on_requested_frame(self, render_area, connection):
        self.frames_made += 1
        if self.keep_rendering:
            render_area.request_redraw()
        return pattern(render_area.width, render_area.height, self.frames_made), render_area.is_interacting

    def on_mouse_move(self, render_area, connection, x, y):
        render_area.request_redraw()  # as an application that moves its camera would
        return True

    def on_opened_connection(self, render_area, connection, frame_encoders):
        self.log.append(("on_opened_connection", render_area.id))

    def on_initialized_connection(self, render_area, connection, frame_encoders):
        self.log.append(("on_initialized_connection", render_area.id))

    def on_closed_connection(self, render_area, connection_id, aborted):
        self.log.append(("on_closed_connection", render_area.id, aborted))

    def on_received_message(self, render_area, connection, message):
        self.log.append(("on_received_message", message))
        if message == "redraw":
            render_area.request_redraw()


class Recorder(rv.ServiceListener):
    """Records every service callback in order and attaches a FrameSource to new render areas."""

    def __init__(self, keep_rendering: bool = False) -> None:
        self.log: list[tuple] = []
        self.sources: dict[str, FrameSource] = {}
        self.keep_rendering = keep_rendering
        self.refuse = False

    def on_connected_client(self, client_id, network_performance):
        self.log.append(("on_connected_client",))

    def on_pending_create_render_area(self, render_area_id, width, height, client, parameters):
        self.log.append(("on_pending_create_render_area", render_area_id, width, height))
        return not self.refuse

    def on_pending_share_render_area(self, render_area, client, parameters):
        self.log.append(("on_pending_share_render_area", render_area.id))
        return not self.refuse

    def on_instantiated_render_area(self, render_area):
        self.log.append(("on_instantiated_render_area", render_area.id))
        source = FrameSource(self.log, self.keep_rendering)
        self.sources[render_area.id] = source
        render_area.add_listener(source)

    def on_initialized_client(self, client, network_performance):
        self.log.append(("on_initialized_client",))

    def on_disposing_render_area(self, render_area):
        self.log.append(("on_disposing_render_area", render_area.id))

    def on_disposed_render_area(self, render_area_id):
        self.log.append(("on_disposed_render_area", render_area_id))

    def on_disconnected_client(self, client_id):
        self.log.append(("on_disconnected_client",))

    def names(self) -> list[str]:
        return [entry[0] for entry in self.log]


def wait_until(predicate, timeout: float = 5.0) -> None:
    """Poll ``predicate`` (state changed by the dispatch thread) until true or fail."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


async def async_wait_until(predicate, timeout: float = 5.0) -> None:
    """Like wait_until, without blocking the event loop."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


class SlowInteractiveRenders(rv.RenderAreaListener):
    """Makes each interactive render of an area cost ``seconds`` more (as a heavy scene would), with
    JPEG frames, ``policy`` at ``fps`` and cost-aware scaling asked for: what cost-aware scaling adapts to."""

    def __init__(self, policy: rv.EncodingPolicy, seconds: float = 0.06, fps: int = 30) -> None:
        self.policy = policy
        self.seconds = seconds
        self.fps = fps

    def on_opened_connection(self, render_area, connection, frame_encoders):
        frame_encoders.set_encoders(rv.Encoder.JPEG, rv.Encoder.JPEG)
        connection.settings.set_frame_encoding_policy(self.policy, fps=self.fps)
        connection.settings.cost_aware_scaling = True

    def on_pre_render(self, render_area):
        if render_area.is_interacting:
            time.sleep(self.seconds)  # the cost being adapted to, not a wait for anything
        return True
