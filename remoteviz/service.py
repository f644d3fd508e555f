"""The service: settings, listener, lifecycle, and ``dispatch()``, where everything happens.

Threads (see ``docs/architecture.md``): the network thread (:mod:`remoteviz.transport`) posts
events to the service's inbox; ``dispatch()``, on the application's thread, takes them, runs every
listener callback, renders, and hands frames to encoder threads, whose results come back through
the inbox to be sent. All service state is touched by the dispatch thread alone.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import functools
import logging
import secrets
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from . import launch, protocol, render_threads
from .access import AccessCheck, OriginPolicy
from .admission import Admission
from .audit import Audit
from .connection import Client, Connection, ConnectionParameters, ConnectionState, NetworkPerformance
from .frame_path import FramePath
from .http import HttpRequest, HttpResponse, HttpServer
from .limits import AdmissionLimits
from .listeners import call_all
from .metrics import Monitoring
from .pipeline.pacing import MAX_WINDOW as MAX_FRAME_WINDOW  # noqa: F401 (the name tests and users import)
from .pipeline.scheduler import Scheduler
from .protocol import (
    Accept,
    CloseCode,
    Disconnect,
    DisconnectReason,
    Hello,
    Notify,
    Ping,
    ProtocolError,
    Resize,
)
from .render_area import RenderArea
from .routing import Router
from .settings import RunMode as RunMode  # re-exported: both keep their remoteviz.service paths
from .settings import ServiceSettings as ServiceSettings
from .transport import Calibration, Link, Pending, Transport, TransportLimits

log = logging.getLogger("remoteviz")


class ServiceListener:
    """Subclass and override what you need; every method has a sensible default.

    A typical order: on_connected_client, on_pending_create_render_area (or
    on_pending_share_render_area), on_instantiated_render_area, on_initialized_client, ...,
    on_disposing_render_area, on_disposed_render_area, on_disconnected_client. With several
    listeners, boolean answers are OR-ed. Every method runs on the dispatch thread.
    """

    def on_connected_client(self, client_id: str, network_performance: NetworkPerformance) -> None:
        """A new client connected; calibration can be configured on ``network_performance``."""

    def on_pending_create_render_area(self, render_area_id: str, width: int, height: int, client: Client,
                                      parameters: ConnectionParameters) -> bool | tuple[int, int] | None:
        """A connection asks for a render area that does not exist.

        Return False to refuse (the browser sees REFUSED), ``(width, height)`` to accept at another
        size, or True/None to accept at the requested size. ``parameters`` are the URL's query
        fields: the place to check an authentication token.
        """
        return True

    def on_pending_share_render_area(self, render_area: RenderArea, client: Client,
                                     parameters: ConnectionParameters) -> bool:
        """A connection asks to share an existing render area; return False to refuse."""
        return True

    def on_instantiated_render_area(self, render_area: RenderArea) -> None:
        """A render area was created: build its scene, attach a RenderAreaListener."""

    def on_disposing_render_area(self, render_area: RenderArea) -> None:
        """A render area is about to be disposed."""

    def on_disposed_render_area(self, render_area_id: str) -> None:
        """A render area was disposed."""

    def on_initialized_client(self, client: Client, network_performance: NetworkPerformance) -> None:
        """A client finished network calibration; the default copies the bandwidth into its settings."""
        client.settings.bandwidth = network_performance.bandwidth

    def on_disconnected_client(self, client_id: str) -> None:
        """A client's last connection closed."""

    def on_requested_private_key_passphrase(self) -> str:
        """The passphrase of an encrypted TLS private key."""
        return ""

    def on_http_request(self, request: HttpRequest) -> HttpResponse | None:
        """A plain HTTP request the service does not serve itself; None answers 404."""
        return None


LATENCY_PROBE_INTERVAL = 1.0
"""Seconds between latency probes of each client (MetricsListener.on_measured_network_latency)."""

_DEFAULT_SERVICE_LISTENER = ServiceListener()


