"""One instance's life: its state, its readiness, its heartbeat, its timeouts, its end.

::

    launching ──ready line──► ready ──viewer──► in_use ──last viewer left──► draining
        │                       │  ▲                                           │  │
        │ start_timeout,        │  └─────────── viewer came back within grace ─┘  │
        │ failed, exit          │ initial_use_timeout, idle, max_age, DELETE,     │ grace over
        ▼                       ▼ manager stop: "stop", SIGTERM                   ▼ "stop", SIGTERM
      exited ◄──exit──────── draining ◄──────────────────────────────────────────┘
                                │ still running after kill_grace: SIGKILL
                                ▼
      exited ◄──exit──────── killed        (unresponsive: 3 heartbeats unanswered, then SIGTERM)

Every state change happens on the manager's event loop, driven by the child's exit (awaited),
its control lines (``ready``, ``pong``) and one timer per instance.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .backend import Address, CapacityError, InstanceHandle, LaunchSpec, TcpAddress

log = logging.getLogger("remoteviz.sessions")

MISSED_HEARTBEATS = 3
"""Heartbeats without an answer after which an instance counts as hung."""

TICK = 0.25
"""The longest an instance's timer sleeps: how late a coarse timeout (idle, max_age...) may be seen."""

EXIT_LINES_GRACE = 1.0
"""Seconds an instance that exited before it was ready has for its last control lines to be read."""

STOP_LINE_GRACE = 1.0
"""Seconds an instance asked to stop on its control channel has before SIGTERM."""


class State(enum.Enum):
    """Where an instance is in its life."""

    LAUNCHING = "launching"
    READY = "ready"
    IN_USE = "in_use"
    DRAINING = "draining"
    UNRESPONSIVE = "unresponsive"
    KILLED = "killed"
    EXITED = "exited"


@dataclass(frozen=True)
class Timeouts:
    """The seconds that end an instance (from the configuration)."""

    start: float
    initial_use: float
    idle: float
    max_age: float
    heartbeat: float
    kill_grace: float
    reconnect_grace: float


class StartError(Exception):
    """The instance did not become ready; ``str()`` says why, ``port_busy`` if its port was taken,
    ``capacity`` if the backend had no room."""

    def __init__(self, reason: str, port_busy: bool = False, capacity: bool = False) -> None:
        super().__init__(reason)
        self.port_busy = port_busy
        self.capacity = capacity


