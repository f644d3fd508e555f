"""The service: its lifecycle, and the driver of its core (:mod:`remoteviz.service_core`): the inbox
and ``dispatch()``, where everything happens.

Threads (see ``docs/architecture.md``): the network thread (:mod:`remoteviz.transport`) posts
events to the service's inbox; ``dispatch()``, on the application's thread, takes them and hands
each to the core, whose decisions run every listener callback; it carries out the core's actions
(send, close, calibrate) on the links, renders, and hands frames to encoder threads
(:mod:`remoteviz.frame_path`), whose results come back through the inbox to be sent. All service
state is the core's, touched by the dispatch thread alone.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import functools
import logging
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from . import launch, render_threads, tls
from .access import AccessCheck, OriginPolicy
from .admission import Admission
from .audit import Audit
from .connection import Client, Connection, ConnectionParameters
from .dispatch_thread import DispatchThread
from .dispatch_thread import WrongThreadError as WrongThreadError  # re-exported: users catch it from here too
from .encoders import gpu_jpeg
from .failures import KindLog
from .frame_path import FramePath
from .http import HttpServer
from .limits import AdmissionLimits
from .link import Calibration, Link, Pending, TransportLimits
from .listeners import ServiceListener as ServiceListener  # re-exported: its remoteviz.service path stays
from .listeners import ServiceListeners
from .metrics import Monitoring
from .openings import log_openings
from .pipeline.pacing import MAX_WINDOW as MAX_FRAME_WINDOW  # noqa: F401 (the name tests and users import)
from .pipeline.scheduler import Scheduler
from .protocol import ClientMessage, CloseCode, Hello
from .render_area import RenderArea
from .scene_sync import SceneStreams
from .service_core import LATENCY_PROBE_INTERVAL as LATENCY_PROBE_INTERVAL  # its remoteviz.service path stays
from .service_core import Calibrate, Close, Send, ServiceCore
from .settings import RunMode as RunMode  # re-exported: both keep their remoteviz.service paths
from .settings import ServiceSettings as ServiceSettings
from .transport import Transport

log = logging.getLogger("remoteviz")


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
        self._listeners = ServiceListeners()
        self._monitoring = Monitoring()
        self._inbox: collections.deque[tuple[Callable[..., None], tuple[Any, ...]]] = collections.deque()
        self._wakeup = threading.Condition()
        self._async_wakers: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._transport: Transport | None = None
        self._http: HttpServer | None = None
        self._scheduler = Scheduler()  # when each area renders, what each connection is sent
        self._audit = Audit()  # one line per refusal or protocol error, rate-limited
        self._dispatch_thread = DispatchThread(self._post)  # which thread may change the state now
        self._handler_failures = KindLog()  # what raised in dispatch(), logged once per kind
        self._core = ServiceCore(self._scheduler, self._monitoring, self._audit, self._listeners, self,
                                 self._dispatch_thread, self._notebook_view)  # who is connected, every decision
        self._frames = FramePath(self._scheduler, self._monitoring, self._core, self._post)
        self._scenes = SceneStreams(self._core.send, self._post, self._core.frames_for)  # pages that draw client-side
        # What may run while scenes are drawn on render threads: a message is held if its area's is.
        self._beside_renders = (self._handle_message, self._frames.encoded, self._frames.rendered)
        self._stop = threading.Event()
        self._signalled: int | None = None  # the signal that asked run() to stop
        self._is_open = False
        self._open_error: Exception | None = None  # why the last open() failed
        self._access = AccessCheck(None)

    # ------------------------------------------------------------------ listeners, queries

    def add_listener(self, listener: ServiceListener) -> None:
        """Receive the service's notifications (safe from any thread: off the dispatch thread, from a
        coming ``dispatch()`` on)."""
        self._dispatch_thread.run(self._listeners.add, listener)

    def remove_listener(self, listener: ServiceListener) -> None:
        """Stop receiving the service's notifications (safe from any thread, as :meth:`add_listener`)."""
        self._dispatch_thread.run(self._listeners.remove, listener)

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
        return len(self._core.clients)

    @property
    def clients(self) -> list[Client]:
        """Connected clients."""
        return self._core.clients

    def get_client(self, client_id: str) -> Client | None:
        """The client with ``client_id``, or None."""
        return self._core.get_client(client_id)

    @property
    def render_areas(self) -> list[RenderArea]:
        """Existing render areas."""
        return self._core.render_areas

    def get_render_area(self, render_area_id: str) -> RenderArea | None:
        """The render area with ``render_area_id``, or None."""
        return self._core.get_render_area(render_area_id)

    # ------------------------------------------------------------------ lifecycle

    def open(self, settings: ServiceSettings | None = None) -> bool:
        """Start listening; False (with the reason logged) if the service cannot start."""
        if self._is_open:
            raise RuntimeError("the service is already open")
        # A service started by remoteviz-sessions listens where the manager says (remoteviz/launch.py).
        self.settings = launch.configure(settings or ServiceSettings())
        self._stop.clear()
        try:
            ssl_context = tls.server_context(self.settings, self._passphrase)
            self._access = AccessCheck(self.settings.access)
            self._core.configure(self.settings, Admission(self.settings, self._access))
            origins = OriginPolicy(self.settings.allowed_origins)
            gpu_jpeg.choose_backend(self.settings.jpeg_backend)  # JPEG on the GPU or CPU; ValueError if unknown
            self._http = HttpServer(self.settings.static_dir, self.settings.content_security_policy,
                                    self._monitoring.prometheus_text,
                                    functools.partial(self._listeners.call, "on_http_request"), self._post)
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
                    trusted_proxies=tuple(self.settings.trusted_proxies or ()),
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
        if self.settings.gl_device is not None:
            from .rendering import gl_platform  # here: `import remoteviz` loads no scene graph

            gl_platform.choose_device(self.settings.gl_device)  # before a render thread makes its context
        self._dispatch_thread.claim()  # this thread's until a dispatch() elsewhere takes it
        self._frames.open(self.settings.encoder_threads,
                          independent=self.settings.run_mode is RunMode.INDEPENDENT_SERVICE,
                          render_threads=self.settings.render_threads or render_threads.default_count())
        self._is_open = True
        log.info("remoteviz service listening on %s://%s:%d", "wss" if ssl_context else "ws",
                 self.settings.host, self.port)
        viewer = "" if self.settings.static_dir else " (the built-in viewer; /?area=ID shows render area ID)"
        for url in self.page_urls():
            log.info("open %s in a browser%s", url, viewer)
        log_openings(self.settings, origins, self._access, self.port)
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

    def close(self) -> None:
        """Dispose every render area, close every connection, stop listening.

        Call it on the dispatch thread, or once its loop has ended (a thread that has returned);
        from another thread while it lives it raises ``WrongThreadError``: call :meth:`stop`, and
        ``run()``/``serve()`` close the service themselves.
        """
        if not self._is_open:
            return
        self._dispatch_thread.check("Service.close()")
        self._core.close()
        self._carry_out()  # the viewers are told why before the transport stops
        assert self._transport is not None
        self._transport.stop()
        if self._http is not None:
            self._http.close()
        self._frames.close()
        self._scenes.close()
        # Encodes that finished meanwhile: let them close the encoders they were holding open.
        for handler, args in list(self._inbox):
            if handler == self._frames.encoded:
                handler(*args)
        self._inbox.clear()
        self._core.take_actions()  # for links that are gone with the transport
        self._transport = self._http = None
        self._is_open = False
        self._dispatch_thread.release()

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

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stop(self) -> None:
        """Ask :meth:`run` or :meth:`serve` to return (safe from any thread or a signal handler)."""
        self._stop.set()
        self._wake()

    def call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback(*args)`` on the dispatch thread, inside a coming ``dispatch()`` (safe from any thread).

        The way to run code that changes the service's state (or a scene) from another thread; an
        exception it raises is logged, and the service goes on.
        """
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
        """Create a render area up front (kept after its last connection); an existing id is returned as is.

        Dispatch thread only (before the service is open, or from a listener or ``call_soon``);
        from another thread it raises ``WrongThreadError``.
        """
        self._dispatch_thread.check("Service.create_render_area()")
        area = self._core.get_render_area(render_area_id)
        if area is not None:
            return area
        area = self._core.new_render_area(render_area_id, width, height)
        area.keep_alive = True
        return area

    # ------------------------------------------------------------------ dispatch

    def dispatch(self, timeout: float = 0.0) -> None:
        """Process what is pending: connections, input, messages, rendering, sending.

        Waits up to ``timeout`` seconds for something to do when nothing is pending. Every listener
        callback runs inside this call, on the calling thread, which is the *dispatch thread* from
        now on (one thread dispatches a service: a call from another, while the thread that
        dispatched it lives, raises ``WrongThreadError``). Nothing that goes wrong in handling one
        connection or one callback ends it: that is logged, and that connection alone is closed (1011).
        """
        if not self._is_open:
            raise RuntimeError("the service is not open")
        self._dispatch_thread.enter()
        self._carry_out()  # what the application asked for since the last dispatch() goes out before any wait
        with self._wakeup:
            now = time.monotonic()
            if not self._inbox and timeout > 0 and not self._scheduler.has_work(now):
                self._wakeup.wait(min(timeout, self._scheduler.sleep(now)))
        # Take only what is there now: work posted meanwhile waits for the next call, so one
        # flood cannot keep dispatch() from returning.
        for _ in range(len(self._inbox)):
            handler, args = self._inbox.popleft()
            try:
                if handler not in self._beside_renders:
                    self._frames.finish_renders()  # it may run application code that changes any scene
                handler(*args)
            except Exception as error:
                self._handling_failed(handler, args, error)
            self._carry_out()
        self._core.tick(time.monotonic())
        self._frames.run()
        self._scenes.flush()
        self._carry_out()

    def _carry_out(self) -> None:
        """Carry out the core's actions, in order, on the links (the network thread sends them)."""
        for action in self._core.take_actions():
            link = cast(Link, action.link)
            match action:
                case Send(data=data):
                    link.send(data)
                case Close(code=code, reason=reason):
                    link.close(code, reason)
                case Calibrate(seconds=seconds, client=client):
                    link.calibrate(seconds, functools.partial(self._post, self._calibrated, client))

    def _calibrated(self, client: Client, result: Calibration) -> None:
        """The network thread measured a page's link."""
        self._core.calibrated(client, result.latency_ms, result.bandwidth, result.measured, time.monotonic())

    def _handling_failed(self, handler: Callable[..., None], args: tuple[Any, ...], error: Exception) -> None:
        """A handler raised (a ``call_soon`` callback, or a bug): log it; the connections it was
        handling, if any, are closed through the one failure path, and everything else goes on."""
        connections = [a for a in args if isinstance(a, Connection)]
        connections += [c for a in args if isinstance(a, Client) for c in a.connections]
        links = [a for a in args if isinstance(a, Link) and not a.closing]
        links += [link for c in connections if (link := cast(Link | None, self._core.link_of(c))) is not None]
        name = getattr(handler, "__qualname__", repr(handler))
        logged, not_logged = self._handler_failures.should_log((name, type(error).__name__, str(error)[:200]),
                                                               time.monotonic())
        again = f" ({not_logged} more since it was last logged)" if not_logged else ""
        if not links:
            if logged:
                log.error("%s raised on the dispatch thread; the service goes on%s", name, again, exc_info=error)
            return
        if logged:
            log.error("handling %s for %s raised; closing that connection alone%s", name,
                      ", ".join(link.address for link in links), again, exc_info=error)
        for link in links:
            try:
                self._core.fail(link, CloseCode.INTERNAL_ERROR, "internal error", address=link.address)
            except Exception:
                log.exception("closing a connection after an internal error failed too")

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
        self._post(self._core.closed, link, aborted)

    # ------------------------------------------------------------------ the frame path's steps (FrameDriver)

    def finish_render(self, area: RenderArea) -> None:
        """The core disposes ``area``: its draw in flight is finished first."""
        self._frames.finish_render(area)

    def area_resized(self, area: RenderArea) -> None:
        """``area`` took a new size: its video streams restart."""
        self._frames.area_resized(area)

    def area_disposed(self, area: RenderArea) -> None:
        """``area`` was disposed: its encoders and render thread let go."""
        self._frames.area_disposed(area)

    def needs_key_frame(self, connection: Connection) -> None:
        """A browser cannot decode what follows until a key frame."""
        self._frames.needs_key_frame(connection)

    def scene_message(self, area: RenderArea, connection: Connection, message: ClientMessage, allowed: bool) -> None:
        """A client-side rendering message for the scene streams (``allowed``: INVENTOR_SERVICE mode)."""
        self._scenes.handle(area, connection, message, allowed)

    def _passphrase(self) -> str:
        """The TLS private key's passphrase, as the first listener to give one says."""
        answers = self._listeners.call("on_requested_private_key_passphrase")
        return next((a for a in answers if isinstance(a, str) and a), "")

    # ------------------------------------------------------------------ connecting

    def _open_connection(self, link: Link, area_id: str, parameters: ConnectionParameters, hello: Hello) -> None:
        if not link.closing:
            self._core.opened(link, link.address, area_id, parameters, hello, time.monotonic())

    # ------------------------------------------------------------------ messages from browsers

    def _handle_message(self, link: Link, pending: Pending) -> None:
        if self._core.holds(link, pending.message, functools.partial(self._handle_message, link, pending)):
            return  # its area is being drawn: handled when that ends (the link's inbox share still counts it)
        self._core.message(link, link.take(pending), time.monotonic())

    def _notebook_view(self, area: RenderArea, include: Any,
                       exclude: Any) -> dict[str, Any] | tuple[dict[Any, Any], dict[Any, Any]] | None:
        from .notebook_view import live_view  # anywidget, of the notebook extra: imported only where it is used

        return live_view(area, None, None, self)._repr_mimebundle_(include=include, exclude=exclude)


def _log_to_stderr_unless_configured() -> None:
    """Send the service's INFO messages to stderr when the application set up no logging at all."""
    if logging.getLogger().handlers or log.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    log.addHandler(handler)
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)