class Service:
    """The rendering service: one per process through :meth:`instance`.

    ``open(settings)``, then ``dispatch()`` in a loop, then ``close()``; or ``run(settings)``; or
    ``await serve(settings)`` inside an asyncio application.
    """

    _instance: Service | None = None
    _instance_lock = threading.Lock()

    @classmethod
    def instance(cls) -> Service:
        """The process-wide service."""
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def __init__(self) -> None:
        self.settings = ServiceSettings()
        self._listeners: list[ServiceListener] = []
        self._monitoring = Monitoring()
        self._clients: dict[str, Client] = {}
        self._render_areas: dict[str, RenderArea] = {}
        self._connections: dict[Link, Connection] = {}
        self._inbox: collections.deque[tuple[Callable[..., None], tuple[Any, ...]]] = collections.deque()
        self._wakeup = threading.Condition()
        self._async_wakers: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._transport: Transport | None = None
        self._http: HttpServer | None = None
        self._scheduler = Scheduler()  # when each area renders, what each connection is sent
        self._frames = FramePath(self._scheduler, self._monitoring, self._render_areas, self._post, self._send)
        self._admission = Admission(self._render_areas, self._call_service, self._new_render_area, self._clamp_size,
                                    self._total_pixels)
        self._router = Router(self._monitoring, self._frames, self._measured_latency, self._fits,
                              lambda: self.settings.run_mode is RunMode.INVENTOR_SERVICE)
        # What may run while scenes are drawn on render threads: a message is held if its area's is.
        self._beside_renders = (self._handle_message, self._frames.encoded, self._frames.rendered)
        self._stop = threading.Event()
        self._signalled: int | None = None  # the signal that asked run() to stop
        self._is_open = False
        self._open_error: Exception | None = None  # why the last open() failed
        self._access = AccessCheck(None)
        self._audit = Audit()  # one line per refusal or protocol error, rate-limited

    # ------------------------------------------------------------------ listeners, queries

    def add_listener(self, listener: ServiceListener) -> None:
        """Receive the service's notifications."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def remove_listener(self, listener: ServiceListener) -> None:
        """Stop receiving the service's notifications."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def get_monitoring(self) -> Monitoring:
        """Where measurements are delivered."""
        return self._monitoring

    @property
    def is_open(self) -> bool:
        """True between a successful open() and close()."""
        return self._is_open

    @property
    def port(self) -> int:
        """The port listened on (useful with ``ServiceSettings.port = 0``)."""
        return self._transport.port if self._transport else 0

    @property
    def num_clients(self) -> int:
        """Connected clients."""
        return len(self._clients)

    @property
    def clients(self) -> list[Client]:
        """Connected clients."""
        return list(self._clients.values())

    def get_client(self, client_id: str) -> Client | None:
        """The client with ``client_id``, or None."""
        return self._clients.get(client_id)

    @property
    def render_areas(self) -> list[RenderArea]:
        """Existing render areas."""
        return list(self._render_areas.values())

    def get_render_area(self, render_area_id: str) -> RenderArea | None:
        """The render area with ``render_area_id``, or None."""
        return self._render_areas.get(render_area_id)

    # ------------------------------------------------------------------ lifecycle

    def open(self, settings: ServiceSettings | None = None) -> bool:
        """Start listening; False (with the reason logged) if the service cannot start."""
        if self._is_open:
            raise RuntimeError("the service is already open")
        # A service started by remoteviz-sessions listens where the manager says (remoteviz/launch.py).
        self.settings = launch.configure(settings or ServiceSettings())
        self._stop.clear()
        try:
            ssl_context = self._ssl_context()
            self._access = AccessCheck(self.settings.access)
            self._admission.configure(self.settings, self._access)
            origins = OriginPolicy(self.settings.allowed_origins)
            self._http = HttpServer(self.settings.static_dir, self.settings.content_security_policy,
                                    self._monitoring.prometheus_text,
                                    functools.partial(self._call_service, "on_http_request"), self._post)
            self._transport = Transport(
                events=self, http_handler=self._http.handle,
                limits=TransportLimits(
                    max_message_size=self.settings.max_message_size,
                    max_pending_events=self.settings.max_pending_events,
                    max_pending_bytes=self.settings.max_pending_bytes,
                    max_outgoing_bytes=self.settings.max_outgoing_bytes,
                    max_inbound_rate=self.settings.max_inbound_rate,
                    max_message_rate=self.settings.max_message_rate,
                    admission=AdmissionLimits(
                        max_sockets=self.settings.max_connections + self.settings.max_connections_without_hello,
                        max_sockets_per_address=self.settings.max_connections_per_address,
                        max_unidentified=self.settings.max_connections_without_hello,
                        max_unidentified_per_address=self.settings.max_connections_without_hello_per_address),
                    hello_timeout=self.settings.hello_timeout,
                    keepalive_interval=self.settings.keepalive_interval,
                    keepalive_timeout=self.settings.keepalive_timeout),
                ssl_context=ssl_context, origins=origins, audit=self._audit)
            self._transport.start(self.settings.host, self.settings.port, unix_path=launch.unix_socket())
        except (OSError, ssl.SSLError, ValueError) as error:
            log.error("the service cannot open on %s:%s: %s", self.settings.host, self.settings.port, error)
            self._transport = None
            self._open_error = error
            launch.report_failure(str(error))
            return False
        self._open_error = None
        self._frames.open(self.settings.encoder_threads,
                          independent=self.settings.run_mode is RunMode.INDEPENDENT_SERVICE,
                          render_threads=self.settings.render_threads or render_threads.default_count())
        self._is_open = True
        log.info("remoteviz service listening on %s://%s:%d", "wss" if ssl_context else "ws",
                 self.settings.host, self.port)
        viewer = "" if self.settings.static_dir else " (the built-in viewer; /?area=ID shows render area ID)"
        for url in self.page_urls():
            log.info("open %s in a browser%s", url, viewer)
        self._log_openings(origins)
        launch.attach(self)
        return True

    def page_urls(self) -> list[str]:
        """Where a browser finds the service's page: the static folder's, or the built-in viewer.

        A service listening on every interface (``0.0.0.0``, ``::``) is named by loopback and by
        this machine's host name.
        """
        if not self._is_open:
            return []
        scheme = "https" if self.settings.is_secure else "http"
        host = self.settings.host
        hosts = ["127.0.0.1", socket.gethostname()] if host in ("", "0.0.0.0", "::") else [host]
        return [f"{scheme}://{f'[{h}]' if ':' in h else h}:{self.port}/" for h in hosts]

    def _log_openings(self, origins: OriginPolicy) -> None:
        """Say at start what the settings open up: each is an explicit choice of the application."""
        if origins.allows_any and self._access.enabled:
            log.info("allowed_origins is ['*']: pages of any web site may connect, with an access token")
        elif origins.allows_any:
            log.warning("allowed_origins is ['*']: pages of any web site may connect in their visitors' name")
        elif self.settings.allowed_origins:
            log.info("pages of these origins may connect too: %s", ", ".join(self.settings.allowed_origins))
        if not self._access.enabled:
            level = logging.INFO if self.settings.host in ("127.0.0.1", "::1", "localhost") else logging.WARNING
            log.log(level, "no access token is required: whoever reaches %s:%d may open render areas "
                    "(set ServiceSettings.access to require one)", self.settings.host, self.port)

    def close(self) -> None:
        """Dispose every render area, close every connection, stop listening."""
        if not self._is_open:
            return
        for area in self.render_areas:
            self._dispose_render_area(area, DisconnectReason.DISPOSED, "the service is shutting down")
        assert self._transport is not None
        self._transport.stop()
        if self._http is not None:
            self._http.close()
        self._frames.close()
        # Encodes that finished meanwhile: let them close the encoders they were holding open.
        for handler, args in list(self._inbox):
            if handler == self._frames.encoded:
                handler(*args)
        self._inbox.clear()
        self._connections.clear()
        self._clients.clear()
        self._transport = self._http = None
        self._is_open = False

    def _open_or_raise(self, settings: ServiceSettings | None) -> None:
        if self.open(settings):
            return
        error = self._open_error
        where = f"{self.settings.host}:{self.settings.port}"
        message = f"the service could not open on {where}: {error}"
        if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
            message = (f"the service could not open on {where}: port {self.settings.port} is in use; stop "
                       "what listens there or pick another port (port=0 picks a free one)")
        code = getattr(error, "errno", None)
        raise (OSError(code, message) if code is not None else OSError(message)) from error

    def _ssl_context(self) -> ssl.SSLContext | None:
        """A TLS context from the settings' certificate and key, or None for plain ws://."""
        if not self.settings.is_secure:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2

        def passphrase() -> str:
            answers = self._call_service("on_requested_private_key_passphrase")
            return next((a for a in answers if isinstance(a, str) and a), "")

        assert self.settings.certificate_path is not None  # is_secure
        context.load_cert_chain(self.settings.certificate_path, self.settings.private_key_path,
                                password=passphrase)
        return context

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stop(self) -> None:
        """Ask :meth:`run` or :meth:`serve` to return (safe from any thread or a signal handler)."""
        self._stop.set()
        self._wake()

    def call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback(*args)`` on the dispatch thread, inside a coming ``dispatch()`` (safe from any thread)."""
        self._post(callback, *args)

    def run(self, settings: ServiceSettings | None = None) -> None:
        """Open, dispatch until :meth:`stop`, Ctrl-C (SIGINT) or SIGTERM, then close.

        On the main thread, both signals only ask the loop to stop (no KeyboardInterrupt lands in
        the middle of anything): every viewer is then closed with DISPOSED (4001), and ``run()``
        returns normally, so the process exits 0. The previous handlers are put back afterwards.
        Where the application has configured no logging, the service's INFO messages (the URLs to
        open among them) go to stderr. Raises OSError, caused by the real error, when the service
        cannot open (a port in use, a certificate that does not load).
        """
        _log_to_stderr_unless_configured()
        self._open_or_raise(settings)
        previous = self._handle_stop_signals()
        try:
            while not self._stop.is_set() and self._signalled is None:
                self.dispatch(timeout=1.0)
            if self._signalled is not None:
                log.info("%s received; closing the service", signal.Signals(self._signalled).name)
        finally:
            self.close()
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _handle_stop_signals(self) -> dict[int, Any]:
        """Make SIGINT and SIGTERM stop :meth:`run`; the handlers they had before."""
        self._signalled = None
        if threading.current_thread() is not threading.main_thread():
            return {}  # only the main thread may set handlers; the application owns signals then

        def handler(number: int, frame: object) -> None:
            # A plain attribute and a wake-up: nothing here can wait for a lock the interrupted
            # code holds (the wake-up's lock is reentrant, and the signal runs on this thread).
            self._signalled = number
            self._wake()

        previous: dict[int, Any] = {}
        for number in (signal.SIGINT, signal.SIGTERM):
            previous[number] = signal.signal(number, handler)
        return previous

    async def serve(self, settings: ServiceSettings | None = None) -> None:
        """Like :meth:`run`, for an application that owns an asyncio loop: callbacks run on it."""
        _log_to_stderr_unless_configured()
        self._open_or_raise(settings)
        await self.dispatch_until_stopped()

    async def dispatch_until_stopped(self) -> None:
        """Dispatch an open service on the running asyncio loop until :meth:`stop`, then close it.

        What :meth:`serve` does after opening; call it yourself after :meth:`open` to start the
        loop as a task and go on meanwhile (a Jupyter kernel's loop: ``remoteviz.notebook``).
        """
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        waker = (loop, event)
        self._async_wakers.append(waker)
        try:
            while not self._stop.is_set():
                event.clear()
                self.dispatch()
                timeout = self._scheduler.sleep(time.monotonic())
                try:
                    await asyncio.wait_for(event.wait(), timeout)
                except TimeoutError:
                    pass
        finally:
            self._async_wakers.remove(waker)
            self.close()

    def create_render_area(self, render_area_id: str, width: int, height: int) -> RenderArea:
        """Create a render area up front (kept after its last connection); an existing id is returned as is."""
        area = self._render_areas.get(render_area_id)
        if area is not None:
            return area
        area = self._new_render_area(render_area_id, width, height)
        area.keep_alive = True
        return area

    # ------------------------------------------------------------------ dispatch

    def dispatch(self, timeout: float = 0.0) -> None:
        """Process what is pending: connections, input, messages, rendering, sending.

        Waits up to ``timeout`` seconds for something to do when nothing is pending. Every listener
        callback runs inside this call, on the calling thread.
        """
        if not self._is_open:
            raise RuntimeError("the service is not open")
        with self._wakeup:
            now = time.monotonic()
            if not self._inbox and timeout > 0 and not self._scheduler.has_work(now):
                self._wakeup.wait(min(timeout, self._scheduler.sleep(now)))
        # Take only what is there now: work posted meanwhile waits for the next call, so one
        # flood cannot keep dispatch() from returning.
        for _ in range(len(self._inbox)):
            handler, args = self._inbox.popleft()
            if handler not in self._beside_renders:
                self._frames.finish_renders()  # it may run application code that changes any scene
            handler(*args)
        self._probe_latency()
        self._frames.run()

    def _probe_latency(self) -> None:
        """Once a second per client, a ping whose pong measures the round trip."""
        now = time.monotonic()
        for client in self._clients.values():
            if client._calibrating is None and now - client._last_ping >= LATENCY_PROBE_INTERVAL:
                connection = next((c for c in client._connections.values() if c.is_open), None)
                if connection is not None:
                    client._last_ping = now
                    self._send(connection, Ping(now))

    def _measured_latency(self, client: Client, milliseconds: float) -> None:
        if not 0.0 <= milliseconds < 600_000.0:
            return  # not a pong to any ping of ours: ignore rather than skew the figure
        performance = client.network_performance
        performance.latency_ms = milliseconds if not performance.latency_ms else (
            0.8 * performance.latency_ms + 0.2 * milliseconds)
        self._monitoring.report("on_measured_network_latency", milliseconds, client)

    def _post(self, handler: Callable[..., None], *args: Any) -> None:
        self._inbox.append((handler, args))
        self._wake()

    def _wake(self) -> None:
        with self._wakeup:
            self._wakeup.notify_all()
        for loop, event in list(self._async_wakers):
            loop.call_soon_threadsafe(event.set)

    # ------------------------------------------------------------------ transport events (network thread)

    def link_opened(self, link: Link, render_area_id: str, parameters: dict[str, str], hello: Hello) -> None:
        """Network thread: a client said hello."""
        self._post(self._open_connection, link, render_area_id, ConnectionParameters(parameters), hello)

    def link_message(self, link: Link, pending: Pending) -> None:
        """Network thread: a message arrived."""
        self._post(self._handle_message, link, pending)

    def link_closed(self, link: Link, aborted: bool) -> None:
        """Network thread: the link closed."""
        self._post(self._link_closed, link, aborted)

    # ------------------------------------------------------------------ listener calls

    def _service_listeners(self) -> list[ServiceListener]:
        return list(self._listeners) or [_DEFAULT_SERVICE_LISTENER]

    def _call_service(self, method: str, *args: Any) -> list[Any]:
        return call_all(self._service_listeners(), method, *args)

    # ------------------------------------------------------------------ connecting

    def _open_connection(self, link: Link, area_id: str, parameters: ConnectionParameters, hello: Hello) -> None:
        if link.closing:
            return
        area_id = area_id.rstrip("/")  # ws://host/Parts/ is the area Parts, as a user means it
        refusal = self._admission.refusal(area_id, parameters, len(self._connections))
        if refusal is not None:  # before any client, render area or listener call
            self._fail(link, CloseCode.REFUSED, refusal, area_id=area_id)
            return
        client_id = self._admission.client_id(hello.client_id)
        client = self._clients.get(client_id)
        new_client = client is None
        if client is None:
            client = Client(client_id, hello)
            self._clients[client.id] = client
            self._monitoring.report("on_changed_num_clients", len(self._clients))
            self._call_service("on_connected_client", client.id, client.network_performance)

        answer = self._admission.area_for(area_id, client, parameters, hello)
        area, refusal = (answer, None) if isinstance(answer, RenderArea) else (None, answer)
        if area is None:
            self._fail(link, CloseCode.REFUSED, refusal or "refused", area_id=area_id)
            if new_client:
                self._drop_client(client)
            return

        connection = Connection(self, secrets.token_hex(8), client, area, parameters, hello, link,
                                self.settings.frame_window)
        self._connections[link] = connection
        client._connections[connection.id] = connection
        area._connections[connection.id] = connection
        self._monitoring.report("on_changed_num_connections", len(self._connections))
        area._call("on_opened_connection", area, connection, connection.frame_encoders)
        if not self._admission.negotiate_encoders(area, connection):
            self._fail(link, CloseCode.REFUSED, "no frame encoder works for this browser", connection)
            return
        performance = client.network_performance
        if new_client and performance.calibration_enabled:
            client._calibrating = [connection]
            connection.state = ConnectionState.CALIBRATING
            self._send(connection, Notify("startNetworkCalibration"))
            link.calibrate(performance.max_calibration_duration_ms / 1000.0,
                           functools.partial(self._post, self._calibrated, client))
            return
        if client._calibrating is not None:  # another view of this page is being calibrated
            client._calibrating.append(connection)
            connection.state = ConnectionState.CALIBRATING
            self._send(connection, Notify("pendingNetworkCalibration"))
            return
        if new_client:
            self._call_service("on_initialized_client", client, performance)
        self._initialize_connection(connection)

    def _calibrated(self, client: Client, result: Calibration) -> None:
        """Network thread's calibration finished: tell the page, then let its connections start."""
        waiting, client._calibrating = client._calibrating or [], None
        if self._clients.get(client.id) is not client:
            return
        performance = client.network_performance
        performance.latency_ms, performance.bandwidth = result.latency_ms, result.bandwidth
        performance.measured = result.measured
        client._last_ping = time.monotonic()
        waiting = [c for c in waiting if c.state.live]
        figures = {"bandwidth": round(result.bandwidth), "latency_ms": round(result.latency_ms, 3)}
        for connection in waiting:
            self._send(connection, Notify("finishedNetworkCalibration", figures))
        self._call_service("on_initialized_client", client, performance)
        for connection in waiting:
            if connection.state.live:
                self._initialize_connection(connection)

    def _initialize_connection(self, connection: Connection) -> None:
        """The last step of connecting: on_initialized_connection, then accept; frames may flow."""
        area = connection.render_area
        area._call("on_initialized_connection", area, connection, connection.frame_encoders)
        if not connection.state.live:  # a listener closed it
            return
        encoders = connection.frame_encoders
        self._send(connection, Accept(connection.id, connection.client.id, area.id, area.width, area.height,
                                      encoders.still_encoder.value, encoders.interactive_encoder.value))
        connection.state = ConnectionState.OPEN
        connection.outgoing.configure(connection._targets(), connection.frame_encoders.is_video)
        self._scheduler.add_viewer(area.id, connection.id, connection.outgoing)
        if area._failure is not None:
            self._send(connection, area._failure)  # what its viewers already know

    def _total_pixels(self) -> int:
        return sum(a.width * a.height for a in self._render_areas.values())

    def _fits(self, area: RenderArea, width: int, height: int) -> bool:
        """Whether ``area`` resized to ``width`` x ``height`` keeps every area's pixels within the limit."""
        new_width, new_height = self._clamp_size(width, height)
        return self._total_pixels() - area.width * area.height + new_width * new_height <= \
            self.settings.max_total_pixels

    def _clamp_size(self, width: int, height: int) -> tuple[int, int]:
        return (max(1, min(int(width), self.settings.max_width)),
                max(1, min(int(height), self.settings.max_height)))

    def _fail(self, link: Link, code: CloseCode, detail: str, connection: Connection | None = None, *,
              area_id: str | None = None) -> None:
        """The one way the service ends a link: log a refusal or protocol error, tell the browser why
        (``disconnect`` with the reason of ``code``, or ``error``), close with ``code``, forget its connection.
        """
        if connection is not None:
            if not connection.state.live:
                return
            connection.state = ConnectionState.CLOSING
        message: protocol.ServiceMessage
        if code is CloseCode.PROTOCOL_ERROR:
            self._audit.protocol_error(link.address, detail)
            message = protocol.Error(detail)
        else:
            reason = DisconnectReason[code.name]
            if reason is DisconnectReason.REFUSED:
                self._audit.refused(link.address, detail, area_id)
            message = Disconnect(reason, detail)
        link.send(protocol.serialize(message))
        link.close(code, code.name.lower().replace("_", " "))
        if connection is not None:
            self._remove_connection(connection, aborted=False)

    def _new_render_area(self, area_id: str, width: int, height: int) -> RenderArea:
        area = RenderArea(self, area_id, *self._clamp_size(width, height), self.settings.still_delay)
        self._render_areas[area_id] = area
        self._scheduler.add_area(area_id, area.schedule)
        self._monitoring.report("on_changed_num_render_areas", len(self._render_areas))
        self._call_service("on_instantiated_render_area", area)
        return area

    # ------------------------------------------------------------------ closing

    def _link_closed(self, link: Link, aborted: bool) -> None:
        connection = self._connections.get(link)
        if connection is not None:
            self._remove_connection(connection, aborted)

    def _close_connection(self, connection: Connection, reason: DisconnectReason, detail: str) -> None:
        """Tell the browser why, close its socket, and forget the connection now."""
        link: Link = connection._link  # type: ignore[assignment]
        self._fail(link, CloseCode[reason.value], detail, connection)

    def _remove_connection(self, connection: Connection, aborted: bool) -> None:
        link: Link = connection._link  # type: ignore[assignment]
        if self._connections.pop(link, None) is None:
            return
        connection.state = ConnectionState.CLOSED
        self._scheduler.remove_viewer(connection.render_area.id, connection.id)
        area, client = connection.render_area, connection.client
        area._connections.pop(connection.id, None)
        client._connections.pop(connection.id, None)
        self._monitoring.report("on_changed_num_connections", len(self._connections))
        area._call("on_closed_connection", area, connection.id, aborted)
        if not area._connections and not area.keep_alive and not area.is_disposed:
            self._dispose_render_area(area, DisconnectReason.DISPOSED)
        if not client._connections:
            self._drop_client(client)

    def _drop_client(self, client: Client) -> None:
        if self._clients.pop(client.id, None) is not None:
            self._monitoring.report("on_changed_num_clients", len(self._clients))
            self._call_service("on_disconnected_client", client.id)

    def _notebook_view(self, area: RenderArea, include: Any,
                       exclude: Any) -> dict[str, Any] | tuple[dict[Any, Any], dict[Any, Any]] | None:
        from .notebook import view  # the notebook extra, imported only where it is used

        return view(area, service=self)._repr_mimebundle_(include=include, exclude=exclude)

    def _dispose_render_area(self, area: RenderArea, reason: DisconnectReason,
                             detail: str = "the render area was disposed") -> None:
        if area.is_disposed:
            return
        self._frames.forget(area)  # its scene is not drawn meanwhile; the events it held run first
        if area.is_disposed:
            return  # one of them disposed it
        area.is_disposed = True
        self._call_service("on_disposing_render_area", area)
        for connection in area.connections:
            self._close_connection(connection, reason, detail)
        area._encoders.reset()
        self._frames.close_retired(area)
        area.show_preview(False)
        if area._scene_manager is not None:
            try:
                area._scene_manager.dispose()
            except Exception:
                log.exception("disposing the scene of %r failed", area)
        self._render_areas.pop(area.id, None)
        self._scheduler.remove_area(area.id)
        self._monitoring.report("on_changed_num_render_areas", len(self._render_areas))
        self._call_service("on_disposed_render_area", area.id)

    # ------------------------------------------------------------------ messages from browsers

    def _handle_message(self, link: Link, pending: Pending) -> None:
        connection = self._connections.get(link)
        if connection is not None and connection.state.live and Router.waits_for_render(pending.message) and \
                connection.render_area.schedule.hold(functools.partial(self._handle_message, link, pending)):
            return  # its area is being drawn: handled when that ends (the link's inbox share still counts it)
        message = link.take(pending)
        if connection is None or not connection.state.live:
            return
        try:
            self._router.route(connection, message)
        except ProtocolError as error:
            self._fail(link, CloseCode.PROTOCOL_ERROR, str(error), connection)

    # ------------------------------------------------------------------ resizing

    def _resize_render_area(self, area: RenderArea, width: int, height: int) -> None:
        width, height = self._clamp_size(width, height)
        if (width, height) == (area.width, area.height):
            return
        area._width, area._height = width, height
        area._encoders.reset()  # every video stream restarts at the new size with a key frame
        self._frames.close_retired(area)
        area._call("on_resize", area, width, height)
        message = protocol.serialize(Resize(width, height))
        for connection in area.connections:
            if connection.is_open:
                connection._link.send(message)  # type: ignore[attr-defined]
        area.request_redraw()
        self._wake()

    # ------------------------------------------------------------------ sending

    def _send(self, connection: Connection, message: protocol.ServiceMessage) -> None:
        if connection.state.live:
            connection._link.send(protocol.serialize(message))  # type: ignore[attr-defined]

def _log_to_stderr_unless_configured() -> None:
    """Send the service's INFO messages to stderr when the application set up no logging at all."""
    if logging.getLogger().handlers or log.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    log.addHandler(handler)
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)
