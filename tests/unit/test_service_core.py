"""The service core without I/O: events in, actions out, a fake clock, no sockets, no threads, no sleeps.

Links are plain strings here (the core only keys them); what it sends is read back with the
browser's own parser; its listener calls are recorded in order. These are the handshake, the
admission, the routing and the closing decisions that the integration tests check over a real
WebSocket, one by one.
"""

from __future__ import annotations

from typing import Any

import pytest

from remoteviz.access import AccessCheck
from remoteviz.admission import Admission
from remoteviz.audit import Audit
from remoteviz.connection import Connection, ConnectionParameters, ConnectionState
from remoteviz.dispatch_thread import DispatchThread
from remoteviz.events import MouseAction, MouseEvent
from remoteviz.listeners import ServiceListener, ServiceListeners
from remoteviz.metrics import Monitoring
from remoteviz.pipeline.scheduler import Scheduler
from remoteviz.protocol import (
    Accept,
    Ack,
    AppMessage,
    CloseCode,
    ContainerResize,
    Disconnect,
    DisconnectReason,
    Error,
    Hello,
    Input,
    Notify,
    Ping,
    Pong,
    Resize,
    ServiceMessage,
    SizeRequest,
    parse_service_text,
)
from remoteviz.render_area import RenderArea, RenderAreaListener
from remoteviz.service_core import Action, Calibrate, Close, Send, ServiceCore
from remoteviz.settings import RunMode, ServiceSettings


class Frames:
    """The frame path's steps the core asks for, recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def finish_render(self, area: RenderArea) -> None:
        self.calls.append(("finish_render", area.id))

    def area_resized(self, area: RenderArea) -> None:
        self.calls.append(("area_resized", area.id))

    def area_disposed(self, area: RenderArea) -> None:
        self.calls.append(("area_disposed", area.id))

    def needs_key_frame(self, connection: Connection) -> None:
        self.calls.append(("needs_key_frame", connection.id))

    def scene_message(self, area: RenderArea, connection: Connection, message: Any, allowed: bool) -> None:
        self.calls.append(("scene_message", type(message).__name__))


class Recorder(ServiceListener, RenderAreaListener):
    """Every service and render area callback, by name, in order; answers set per test."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.answers: dict[str, Any] = {}

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("on_"):
            calls, answers = object.__getattribute__(self, "calls"), object.__getattribute__(self, "answers")
            default = object.__getattribute__(self, name)

            def record(*args: Any, **kwargs: Any) -> Any:
                calls.append(name)
                if name == "on_instantiated_render_area":
                    args[0].add_listener(self)
                answer = answers.get(name, default)
                return answer(*args, **kwargs) if callable(answer) else answer
            return record
        return object.__getattribute__(self, name)


class Core:
    """A core with recording parts, and the helpers a test speaks through."""

    def __init__(self, **settings: Any) -> None:
        self.listener = Recorder()
        listeners = ServiceListeners()
        listeners.add(self.listener)
        self.frames = Frames()
        self.scheduler = Scheduler()
        self.settings = ServiceSettings(run_mode=RunMode.INDEPENDENT_SERVICE, **settings)
        self.core = ServiceCore(self.scheduler, Monitoring(), Audit(), listeners, self.frames,
                                DispatchThread(self._posted), self._no_notebook)
        self.core.configure(self.settings, Admission(self.settings, AccessCheck(self.settings.access)))

    @staticmethod
    def _posted(*_: Any) -> None:
        raise AssertionError("nothing is posted: the test's thread owns the core")

    @staticmethod
    def _no_notebook(area: RenderArea, include: Any, exclude: Any) -> None:
        raise ImportError

    def open(self, link: str, area: str = "Area", page: str = "", now: float = 0.0) -> list[Action]:
        hello = Hello(page, 320, 200, 320, 200, frozenset({"jpeg", "png"}))
        self.core.opened(link, "127.0.0.1", area, ConnectionParameters(), hello, now)
        return self.core.take_actions()

    def accepted(self, link: str, area: str = "Area", page: str = "") -> Connection:
        """Open ``link`` with its page's calibration done at once."""
        self.open(link, area, page)
        connection = self.core.connection_on(link)
        assert connection is not None
        if connection.state is ConnectionState.CALIBRATING:
            self.core.calibrated(connection.client, 1.0, 1e6, True, 0.0)
            self.core.take_actions()
        assert connection.is_open
        return connection


def sent(actions: list[Action], link: str | None = None) -> list[ServiceMessage | tuple[str, CloseCode]]:
    """What ``actions`` send (parsed as the browser parses it) and close, on ``link`` or on any."""
    out: list[ServiceMessage | tuple[str, CloseCode]] = []
    for action in actions:
        if link is not None and action.link != link:
            continue
        if isinstance(action, Send):
            assert isinstance(action.data, str)
            out.append(parse_service_text(action.data))
        elif isinstance(action, Close):
            out.append(("close", action.code))
    return out