class Instance:
    """A viewer service started for one session."""

    def __init__(self, spec: LaunchSpec, timeouts: Timeouts, on_exit: Callable[[Instance], None],
                 on_end_reason: Callable[[str], None], created: float | None = None) -> None:
        self.spec = spec
        self.id = spec.session_id
        self.app = spec.app.name
        self.state = State.LAUNCHING
        self.created = time.time() if created is None else created
        self._started = time.monotonic() - max(0.0, time.time() - self.created)
        self.port = spec.port  # the reserved port; replaced by the bound one on ready (0: a Unix socket)
        self.address: Address | None = None  # where the manager reaches it, once ready
        self.end_reason: str | None = None
        self.exit_status: int | None = None
        self.viewers = 0  # connections relayed by the proxy
        self.reported_connections = 0  # connections the instance itself counts (REST clients too)
        self.ever_used = False
        self._timeouts = timeouts
        self._on_exit = on_exit
        self._on_end_reason = on_end_reason
        self._handle: InstanceHandle | None = None
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last_pong = time.monotonic()
        self._last_activity = time.monotonic()
        self._ready_at: float | None = None
        self._drain_since: float | None = None
        self._terminated_at: float | None = None  # when it was asked to stop
        self._sigterm_at: float | None = None
        self._ping = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._reader: asyncio.Task[None] | None = None
        self.exited = asyncio.Event()

    def __repr__(self) -> str:
        return f"<Instance {self.id} {self.app} {self.state.value}>"

    # ------------------------------------------------------------------ facts

    @property
    def pid(self) -> int | None:
        """The process id, once started."""
        return self._handle.pid if self._handle is not None else None

    @property
    def access_secret(self) -> str:
        """The secret its tokens are signed with (the one the instance was started with)."""
        given = self._handle.access_secret if self._handle is not None else None
        return given or self.spec.access_secret

    @property
    def age(self) -> float:
        """Seconds since it was requested."""
        return time.monotonic() - self._started

    @property
    def is_live(self) -> bool:
        """Not ended and not being ended: it may take viewers."""
        return self.state in (State.LAUNCHING, State.READY, State.IN_USE) or (
            self.state is State.DRAINING and self._terminated_at is None)

    def memory(self) -> int | None:
        """The instance's resident memory in bytes, if known."""
        return self._handle.memory() if self._handle is not None else None

    def describe(self) -> dict[str, object]:
        """The instance as ``GET /api/sessions/{id}`` shows it (no secret in it)."""
        return {"id": self.id, "app": self.app, "state": self.state.value, "pid": self.pid,
                "port": self.port or None, "viewers": max(self.viewers, self.reported_connections),
                "age": round(self.age, 3), "memory": self.memory(), "created": self.created}

    # ------------------------------------------------------------------ life

    async def start(self, handle_factory: Callable[[LaunchSpec], Awaitable[InstanceHandle]]) -> None:
        """Start the process and wait until it is ready; raises StartError otherwise."""
        try:
            self._handle = await handle_factory(self.spec)
        except OSError as error:
            capacity = isinstance(error, CapacityError)
            self._end("at_capacity" if capacity else "start_failed", State.EXITED)
            self.exited.set()
            self._on_exit(self)
            raise StartError(f"the application could not be started: {error.strerror or error}",
                             capacity=capacity) from None
        log.info("session %s: started %s, pid %s", self.id, self.app, self.pid)
        self._follow()
        await self.until_ready()

    def adopt(self, handle: InstanceHandle) -> None:
        """Follow an instance another manager started (a shared backend's): the same states and
        timeouts from here on, as if this manager had started it."""
        self._handle = handle
        log.info("session %s: following %s started elsewhere %.0f s ago", self.id, self.app, self.age)
        self._follow()
        self._tasks.append(asyncio.ensure_future(self._until_ready_or_stop()))

    async def _until_ready_or_stop(self) -> None:
        try:
            await self.until_ready()
        except StartError:
            pass

    def _follow(self) -> None:
        self._reader = asyncio.ensure_future(self._read_control())
        self._tasks = [asyncio.ensure_future(self._watch_exit()), self._reader, asyncio.ensure_future(self._supervise())]

    async def until_ready(self) -> None:
        """Wait until the instance is ready (``start_timeout`` at most, then it is stopped); raises StartError."""
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), self._timeouts.start)
        except TimeoutError:
            self.stop("start_timeout")
            raise StartError(f"the application was not ready within {self._timeouts.start:g} s") from None

    async def wait_ready(self, timeout: float) -> bool:
        """True once the instance is ready, False if it is not within ``timeout`` (it is not stopped)."""
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except (TimeoutError, StartError):
            return False
        return True

    def detach(self) -> None:
        """Stop following the instance and leave it running (a shared backend's, when this manager stops)."""
        for task in self._tasks:
            task.cancel()

    async def _watch_exit(self) -> None:
        assert self._handle is not None
        self.exit_status = await self._handle.wait()
        if not self._ready.done() and self._reader is not None:
            # The lines it wrote before exiting ("failed ... in use") come first: read to their end.
            await asyncio.wait([self._reader], timeout=EXIT_LINES_GRACE)
        if self.state is not State.KILLED:
            self.state = State.EXITED
        if self.end_reason is None:
            self._end("crashed" if self.exit_status else "exited", self.state)
        log.info("session %s: pid %s exited with status %s (%s)", self.id, self.pid, self.exit_status,
                 self.end_reason)
        if not self._ready.done():
            self._ready.set_exception(StartError(f"the application exited before it was ready "
                                                 f"(status {self.exit_status})"))
            self._ready.exception()  # retrieved: nobody may be waiting any more
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        self.exited.set()
        self._on_exit(self)

    async def _read_control(self) -> None:
        assert self._handle is not None
        while (line := await self._handle.read_line()) is not None:
            word, _, rest = line.partition(" ")
            fields = dict(part.partition("=")[::2] for part in rest.split())
            if word == "ready" and not self._ready.done():
                address = self._handle.address(fields)
                if address is None:
                    continue
                self.address = address
                self.port = address.port if isinstance(address, TcpAddress) else 0
                self.state = State.READY
                self._ready_at = self._last_pong = self._last_activity = time.monotonic()
                self._ready.set_result(None)
                log.info("session %s: ready on %s after %.3f s", self.id,
                         f"port {self.port}" if self.port else "its Unix socket", self.age)
            elif word == "failed" and not self._ready.done():
                busy = "in use" in rest.lower() or "errno 98" in rest.lower()
                self._ready.set_exception(StartError(f"the application failed to start: {rest[:200]}", busy))
                self._ready.exception()
            elif word == "pong":
                self._last_pong = time.monotonic()
                try:
                    self.reported_connections = int(fields.get("connections", "0"))
                    idle = float(fields.get("idle", "0"))
                except ValueError:
                    continue
                self._note_activity(time.monotonic() - max(0.0, idle))

    def _note_activity(self, at: float) -> None:
        self._last_activity = max(self._last_activity, at)

    def activity(self) -> None:
        """The proxy relayed input or a frame of this instance."""
        self._last_activity = time.monotonic()

    def viewer_joined(self) -> None:
        """A viewer connected through the proxy."""
        self.viewers += 1
        self._update_use()

    def viewer_left(self) -> None:
        """A proxied viewer disconnected."""
        self.viewers -= 1
        self._update_use()

    def _update_use(self) -> None:
        if self.state not in (State.READY, State.IN_USE, State.DRAINING) or self._terminated_at is not None:
            return
        in_use = self.viewers > 0 or self.reported_connections > 0
        if in_use:
            self.ever_used = True
            if self.state is not State.IN_USE:
                log.info("session %s: in use", self.id)
            self.state, self._drain_since = State.IN_USE, None
            self.activity()
        elif self.state is State.IN_USE:
            self.state, self._drain_since = State.DRAINING, time.monotonic()
            log.info("session %s: last viewer left; ending in %g s unless one comes back", self.id,
                     self._timeouts.reconnect_grace)

    async def _supervise(self) -> None:
        """The instance's one timer: heartbeats, timeouts, the grace after the last viewer.

        It wakes at the next deadline (a heartbeat due, the hang limit, SIGTERM or SIGKILL due),
        and at least every ``TICK`` for the coarser timeouts.
        """
        timeouts = self._timeouts
        next_ping = wake = time.monotonic()
        while True:
            await asyncio.sleep(max(0.0, wake - time.monotonic()))
            now = time.monotonic()
            wake = now + TICK
            if self._terminated_at is not None:
                assert self._handle is not None
                if self._sigterm_at is None:
                    due = self._terminated_at + STOP_LINE_GRACE
                    if now >= due:
                        self._handle.terminate()
                        self._sigterm_at = now
                        wake = min(wake, now + timeouts.kill_grace)
                    else:
                        wake = min(wake, due)
                elif self.state is not State.KILLED:
                    due = self._sigterm_at + timeouts.kill_grace
                    if now >= due:
                        log.warning("session %s: still running %g s after SIGTERM; SIGKILL", self.id,
                                    timeouts.kill_grace)
                        self.state = State.KILLED
                        self._on_end_reason("killed")
                        self._handle.kill()
                    else:
                        wake = min(wake, due)
                continue
            if not self._ready.done():
                continue  # start_timeout is watched by start()
            if now >= next_ping:
                self._ping += 1
                assert self._handle is not None
                self._handle.send_line(f"ping {self._ping}")
                next_ping = now + timeouts.heartbeat
            wake = min(wake, next_ping)
            hung_at = self._last_pong + MISSED_HEARTBEATS * timeouts.heartbeat
            if now >= hung_at:
                log.warning("session %s: no heartbeat answer for %.1f s; unresponsive", self.id, now - self._last_pong)
                self._terminate("unresponsive", State.UNRESPONSIVE)
                wake = now
                continue
            wake = min(wake, hung_at)
            self._update_use()
            if now - self._started >= timeouts.max_age:
                self.stop("max_age")
            elif not self.ever_used and self._ready_at is not None and now - self._ready_at >= timeouts.initial_use:
                self.stop("initial_use_timeout")
            elif self.state is State.DRAINING and self._drain_since is not None and \
                    now - self._drain_since >= timeouts.reconnect_grace:
                self.stop("disconnected")
            elif now - self._last_activity >= timeouts.idle:
                self.stop("idle")

    def stop(self, reason: str) -> None:
        """End the instance: ``stop`` on its control channel, SIGTERM a second later if it still
        runs, SIGKILL ``kill_grace`` after that."""
        self._terminate(reason, State.DRAINING)

    def _terminate(self, reason: str, state: State) -> None:
        if self._terminated_at is not None or self.state in (State.EXITED, State.KILLED):
            return
        self._end(reason, state)
        log.info("session %s: stopping (%s)", self.id, reason)
        self._terminated_at = time.monotonic()
        if self._handle is not None:
            # A remoteviz service stops on this line and closes its viewers with DISPOSED; SIGTERM
            # follows if it has not exited soon after (at once if it no longer reads the channel).
            self._handle.send_line("stop")
            if state is State.UNRESPONSIVE:
                self._handle.terminate()
                self._sigterm_at = self._terminated_at

    def _end(self, reason: str, state: State) -> None:
        self.end_reason = reason
        self.state = state
        self._on_end_reason(reason)
