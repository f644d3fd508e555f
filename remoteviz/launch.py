"""The service side of the session manager: what a service started by ``remoteviz-sessions`` honours.

The manager (:mod:`remoteviz.sessions`) starts each viewer service with these environment
variables; the user's code does not change, because :meth:`Service.open` calls
:func:`configure` and :func:`attach`:

- ``REMOTEVIZ_HOST`` / ``REMOTEVIZ_PORT``: where to listen, overriding the settings. Port 0 lets
  the kernel pick; the port actually bound is reported back, so the manager never
  binds and closes a port for the child (no bind-and-close race).
- ``REMOTEVIZ_UNIX_SOCKET``: listen on this Unix socket path instead, and on no TCP port at all
  (proxy mode: only the manager connects, through a folder only its user can enter).
- ``REMOTEVIZ_SESSION_ID``: the session this process serves.
- ``REMOTEVIZ_TRUSTED_PROXIES``: comma-separated peers added to ``ServiceSettings.trusted_proxies``
  (``unix``: the manager, relaying on the Unix socket, names each viewer in ``X-Forwarded-For``).
- ``REMOTEVIZ_ACCESS_SECRET``: the session's token secret; every connection must then carry a
  token (``?token=``) minted for this session (:mod:`remoteviz.tokens`).
- ``REMOTEVIZ_CONTROL_FD``: one end of a socket pair to the manager, line based. The service
  writes ``ready port=N`` (``ready unix=PATH``) once listening (or ``failed REASON``); the manager writes ``ping N``
  every heartbeat and the service's *dispatch thread* answers ``pong N connections=C idle=S``,
  so a hung dispatch loop is seen as hung; ``stop`` asks the service to stop, and so does the
  manager going away (end of file), so no service outlives its manager by more than a dispatch.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .metrics import MetricsListener, Monitoring
from .tokens import TokenError, verify_token

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from .render_area import RenderArea

Settings = TypeVar("Settings", bound="DataclassInstance")


class LaunchedService(Protocol):
    """What the control channel asks of the service it reports on (the service implements it, so
    this module names no service)."""

    @property
    def port(self) -> int: ...

    def get_monitoring(self) -> Monitoring: ...

    def call_soon(self, callback: Callable[..., None], *args: Any) -> None: ...

    def stop(self) -> None: ...

log = logging.getLogger("remoteviz.launch")

ENV_HOST = "REMOTEVIZ_HOST"
ENV_PORT = "REMOTEVIZ_PORT"
ENV_SESSION_ID = "REMOTEVIZ_SESSION_ID"
ENV_ACCESS_SECRET = "REMOTEVIZ_ACCESS_SECRET"
ENV_CONTROL_FD = "REMOTEVIZ_CONTROL_FD"
ENV_UNIX_SOCKET = "REMOTEVIZ_UNIX_SOCKET"
ENV_TRUSTED_PROXIES = "REMOTEVIZ_TRUSTED_PROXIES"


def unix_socket() -> str | None:
    """The Unix socket path the manager gave this service to listen on instead of a TCP port."""
    return os.environ.get(ENV_UNIX_SOCKET) or None


def configure(settings: Settings) -> Settings:
    """``settings`` (a ``ServiceSettings``) with what the manager's environment overrides (host, port,
    access secret, trusted proxies)."""
    configured = settings
    trusted = [entry.strip() for entry in os.environ.get(ENV_TRUSTED_PROXIES, "").split(",") if entry.strip()]
    if trusted:
        given = getattr(configured, "trusted_proxies", None) or []
        configured = dataclasses.replace(configured, trusted_proxies=[*given, *trusted])
    if ENV_HOST in os.environ:
        configured = dataclasses.replace(configured, host=os.environ[ENV_HOST])
    if ENV_PORT in os.environ:
        configured = dataclasses.replace(configured, port=int(os.environ[ENV_PORT]))
    secret = os.environ.get(ENV_ACCESS_SECRET)
    if secret:  # the service's built-in token check, bound to this session
        configured = dataclasses.replace(configured, access=SessionAccess(secret, os.environ.get(ENV_SESSION_ID)).check)
    return configured


def attach(service: LaunchedService) -> None:
    """Called once the service listens: report readiness, answer heartbeats."""
    session_id = os.environ.get(ENV_SESSION_ID)
    fd = os.environ.get(ENV_CONTROL_FD)
    if fd is None:
        return
    try:
        channel = socket.socket(fileno=int(fd))
    except (OSError, ValueError) as error:
        log.error("%s=%s is not a usable socket: %s", ENV_CONTROL_FD, fd, error)
        return
    # Consumed: a service opened again in this process, or a child of it, must not reuse the fd.
    del os.environ[ENV_CONTROL_FD]
    ControlChannel(service, channel, session_id).start()


def report_failure(reason: str) -> None:
    """Tell the manager the service could not open (called by ``Service.open`` on failure)."""
    fd = os.environ.get(ENV_CONTROL_FD)
    if fd is None:
        return
    try:
        os.write(int(fd), f"failed {reason}\n".replace("\n", " ").strip().encode() + b"\n")
    except (OSError, ValueError):
        pass


class SessionAccess:
    """The token check of a launched service: a token of this session's secret, for this session."""

    def __init__(self, secret: str, session_id: str | None) -> None:
        self._secret = secret
        self._session_id = session_id

    def check(self, token: str | None, render_area_id: str) -> None:
        """``ServiceSettings.access``: raise :class:`TokenError` unless ``token`` opens
        ``render_area_id`` in this session."""
        claims = verify_token(self._secret, token, render_area_id, now=time.time())
        if self._session_id is not None and claims.session_id != self._session_id:
            raise TokenError("access token is for another session")