# ---- the handshake


def test_a_new_page_is_calibrated_then_accepted_and_its_second_view_waits_for_that_calibration() -> None:
    core = Core()
    first = core.open("L1", "Area", page="page-key")
    assert sent(first) == [Notify("startNetworkCalibration")]
    assert [a for a in first if isinstance(a, Calibrate)] == [Calibrate("L1", 5.0, core.core.connection_on("L1").client)]
    second = core.open("L2", "Other", page="page-key")  # the same page's second view
    assert sent(second) == [Notify("pendingNetworkCalibration")]
    one, two = core.core.connection_on("L1"), core.core.connection_on("L2")
    assert one.client is two.client and one.state is two.state is ConnectionState.CALIBRATING
    assert core.scheduler.viewers("Area") == {}  # no frame before the accept

    core.core.calibrated(one.client, 12.5, 2e6, True, now=3.0)
    actions = core.core.take_actions()
    figures = {"bandwidth": 2000000, "latency_ms": 12.5}
    assert sent(actions, "L1") == [Notify("finishedNetworkCalibration", figures),
                                   Accept(one.id, one.client.id, "Area", 320, 200, "png", "jpeg")]
    assert sent(actions, "L2")[0] == Notify("finishedNetworkCalibration", figures)
    assert one.is_open and two.is_open and set(core.scheduler.viewers("Area")) == {one.id}
    assert one.client.network_performance.latency_ms == 12.5
    assert core.listener.calls == [
        "on_connected_client", "on_pending_create_render_area", "on_instantiated_render_area",
        "on_opened_connection", "on_pending_create_render_area", "on_instantiated_render_area",
        "on_opened_connection", "on_initialized_client", "on_initialized_connection", "on_initialized_connection"]


def test_latency_probes_go_once_a_second_per_page_and_a_pong_is_measured_on_the_fake_clock() -> None:
    core = Core()
    connection = core.accepted("L1")
    core.core.tick(0.5)
    assert core.core.take_actions() == []  # calibrated at 0.0: the first probe is due at 1.0
    core.core.tick(1.0)
    assert sent(core.core.take_actions()) == [Ping(1.0)]
    core.core.tick(1.7)
    assert core.core.take_actions() == []
    core.core.message("L1", Pong(1.0), now=1.04)
    assert connection.client.network_performance.latency_ms == pytest.approx(0.8 * 1.0 + 0.2 * 40.0)
    core.core.message("L1", Pong(-1e9), now=1.1)  # not a pong to any ping: ignored
    assert connection.client.network_performance.latency_ms == pytest.approx(8.8)


# ---- admission


def test_a_refused_connection_is_told_why_and_closed_before_any_listener_is_asked() -> None:
    core = Core(access="s" * 32)  # a secret: a token is needed
    actions = core.open("L1", "Area")
    assert sent(actions) == [Disconnect(DisconnectReason.REFUSED, "missing access token"),
                             ("close", CloseCode.REFUSED)]
    assert core.listener.calls == [] and core.core.connection_on("L1") is None
    assert sent(Core().open("L2", "")) == [Disconnect(DisconnectReason.REFUSED, "the URL names no render area"),
                                           ("close", CloseCode.REFUSED)]


def test_an_application_refusal_forgets_the_new_client_and_creates_no_area() -> None:
    core = Core()
    core.listener.answers["on_pending_create_render_area"] = False
    actions = core.open("L1", "Area")
    assert sent(actions) == [
        Disconnect(DisconnectReason.REFUSED, "the application refused to create this render area"),
        ("close", CloseCode.REFUSED)]
    assert core.listener.calls == ["on_connected_client", "on_pending_create_render_area", "on_disconnected_client"]
    assert core.core.clients == [] and core.core.render_areas == []


def test_the_pixel_budget_refuses_a_second_big_area_of_the_same_client() -> None:
    core = Core(max_pixels_per_client=320 * 200)
    core.accepted("L1", "One", page="p")
    actions = core.open("L2", "Two", page="p")
    assert sent(actions) == [Disconnect(DisconnectReason.REFUSED, "this client has reached its pixel limit "
                                        "(render area memory)"), ("close", CloseCode.REFUSED)]
    assert [a.id for a in core.core.render_areas] == ["One"]


# ---- routing


def test_input_reaches_the_listeners_marks_the_area_interacting_and_numbers_its_frames() -> None:
    core = Core()
    connection = core.accepted("L1")
    area = connection.render_area
    core.core.message("L1", Input(MouseEvent(MouseAction.DOWN, 5, 6), seq=41), now=10.0)
    assert core.listener.calls[-1] == "on_mouse_down"
    assert core.core.is_interacting(area, 10.01) and not core.core.is_interacting(area, 11.0)
    assert core.core.outgoing(connection).last_input_seq == 41


