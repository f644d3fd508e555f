"""The service core: who is connected and every decision about them, made without I/O.

It owns the records of the service's clients, connections and render areas (the tables, each
connection's state and outgoing window, each client's calibration, each area's schedule, its
failure and whether it is disposed) and nothing else writes them. It takes events (a link
:meth:`~ServiceCore.opened` with a hello, a :meth:`~ServiceCore.message`, a link
:meth:`~ServiceCore.closed`, a page :meth:`~ServiceCore.calibrated`, :meth:`~ServiceCore.tick`
with the time) and answers with actions (:class:`Send`, :class:`Close`, :class:`Calibrate`) that
the driver (:mod:`remoteviz.service`) takes with :meth:`~ServiceCore.take_actions` and carries out
on the network thread's links. It has no thread, socket or clock: the time comes in as ``now``,
links are keys it never calls, and one method ends a link, :meth:`~ServiceCore.fail`.

Two kinds of call go out of it at once, not as actions, because what they answer decides the next
step: the application's listeners (``on_requested_size``, an input callback's veto, a listener that
closes the connection it is told about), and the frame path's steps that must happen before the
core goes on (:class:`FrameDriver`: an area's draw in flight finished before it is disposed).

The frame half of the core's state is :mod:`remoteviz.pipeline` (the scheduler, each area's
schedule, each viewer's window), also sans-I/O. The public :class:`~remoteviz.connection.Client`,
:class:`~remoteviz.connection.Connection` and :class:`~remoteviz.render_area.RenderArea` are
handles: what they say of the service's bookkeeping they read here.
"""

from __future__ import annotations

import logging
import secrets
import weakref
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from . import protocol
from .admission import Admission
from .audit import Audit
from .connection import Client, Connection, ConnectionGroup, ConnectionParameters, ConnectionState
from .dispatch_thread import DispatchThread
from .listeners import FAILED, ServiceListeners, call_all, input_callback
from .metrics import Monitoring
from .pipeline.frames import Send as FrameSend
from .pipeline.scheduler import AreaSchedule, Scheduler
from .pipeline.sending import Outgoing
from .protocol import (
    Accept,
    Ack,
    AppMessage,
    CameraState,
    CloseCode,
    ContainerResize,
    Disconnect,
    DisconnectReason,
    Hello,
    Input,
    KeyFrameRequest,
    Notify,
    Ping,
    Pong,
    ProtocolError,
    RenderRequest,
    Resize,
    SceneAck,
    SizeRequest,
)
from .render_area import RenderArea
from .settings import RunMode, ServiceSettings

log = logging.getLogger("remoteviz.service")

LATENCY_PROBE_INTERVAL = 1.0
"""Seconds between latency probes of each client (MetricsListener.on_measured_network_latency)."""

Link = Hashable
"""A link, to the core: the key of one WebSocket connection, which the driver owns and the core never calls."""

_NONE: Mapping[str, Connection] = MappingProxyType({})  # the connections of a group the core does not hold

NotebookView = Callable[[RenderArea, Any, Any], dict[str, Any] | tuple[dict[Any, Any], dict[Any, Any]] | None]


# ---------------------------------------------------------------------------------------------- actions

@dataclass(frozen=True, slots=True)
class Send:
    """Send ``data`` (a serialized message, or a frame) on ``link``."""

    link: Link
    data: str | bytes


@dataclass(frozen=True, slots=True)
class Close:
    """Close ``link`` with ``code`` (after what was sent on it before)."""

    link: Link
    code: CloseCode
    reason: str


@dataclass(frozen=True, slots=True)
class Calibrate:
    """Measure ``link`` for up to ``seconds`` (the page of ``client``); the result comes back as
    :meth:`ServiceCore.calibrated`."""

    link: Link
    seconds: float
    client: Client


Action = Send | Close | Calibrate
"""What the core asks the driver to do, in order."""