class _Activity(MetricsListener):
    """Counts connections and notes the last rendered frame (dispatch thread only)."""

    def __init__(self) -> None:
        self.connections = 0
        self.last_frame = time.monotonic()

    def on_measured_rendering_time(self, milliseconds: float, render_area: RenderArea) -> None:
        self.last_frame = time.monotonic()

    def on_changed_num_connections(self, count: int) -> None:
        self.connections = count
        self.last_frame = time.monotonic()  # a connection opening or closing is activity too


class ControlChannel:
    """The service's end of the manager's control socket (a reader thread; answers on dispatch)."""

    def __init__(self, service: LaunchedService, channel: socket.socket, session_id: str | None) -> None:
        self._service = service
        self._channel = channel
        self._session_id = session_id
        self._activity = _Activity()
        self._write_lock = threading.Lock()

    def start(self) -> None:
        """Report ``ready`` with the bound port and start reading the manager's lines."""
        self._service.get_monitoring().add_listener(self._activity)
        path = unix_socket()  # Service.open listened there, or failed
        self._write(f"ready unix={path}" if path else f"ready port={self._service.port}")
        log.info("session %s ready on %s", self._session_id, path or f"port {self._service.port}")
        threading.Thread(target=self._read, name="remoteviz-control", daemon=True).start()

    def _write(self, line: str) -> None:
        with self._write_lock:
            try:
                self._channel.sendall(line.encode() + b"\n")
            except OSError:
                pass  # the manager is gone: the reader sees end of file and stops the service

    def _read(self) -> None:
        reader = self._channel.makefile("r", encoding="utf-8", errors="replace")
        try:
            for line in reader:
                word, _, argument = line.strip().partition(" ")
                if word == "ping":
                    self._service.call_soon(self._pong, argument[:32])
                elif word == "stop":
                    log.info("session %s: the manager asks the service to stop", self._session_id)
                    break
        except OSError:
            pass
        self._service.stop()

    def _pong(self, argument: str) -> None:
        """Dispatch thread: proves the loop runs, and says how busy the service is."""
        idle = time.monotonic() - self._activity.last_frame
        self._write(f"pong {argument} connections={self._activity.connections} idle={idle:.3f}")
