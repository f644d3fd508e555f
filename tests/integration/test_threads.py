"""Calls from threads other than the dispatch thread, and what no exception may do: end dispatch().

The rule (``remoteviz/dispatch_thread.py``, docs/architecture.md "Threads: who may touch what"):
a public method that only asks for a change is safe from any thread (it is carried to the dispatch
thread); one whose caller needs its result raises ``WrongThreadError`` naming ``call_soon``.
"""

import asyncio
import logging
import random
import sys
import threading

import pytest

import remoteviz as rv
from remoteviz import client
from remoteviz.client import ServiceClosed

from .harness import Recorder, ServiceThread, running_service, wait_until


class Threads(Recorder):
    """Records the thread of each lifecycle callback, besides what Recorder records."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[tuple[str, str]] = []

    def on_disposing_render_area(self, render_area):
        self.threads.append(("on_disposing_render_area", threading.current_thread().name))
        super().on_disposing_render_area(render_area)

    def on_disposed_render_area(self, render_area_id):
        self.threads.append(("on_disposed_render_area", threading.current_thread().name))
        super().on_disposed_render_area(render_area_id)

    def on_disconnected_client(self, client_id):
        self.threads.append(("on_disconnected_client", threading.current_thread().name))
        super().on_disconnected_client(client_id)


def test_a_dispose_from_another_thread_runs_every_callback_on_the_dispatch_thread() -> None:
    recorder = Threads()

    async def scenario(runner: ServiceThread) -> None:
        async with client.connect(runner.url("Elsewhere")) as view:
            await view.next_frame()
            area = runner.service.get_render_area("Elsewhere")
            area.close_connections_and_dispose()  # from this (the client's) thread
            await view.wait_closed()
            assert view.close_code == 4001

    with running_service(recorder) as runner:
        asyncio.run(scenario(runner))
        wait_until(lambda: len(recorder.threads) == 3)
    assert sorted(recorder.threads) == [("on_disconnected_client", "test-dispatch"),
                                        ("on_disposed_render_area", "test-dispatch"),
                                        ("on_disposing_render_area", "test-dispatch")]


def test_calls_that_ask_for_a_change_are_carried_to_the_dispatch_thread_in_order() -> None:
    recorder = Recorder()

    async def scenario(runner: ServiceThread) -> tuple[list[object], int | None]:
        async with client.connect(runner.url("Asks", "width=40&height=30")) as view:
            await view.next_frame()
            area = runner.service.get_render_area("Asks")
            connection = area.connections[0]
            area.resize(48, 36)  # all from this thread, none of them waits for the dispatch thread
            area.send_message("one")
            connection.send_message("two")
            connection.client.send_message("three")
            area.request_redraw()
            connection.close()
            got = [await view.next_message() for _ in range(3)]
            await view.wait_closed()
            return got + [(view.width, view.height)], view.close_code

    with running_service(recorder) as runner:
        got, code = asyncio.run(scenario(runner))
    assert got == ["one", "two", "three", (48, 36)]
    assert code == 4003  # KICKED, after the messages sent before it


def test_calls_whose_result_is_needed_raise_wrong_thread_error_naming_call_soon() -> None:
    with running_service(Recorder()) as runner:
        with pytest.raises(rv.WrongThreadError, match="call_soon"):
            runner.service.create_render_area("Made", 32, 24)
        with pytest.raises(rv.WrongThreadError, match="call_soon"):
            runner.service.close()
        with pytest.raises(rv.WrongThreadError, match="test-dispatch"):
            runner.service.dispatch()  # a second loop on another thread
        area = runner.call(runner.service.create_render_area, "Made", 32, 24)
        assert runner.service.get_render_area("Made") is area and runner.service.is_open


def test_the_dispose_race_from_a_client_thread_many_times() -> None:
    """Issue 19, item 8: close_connections_and_dispose() from another thread while viewers
    calibrate raised KeyError in Scheduler.add_viewer, out of dispatch(). Here the race runs many
    times, with the interpreter switching threads every microsecond (so that the dispose lands
    between any two steps of an accept), and after every dispatch() the watch checks that no render
    area the service knows is disposed and no connection of one is closed."""
    recorder = Recorder()
    broken: list[str] = []

    def consistent(service: rv.Service) -> None:
        for area in service.render_areas:
            if area.is_disposed:
                broken.append(f"{area!r} is disposed but still known")
            for connection in area.connections:
                if not connection.state.live:
                    broken.append(f"{connection!r} is {connection.state.value} but still counted")

    async def view(url: str) -> None:
        try:
            async with client.connect(url) as viewer:
                await viewer.wait_closed(timeout=15)
        except ServiceClosed:
            pass  # disposed before its accept: refused, or closed while calibrating

    async def round_(runner: ServiceThread, number: int, rng: random.Random) -> None:
        name = f"Race{number}"
        url = runner.url(name, "width=32&height=24")
        views = [asyncio.create_task(view(url)) for _ in range(4)]  # four pages: each calibrates
        await asyncio.sleep(rng.uniform(0.0, 0.05))
        while not all(v.done() for v in views):  # a view that comes after a dispose makes the area anew
            area = runner.service.get_render_area(name)
            if area is not None:
                area.close_connections_and_dispose()  # from this thread, the clients'
            await asyncio.sleep(rng.uniform(0.0, 0.02))
        await asyncio.gather(*views)

    async def scenario(runner: ServiceThread) -> None:
        rng = random.Random(19)
        for number in range(150):
            await round_(runner, number, rng)

    interval = sys.getswitchinterval()
    with running_service(recorder) as runner:
        runner.watch(lambda: consistent(runner.service))
        sys.setswitchinterval(1e-6)
        try:
            asyncio.run(scenario(runner))
        finally:
            sys.setswitchinterval(interval)
        wait_until(lambda: not runner.service.render_areas, timeout=10)
        assert not runner.errors, runner.errors  # dispatch() never raised
    assert not broken, broken[:5]


def test_an_exception_handling_one_connection_closes_it_alone_and_dispatch_goes_on(monkeypatch, caplog) -> None:
    from remoteviz.service_core import ServiceCore

    real = ServiceCore._route

    def route(self, record, message, now):
        if getattr(message, "data", None) == "break me":
            raise KeyError("a bug in the service")  # what item 8's race raised, for one connection
        return real(self, record, message, now)

    monkeypatch.setattr(ServiceCore, "_route", route)

    async def scenario(runner: ServiceThread):
        async with client.connect(runner.url("Hurt")) as hurt, client.connect(runner.url("Fine")) as fine:
            await hurt.next_frame()
            await fine.next_frame()
            for _ in range(3):
                await hurt.send_message("break me")
            await hurt.wait_closed()
            await fine.send_message("redraw")
            return hurt.close_code, hurt.error, await fine.next_frame(), fine.is_closed

    with caplog.at_level(logging.ERROR, logger="remoteviz"), running_service(Recorder()) as runner:
        code, error, frame, fine_closed = asyncio.run(scenario(runner))
        runner.service.call_soon(lambda: 1 / 0)  # an application callback that raises: logged too
        wait_until(lambda: "ZeroDivisionError" in caplog.text)
        assert runner.call(lambda: runner.service.num_clients) >= 0  # still dispatching
    assert code == 1011 and error == "internal error"  # nothing of the service's insides
    assert frame.image is not None and not fine_closed
    assert caplog.text.count("KeyError: 'a bug in the service'") == 1  # once per kind, with its traceback