class FrameDriver(Protocol):
    """The frame path's steps the core needs done before it goes on (the driver implements them)."""

    def finish_render(self, area: RenderArea) -> None:
        """Finish ``area``'s draw in flight, if any (the events it held run): it is about to be disposed."""

    def area_resized(self, area: RenderArea) -> None:
        """``area`` took a new size: its video streams restart at that size."""

    def area_disposed(self, area: RenderArea) -> None:
        """``area`` was disposed: its encoders and its render thread's place let go."""

    def needs_key_frame(self, connection: Connection) -> None:
        """The connection's browser cannot decode what follows until a key frame."""

    def scene_message(self, area: RenderArea, connection: Connection, message: protocol.ClientMessage,
                      allowed: bool) -> None:
        """A client-side rendering message (``allowed``: the area's mode has a scene to send)."""


# ---------------------------------------------------------------------------------------------- records

class _ConnectionRecord:
    """What the core keeps of one connection."""

    __slots__ = ("connection", "link", "address", "state", "outgoing", "container")

    def __init__(self, connection: Connection, link: Link, address: str, outgoing: Outgoing,
                 container: tuple[int, int]) -> None:
        self.connection = connection
        self.link = link
        self.address = address
        self.state = ConnectionState.HANDSHAKE
        self.outgoing = outgoing
        self.container = container  # the size of the page's element that holds the view


class _ClientRecord:
    """What the core keeps of one client (one page)."""

    __slots__ = ("client", "connections", "calibrating", "last_ping")

    def __init__(self, client: Client) -> None:
        self.client = client
        self.connections: dict[str, Connection] = {}
        self.calibrating: list[Connection] | None = None  # while its page is calibrated: who waits
        self.last_ping = 0.0


class _AreaRecord:
    """What the core keeps of one render area."""

    __slots__ = ("area", "connections", "schedule", "disposed")

    def __init__(self, area: RenderArea, schedule: AreaSchedule) -> None:
        self.area = area
        self.connections: dict[str, Connection] = {}
        self.schedule = schedule
        self.disposed = False


def waits_for_render(message: protocol.ClientMessage) -> bool:
    """Whether ``message`` runs its area's listeners or changes its scene, and so waits while the
    area is drawn on a render thread (acks, pongs and the like go on meanwhile)."""
    return isinstance(message, (Input, AppMessage, SizeRequest, RenderRequest, CameraState))