def test_the_page_s_container_size_is_the_connection_s_to_read_and_stays_readable_once_closed() -> None:
    core = Core()
    connection = core.accepted("L1")
    assert (connection.container_width, connection.container_height) == (320, 200)  # from the hello
    core.core.message("L1", ContainerResize(800, 600), now=1.0)
    assert (connection.container_width, connection.container_height) == (800, 600)
    core.core.closed("L1", aborted=False)
    assert (connection.container_width, connection.container_height) == (800, 600)
    assert connection.interactive_quality == pytest.approx(0.7)  # its window's figures too


def test_while_its_area_is_drawn_input_and_app_messages_wait_and_acks_and_pongs_do_not() -> None:
    core = Core()
    connection = core.accepted("L1")
    schedule = core.core.schedule(connection.render_area)
    schedule.render_started()  # a render thread draws the area now
    held: list[str] = []
    for message in (Input(MouseEvent(MouseAction.MOVE, 1, 1)), AppMessage("hi"), SizeRequest(10, 10)):
        assert core.core.holds("L1", message, lambda m=message: held.append(type(m).__name__))
    for message in (Ack(1, 1.0), Pong(0.0)):
        assert not core.core.holds("L1", message, lambda: held.append("never"))
    assert held == []
    for event in schedule.render_ended():
        event()
    assert held == ["Input", "AppMessage", "SizeRequest"]  # in the order they came


def test_a_sole_viewer_resizes_its_area_a_viewer_of_a_shared_one_does_not() -> None:
    core = Core()
    alone = core.accepted("L1", "Alone")
    core.core.message("L1", SizeRequest(400, 300), now=1.0)
    assert (alone.render_area.width, alone.render_area.height) == (400, 300)
    assert sent(core.core.take_actions()) == [Resize(400, 300)]
    assert ("area_resized", "Alone") in core.frames.calls
    core.accepted("L2", "Shared")
    shared = core.accepted("L3", "Shared")
    core.core.message("L3", SizeRequest(50, 50), now=1.0)
    assert (shared.render_area.width, shared.render_area.height) == (320, 200)
    assert core.core.take_actions() == []


def test_a_message_not_expected_from_a_browser_fails_its_link_alone_with_1002() -> None:
    core = Core()
    bad = core.accepted("L1", "A")
    good = core.accepted("L2", "B")
    core.core.message("L1", Accept("x", "y", "z", 1, 1, "png", "jpeg"), now=1.0)  # a service message
    assert sent(core.core.take_actions()) == [Error("Accept is not expected here"),
                                              ("close", CloseCode.PROTOCOL_ERROR)]
    assert bad.state is ConnectionState.CLOSED and good.is_open
    assert core.listener.calls[-4:] == ["on_closed_connection", "on_disposing_render_area", "on_disposed_render_area",
                                        "on_disconnected_client"]


# ---- closing


def test_the_last_connection_closing_disposes_its_area_after_its_draw_is_finished_and_forgets_its_client() -> None:
    core = Core()
    connection = core.accepted("L1")
    core.listener.calls.clear()
    core.core.closed("L1", aborted=True)
    assert core.core.take_actions() == []  # the peer closed it: nothing to send
    assert core.listener.calls == ["on_closed_connection", "on_disposing_render_area", "on_disposed_render_area",
                                   "on_disconnected_client"]
    assert core.frames.calls[-2:] == [("finish_render", "Area"), ("area_disposed", "Area")]
    assert connection.state is ConnectionState.CLOSED and connection.render_area.is_disposed
    assert core.core.render_areas == [] and core.core.clients == [] and core.scheduler.viewers("Area") == {}


def test_closing_a_connection_tells_the_browser_why_once_however_often_it_is_asked() -> None:
    core = Core()
    connection = core.accepted("L1")
    connection.close()  # the test's thread owns the core: it runs at once
    connection.close()
    core.core.fail("L1", CloseCode.INTERNAL_ERROR, "internal error", connection)
    assert sent(core.core.take_actions()) == [Disconnect(DisconnectReason.KICKED, "closed by the application"),
                                              ("close", CloseCode.KICKED)]
    connection.send_message("late")  # to a closed connection: nothing goes out
    assert core.core.take_actions() == []


def test_disposing_a_shared_area_closes_each_viewer_with_disposed() -> None:
    core = Core()
    one, two = core.accepted("L1", "Shared"), core.accepted("L2", "Shared")
    one.render_area.close_connections_and_dispose()
    actions = core.core.take_actions()
    for link in ("L1", "L2"):
        assert sent(actions, link) == [Disconnect(DisconnectReason.DISPOSED, "the render area was disposed"),
                                       ("close", CloseCode.DISPOSED)]
    assert not one.is_open and not two.is_open and one.render_area.is_disposed