class ServiceCore:
    """Every decision about a service's clients, connections and render areas; actions out, no I/O."""

    __slots__ = ("_scheduler", "_monitoring", "_audit", "_listeners", "_frames", "_dispatch_thread",
                 "_notebook_view", "_settings", "_admission", "_clients", "_connections", "_by_connection",
                 "_forgotten", "_areas", "_disposed", "_actions", "__weakref__")

    def __init__(self, scheduler: Scheduler, monitoring: Monitoring, audit: Audit, listeners: ServiceListeners,
                 frames: FrameDriver, dispatch_thread: DispatchThread, notebook_view: NotebookView) -> None:
        """``listeners``: the service listeners, asked as things happen; ``frames``: the frame path's steps;
        ``dispatch_thread`` and ``notebook_view`` are handed to the handles the core makes (for their
        calls from other threads, and their Jupyter view), never used by the core itself."""
        self._scheduler = scheduler
        self._monitoring = monitoring
        self._audit = audit
        self._listeners = listeners
        self._frames = frames
        self._dispatch_thread = dispatch_thread
        self._notebook_view = notebook_view
        self._settings = ServiceSettings()
        self._admission = Admission()
        self._clients: dict[str, _ClientRecord] = {}
        self._connections: dict[Link, _ConnectionRecord] = {}
        self._by_connection: dict[Connection, _ConnectionRecord] = {}
        # What forgotten connections' handles still read (window, container size), while they live.
        self._forgotten: weakref.WeakKeyDictionary[Connection, tuple[Outgoing, tuple[int, int]]] = \
            weakref.WeakKeyDictionary()
        self._areas: dict[str, _AreaRecord] = {}
        self._disposed: weakref.WeakKeyDictionary[RenderArea, AreaSchedule] = weakref.WeakKeyDictionary()
        self._actions: list[Action] = []

    def configure(self, settings: ServiceSettings, admission: Admission) -> None:
        """The settings and admission questions of the service as it opens."""
        self._settings, self._admission = settings, admission

    def take_actions(self) -> list[Action]:
        """What the driver is to carry out now, in order (and forgotten here)."""
        actions, self._actions = self._actions, []
        return actions

    # ------------------------------------------------------------------ queries

    @property
    def clients(self) -> list[Client]:
        """The connected clients."""
        return [record.client for record in self._clients.values()]

    def get_client(self, client_id: str) -> Client | None:
        """The client ``client_id``, or None."""
        record = self._clients.get(client_id)
        return record.client if record is not None else None

    @property
    def render_areas(self) -> list[RenderArea]:
        """The render areas."""
        return [record.area for record in self._areas.values()]

    def get_render_area(self, area_id: str) -> RenderArea | None:
        """The render area ``area_id``, or None."""
        record = self._areas.get(area_id)
        return record.area if record is not None else None

    @property
    def num_connections(self) -> int:
        """Connections not yet forgotten."""
        return len(self._connections)

    def connection_on(self, link: Link) -> Connection | None:
        """The connection that came on ``link``, or None."""
        record = self._connections.get(link)
        return record.connection if record is not None else None

    def connection_state(self, connection: Connection) -> ConnectionState:
        """Where ``connection`` is in its life (CLOSED once forgotten)."""
        record = self._by_connection.get(connection)
        return record.state if record is not None else ConnectionState.CLOSED

    def outgoing(self, connection: Connection) -> Outgoing:
        """The connection's frames on their way (its window, newest-frame slot and rate)."""
        record = self._by_connection.get(connection)
        return record.outgoing if record is not None else self._forgotten[connection][0]

    def container_size(self, connection: Connection) -> tuple[int, int]:
        """The size of the page's element that holds ``connection``'s view, as the page last said."""
        record = self._by_connection.get(connection)
        return record.container if record is not None else self._forgotten[connection][1]

    def link_of(self, connection: Connection) -> Link | None:
        """The link ``connection`` came on while it is not forgotten."""
        record = self._by_connection.get(connection)
        return record.link if record is not None else None

    def connections_of(self, group: ConnectionGroup) -> Mapping[str, Connection]:
        """The connections of a client or a render area, by id (a read-only view)."""
        if isinstance(group, Client):
            client = self._clients.get(group.id)
            if client is not None and client.client is group:
                return MappingProxyType(client.connections)
        elif isinstance(group, RenderArea):
            area = self._areas.get(group.id)
            if area is not None and area.area is group:
                return MappingProxyType(area.connections)
        return _NONE

    def schedule(self, area: RenderArea) -> AreaSchedule:
        """When ``area`` renders next (for its life; a disposed area's, while encodes of it finish)."""
        record = self._areas.get(area.id)
        return record.schedule if record is not None and record.area is area else self._disposed[area]

    def is_disposed(self, area: RenderArea) -> bool:
        """Whether ``area`` was disposed (or never registered)."""
        record = self._areas.get(area.id)
        return record is None or record.area is not area or record.disposed

    def is_interacting(self, area: RenderArea, now: float) -> bool:
        """Whether input reached ``area`` less than its still delay before ``now``."""
        record = self._areas.get(area.id)
        return record is not None and record.area is area and record.schedule.is_interacting(now)

    def holds(self, link: Link, message: protocol.ClientMessage, event: Callable[[], None]) -> bool:
        """While the area of ``link``'s connection is drawn on a render thread, keep ``event`` (the
        handling of ``message``, which runs its listeners or changes its scene) for when the draw
        ends, and return True; else False: handle it now."""
        record = self._connections.get(link)
        if record is None or not record.state.live or not waits_for_render(message):
            return False
        return self._area(record.connection.render_area).schedule.hold(event)

    # ------------------------------------------------------------------ opening

    def opened(self, link: Link, address: str, area_id: str, parameters: ConnectionParameters, hello: Hello,
               now: float) -> None:
        """A browser on ``link`` (from ``address``) said hello, for render area ``area_id``: refuse it, or
        create its client, area and connection and start its handshake."""
        area_id = area_id.rstrip("/")  # ws://host/Parts/ is the area Parts, as a user means it
        refusal = self._admission.refusal(area_id, parameters, len(self._connections))
        if refusal is not None:  # before any client, render area or listener call
            self.fail(link, CloseCode.REFUSED, refusal, area_id=area_id, address=address)
            return
        client, new_client = self._client_for(self._admission.client_id(hello.client_id), hello)
        answer = self._area_for(area_id, client, parameters, hello, address)
        if not isinstance(answer, RenderArea):
            self.fail(link, CloseCode.REFUSED, answer, area_id=area_id, address=address)
            if new_client:
                self._drop_client(client)
            return
        area = answer
        connection = Connection(self, secrets.token_hex(8), client, area, parameters, hello, self._dispatch_thread)
        record = _ConnectionRecord(connection, link, address,
                                   Outgoing(connection.targets(), now, self._settings.frame_window),
                                   (hello.container_width, hello.container_height))
        self._connections[link] = self._by_connection[connection] = record
        self._clients[client.id].connections[connection.id] = connection
        self._areas[area.id].connections[connection.id] = connection
        self._monitoring.report("on_changed_num_connections", len(self._connections))
        call_all(area.listeners, "on_opened_connection", area, connection, connection.frame_encoders)
        if not self._admission.negotiate_encoders(area, connection):
            self.fail(link, CloseCode.REFUSED, "no frame encoder works for this browser", connection)
            return
        self._start_handshake(record, new_client)

    def _client_for(self, client_id: str, hello: Hello) -> tuple[Client, bool]:
        """The client ``client_id``, created (``on_connected_client``) if it is new; and whether it is."""
        record = self._clients.get(client_id)
        if record is not None:
            return record.client, False
        client = Client(self, client_id, hello)
        self._clients[client_id] = _ClientRecord(client)
        self._monitoring.report("on_changed_num_clients", len(self._clients))
        self._listeners.call("on_connected_client", client.id, client.network_performance)
        return client, True

    def _area_for(self, area_id: str, client: Client, parameters: ConnectionParameters, hello: Hello,
                  address: str) -> RenderArea | str:
        """The render area the connection (from ``address``) views (shared, or created now), or why it is refused."""
        existing = self._areas.get(area_id)
        if existing is not None:
            answers = self._listeners.call("on_pending_share_render_area", existing.area, client, parameters)
            if not any(a is not False and a is not FAILED for a in answers):
                return "the application refused to share this render area"
            return existing.area
        width, height = self._admission.requested_size(parameters, hello)
        answers = self._listeners.call("on_pending_create_render_area", area_id, width, height, client, parameters)
        accepted = [a for a in answers if a is not False and a is not FAILED]
        if not accepted:
            return "the application refused to create this render area"
        if len(self._areas) >= self._settings.max_render_areas:
            return "the service has reached its render area limit"
        if sum(r.area.creator_id == client.id for r in self._areas.values()) >= \
                self._settings.max_render_areas_per_client:
            return "this client has reached its render area limit"
        width, height = self.clamp_size(*self._admission.answered_size(accepted, width, height))
        refusal = self._pixel_refusal(width * height, client.id, address)
        if refusal is not None:
            return refusal
        return self.new_render_area(area_id, width, height, client.id, address)

    def new_render_area(self, area_id: str, width: int, height: int, creator_id: str | None = None,
                        creator_address: str | None = None) -> RenderArea:
        """Create a render area at ``width`` x ``height`` within the size limits (``on_instantiated_render_area``)."""
        area = RenderArea(self, area_id, *self.clamp_size(width, height), creator_id, creator_address,
                          self._dispatch_thread)
        schedule = AreaSchedule(self._settings.still_delay)
        self._areas[area_id] = _AreaRecord(area, schedule)
        self._scheduler.add_area(area_id, schedule)
        self._monitoring.report("on_changed_num_render_areas", len(self._areas))
        self._listeners.call("on_instantiated_render_area", area)
        return area

    def clamp_size(self, width: int, height: int) -> tuple[int, int]:
        """A requested size within ``max_width`` x ``max_height``."""
        settings = self._settings
        return max(1, min(int(width), settings.max_width)), max(1, min(int(height), settings.max_height))

    def _pixel_refusal(self, pixels: int, creator_id: str | None, creator_address: str | None,
                       replacing: RenderArea | None = None) -> str | None:
        """Why ``pixels`` more (in place of ``replacing``'s, for a resize) would break a pixel budget, or None.

        The pixels of the areas a client created count against its budget (``max_pixels_per_client``),
        those its address's clients created against the address's (``max_pixels_per_address``), and
        every area's against ``max_total_pixels``: so one client, or one address, cannot take every
        pixel the service has (areas the application created count in the total only).
        """
        settings = self._settings
        others = [r.area for r in self._areas.values() if r.area is not replacing]
        budgets = [("the service has", settings.max_total_pixels, others)]
        if creator_address is not None:
            budgets.insert(0, ("this address has", settings.max_pixels_per_address,
                               [a for a in others if a.creator_address == creator_address]))
        if creator_id is not None:
            budgets.insert(0, ("this client has", settings.max_pixels_per_client,
                               [a for a in others if a.creator_id == creator_id]))
        for subject, budget, areas in budgets:
            if sum(a.width * a.height for a in areas) + pixels > budget:
                return f"{subject} reached its pixel limit (render area memory)"
        return None

    # ------------------------------------------------------------------ the handshake

    def _start_handshake(self, record: _ConnectionRecord, new_client: bool) -> None:
        """Calibrate a new page's link first (another view of a page being calibrated waits), else accept."""
        connection = record.connection
        client = self._clients[connection.client.id]
        performance = client.client.network_performance
        if new_client and performance.calibration_enabled:
            client.calibrating = [connection]
            record.state = ConnectionState.CALIBRATING
            self.send(connection, Notify("startNetworkCalibration"))
            self._actions.append(Calibrate(record.link, performance.max_calibration_duration_ms / 1000.0,
                                           client.client))
            return
        if client.calibrating is not None:  # another view of this page is being calibrated
            client.calibrating.append(connection)
            record.state = ConnectionState.CALIBRATING
            self.send(connection, Notify("pendingNetworkCalibration"))
            return
        if new_client:
            self._listeners.call("on_initialized_client", client.client, performance)
        self._accept(record)

    def calibrated(self, client: Client, latency_ms: float, bandwidth: float, measured: bool, now: float) -> None:
        """The calibration of ``client``'s page finished: tell the page, then let its connections start."""
        record = self._clients.get(client.id)
        if record is None or record.client is not client:
            return
        waiting, record.calibrating = record.calibrating or [], None
        performance = client.network_performance
        performance.latency_ms, performance.bandwidth, performance.measured = latency_ms, bandwidth, measured
        record.last_ping = now
        waiting = [c for c in waiting if c.state.live]
        figures = {"bandwidth": round(bandwidth), "latency_ms": round(latency_ms, 3)}
        for connection in waiting:
            self.send(connection, Notify("finishedNetworkCalibration", figures))
        self._listeners.call("on_initialized_client", client, performance)
        for connection in waiting:
            if connection.state.live:
                self._accept(self._record(connection))

    def _accept(self, record: _ConnectionRecord) -> None:
        """The last step of connecting: on_initialized_connection, then accept; frames may flow."""
        connection = record.connection
        area = connection.render_area
        call_all(area.listeners, "on_initialized_connection", area, connection, connection.frame_encoders)
        if not record.state.live:  # a listener closed it
            return
        encoders = connection.frame_encoders
        self.send(connection, Accept(connection.id, connection.client.id, area.id, area.width, area.height,
                                     encoders.still_encoder.value, encoders.interactive_encoder.value))
        record.state = ConnectionState.OPEN
        record.outgoing.configure(connection.targets(), encoders.is_video)
        self._scheduler.add_viewer(area.id, connection.id, record.outgoing)
        failure = self._area(area).schedule.failure
        if failure is not None:
            self.send(connection, failure)  # what its viewers already know

    def tick(self, now: float) -> None:
        """Time passed: once a second per calibrated client, a ping whose pong measures the round trip."""
        for record in self._clients.values():
            if record.calibrating is None and now - record.last_ping >= LATENCY_PROBE_INTERVAL:
                connection = next((c for c in record.connections.values() if c.is_open), None)
                if connection is not None:
                    record.last_ping = now
                    self.send(connection, Ping(now))

    # ------------------------------------------------------------------ messages from browsers

    def message(self, link: Link, message: protocol.ClientMessage, now: float) -> None:
        """Deliver one message from ``link``'s browser; one not expected there fails the link (1002)."""
        record = self._connections.get(link)
        if record is None or not record.state.live:
            return
        try:
            self._route(record, message, now)
        except ProtocolError as error:
            self.fail(link, CloseCode.PROTOCOL_ERROR, str(error), record.connection)

    def _route(self, record: _ConnectionRecord, message: protocol.ClientMessage, now: float) -> None:
        connection = record.connection
        area = connection.render_area
        match message:
            case Ack(frame_id=frame_id, decode_ms=decode_ms):
                latency_ms = connection.client.network_performance.latency_ms
                _, send = record.outgoing.ack(frame_id, decode_ms, latency_ms, now)
                if decode_ms > 0:  # 0: the browser dropped the frame undecoded
                    self._monitoring.report("on_measured_decoding_time", decode_ms, connection)
                if send is not None:
                    self.transmit(connection, send)
            case Input(event=event, seq=seq):
                answers = call_all(area.listeners, *input_callback(area, connection, event), event=event)
                self._area(area).schedule.input_arrived(now)
                record.outgoing.input_taken(seq)
                if all(a is not False for a in answers) and self._settings.run_mode is RunMode.INVENTOR_SERVICE:
                    try:
                        area.scene_manager.process_event(event, area.width, area.height, render_area=area,
                                                         connection=connection)
                    except Exception:
                        log.exception("the scene of %r failed to process %r", area, event)
            case AppMessage(data=data):
                call_all(area.listeners, "on_received_message", area, connection, data)
            case SizeRequest(width=width, height=height):
                self._size_requested(record, width, height)
            case ContainerResize(width=width, height=height):
                record.container = (width, height)
            case KeyFrameRequest():
                self._frames.needs_key_frame(connection)
            case Pong(t=t):
                self._measured_latency(connection.client, (now - t) * 1000.0)
            case RenderRequest() | SceneAck() | CameraState():
                self._frames.scene_message(area, connection, message,
                                           self._settings.run_mode is RunMode.INVENTOR_SERVICE)
            case _:
                raise ProtocolError(f"{type(message).__name__} is not expected here")

    def _size_requested(self, record: _ConnectionRecord, width: int, height: int) -> None:
        connection = record.connection
        area = connection.render_area
        answers = call_all(area.listeners, "on_requested_size", area, connection, width, height)
        if any(a is False or a is FAILED for a in answers):
            return
        # Unless a listener says yes, only a sole viewer resizes: a viewer of a shared area must not
        # change what everybody else sees (a "size 1x1" for all).
        if not (any(a is True for a in answers) or area.num_connections == 1):
            return
        new_width, new_height = self.clamp_size(width, height)
        if self._pixel_refusal(new_width * new_height, area.creator_id, area.creator_address, area) is not None:
            return  # the memory of every area together stays bounded
        self.resize_render_area(area, width, height)

    def _measured_latency(self, client: Client, milliseconds: float) -> None:
        """A pong came back after ``milliseconds``: smooth it into the client's latency and report it."""
        if not 0.0 <= milliseconds < 600_000.0:
            return  # not a pong to any ping of ours: ignore rather than skew the figure
        performance = client.network_performance
        performance.latency_ms = milliseconds if not performance.latency_ms else (
            0.8 * performance.latency_ms + 0.2 * milliseconds)
        self._monitoring.report("on_measured_network_latency", milliseconds, client)

    # ------------------------------------------------------------------ sending

    def send(self, connection: Connection, message: protocol.ServiceMessage) -> None:
        """Send ``message`` to the connection's browser, unless it is closing or closed."""
        record = self._by_connection.get(connection)
        if record is not None and record.state.live:
            self._actions.append(Send(record.link, protocol.serialize(message)))

    def transmit(self, connection: Connection, send: FrameSend) -> None:
        """Carry out a send decision: the stream configuration if it is due, then the frame."""
        record = self._by_connection.get(connection)
        if record is None or not record.state.live:
            return
        frame = send.frame
        if frame.stream is not None:
            self._actions.append(Send(record.link, protocol.serialize(frame.stream)))
        self._actions.append(Send(record.link, frame.header.encode(send.frame_id) + frame.payload))
        self._monitoring.count("frames_sent")
        self._monitoring.count("frame_bytes_sent", len(frame.payload))

    def frames_for(self, connection: Connection, wanted: bool) -> None:
        """Stop or resume a connection's frames (a page that draws client-side needs none)."""
        record = self._by_connection.get(connection)
        if record is None or not record.state.live:
            return
        if wanted:
            self._scheduler.add_viewer(connection.render_area.id, connection.id, record.outgoing)
        else:
            self._scheduler.remove_viewer(connection.render_area.id, connection.id)

    # ------------------------------------------------------------------ ending

    def fail(self, link: Link, code: CloseCode, detail: str, connection: Connection | None = None, *,
             area_id: str | None = None, address: str | None = None) -> None:
        """The one way the service ends a link: log a refusal or protocol error, tell the browser why
        (``disconnect`` with the reason of ``code``, or ``error``), close with ``code``, forget its connection.
        """
        record = self._connections.get(link)
        if connection is not None or record is not None:
            if record is None or not record.state.live:
                return
            record.state = ConnectionState.CLOSING
            connection, address = record.connection, record.address
        address = address or "?"
        message: protocol.ServiceMessage
        if code is CloseCode.PROTOCOL_ERROR:
            self._audit.protocol_error(address, detail)
            message = protocol.Error(detail)
        elif code is CloseCode.INTERNAL_ERROR:  # logged, with its traceback, where it was caught
            message = protocol.Error(detail)
        else:
            reason = DisconnectReason[code.name]
            if reason is DisconnectReason.REFUSED:
                self._audit.refused(address, detail, area_id)
            message = Disconnect(reason, detail)
        self._actions.append(Send(link, protocol.serialize(message)))
        self._actions.append(Close(link, code, code.name.lower().replace("_", " ")))
        if connection is not None:
            self._remove(link, aborted=False)

    def close_connection(self, connection: Connection, reason: DisconnectReason, detail: str) -> None:
        """Tell the browser why, close its socket, and forget the connection now."""
        record = self._by_connection.get(connection)
        if record is not None and record.state.live:
            self.fail(record.link, CloseCode[reason.value], detail, connection)

    def closed(self, link: Link, aborted: bool) -> None:
        """``link`` closed (the peer, the network): forget its connection, if it had one."""
        self._remove(link, aborted)

    def _remove(self, link: Link, aborted: bool) -> None:
        """Forget a connection (``on_closed_connection``); an area or a client left without any goes too."""
        record = self._connections.pop(link, None)
        if record is None:
            return
        connection = record.connection
        record.state = ConnectionState.CLOSED
        del self._by_connection[connection]
        self._forgotten[connection] = (record.outgoing, record.container)
        area, client = connection.render_area, connection.client
        self._scheduler.remove_viewer(area.id, connection.id)
        area_record = self._areas.get(area.id)
        if area_record is not None and area_record.area is area:
            area_record.connections.pop(connection.id, None)
        client_record = self._clients.get(client.id)
        if client_record is not None and client_record.client is client:
            client_record.connections.pop(connection.id, None)
        self._monitoring.report("on_changed_num_connections", len(self._connections))
        call_all(area.listeners, "on_closed_connection", area, connection.id, aborted)
        if not area.num_connections and not area.keep_alive and not self.is_disposed(area):
            self.dispose_render_area(area, DisconnectReason.DISPOSED)
        if not client.num_connections:
            self._drop_client(client)

    def _drop_client(self, client: Client) -> None:
        """Forget a client without connections (``on_disconnected_client``)."""
        record = self._clients.get(client.id)
        if record is not None and record.client is client:
            del self._clients[client.id]
            self._monitoring.report("on_changed_num_clients", len(self._clients))
            self._listeners.call("on_disconnected_client", client.id)

    def dispose_render_area(self, area: RenderArea, reason: DisconnectReason,
                            detail: str = "the render area was disposed") -> None:
        """Close the area's connections with ``reason``, release it and forget it."""
        if self.is_disposed(area):
            return
        self._frames.finish_render(area)  # its scene is not drawn meanwhile; the events it held run first
        if self.is_disposed(area):
            return  # one of them disposed it
        record = self._areas[area.id]
        record.disposed = True
        self._listeners.call("on_disposing_render_area", area)
        for connection in list(record.connections.values()):
            self.close_connection(connection, reason, detail)
        area.release()
        del self._areas[area.id]
        self._disposed[area] = record.schedule
        self._frames.area_disposed(area)
        self._scheduler.remove_area(area.id)
        self._monitoring.report("on_changed_num_render_areas", len(self._areas))
        self._listeners.call("on_disposed_render_area", area.id)

    def close(self) -> None:
        """The service closes: dispose every area (their connections close), forget every client."""
        for record in list(self._areas.values()):
            self.dispose_render_area(record.area, DisconnectReason.DISPOSED, "the service is shutting down")
        self._connections.clear()
        self._by_connection.clear()
        self._clients.clear()

    # ------------------------------------------------------------------ render areas (their handles ask)

    def resize_render_area(self, area: RenderArea, width: int, height: int) -> None:
        """Resize ``area`` within the size limits; tell its listeners and its browsers, render at the new size."""
        width, height = self.clamp_size(width, height)
        if (width, height) == (area.width, area.height) or self.is_disposed(area):
            return
        area.take_size(width, height)
        self._frames.area_resized(area)
        call_all(area.listeners, "on_resize", area, width, height)
        for connection in area.connections:
            if connection.is_open:
                self.send(connection, Resize(width, height))
        self.request_redraw(area)

    def request_redraw(self, area: RenderArea) -> None:
        """``area``'s picture changed: render it as soon as its viewers can take a frame."""
        record = self._areas.get(area.id)
        if record is not None and record.area is area:
            record.schedule.request_redraw()

    def notebook_view(self, area: RenderArea, include: Any,
                      exclude: Any) -> dict[str, Any] | tuple[dict[Any, Any], dict[Any, Any]] | None:
        """The area's live view as Jupyter shows it; raises ImportError without the notebook extra."""
        return self._notebook_view(area, include, exclude)

    # ------------------------------------------------------------------ helpers

    def _record(self, connection: Connection) -> _ConnectionRecord:
        record = self._by_connection.get(connection)
        if record is None:
            raise KeyError(f"{connection!r} is not this service's")
        return record

    def _area(self, area: RenderArea) -> _AreaRecord:
        record = self._areas.get(area.id)
        if record is None or record.area is not area:
            raise KeyError(f"{area!r} is disposed")
        return record
