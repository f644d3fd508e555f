"""Where instances run: the interface between the manager and what starts processes.

The manager, the REST API and the proxy only use these names, so another backend (a Kubernetes
pod per session, issue #12) plugs in without touching them. An :class:`InstanceHandle` is one
running viewer service: it carries the control channel's lines (``ready port=N``, ``pong ...``),
its exit, and the signals to end it; :meth:`InstanceHandle.address` says where it listens, a TCP
host and port or a Unix socket (:data:`Address`). ``docs/architecture.md`` describes the contract.

A backend whose instances outlive the manager and are shared by several managers (Kubernetes:
:mod:`.kubernetes`) also hands the manager the instances it did not start (:meth:`Backend.follow`),
and the manager leaves them running when it stops (:attr:`Backend.shared`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .config import AppConfig


@dataclass(frozen=True)
class TcpAddress:
    """An instance listening on a TCP port (direct mode, a pod)."""

    host: str
    port: int


@dataclass(frozen=True)
class UnixAddress:
    """An instance listening on a Unix socket only the manager may reach (local proxy mode)."""

    path: str


Address = TcpAddress | UnixAddress
"""Where the manager reaches an instance."""


@dataclass(frozen=True)
class LaunchSpec:
    """What one instance is started with."""

    session_id: str
    app: AppConfig
    host: str  # the address the instance listens on
    port: int  # 0: the instance picks one and reports it (proxy mode, unless it gets a Unix socket)
    access_secret: str  # the session's token secret (REMOTEVIZ_ACCESS_SECRET)
    parameters: Mapping[str, str] = field(default_factory=dict)  # REMOTEVIZ_PARAM_<NAME>
    unix_socket: bool = False  # proxy mode: only the manager connects; a backend that can gives a Unix socket, no port


class CapacityError(OSError):
    """The backend has no room for another instance (the cap, held by the backend itself)."""


class InstanceHandle(abc.ABC):
    """One started instance, as its backend sees it."""

    @property
    @abc.abstractmethod
    def pid(self) -> int | None:
        """The process id, if the backend has one (a pod has none)."""

    @property
    @abc.abstractmethod
    def host(self) -> str:
        """The address the manager reaches the instance at (its port comes in the ``ready`` line)."""

    def address(self, ready: Mapping[str, str]) -> Address | None:
        """Where the instance listens, from the fields of its ``ready`` line (``port=N``); None if
        they do not name it. A backend that gave the instance a Unix socket overrides this."""
        try:
            return TcpAddress(self.host, int(ready.get("port", "")))
        except ValueError:
            return None

    @abc.abstractmethod
    async def read_line(self) -> str | None:
        """The next line the instance wrote on its control channel; None once it is closed."""

    @abc.abstractmethod
    def send_line(self, line: str) -> None:
        """Write one line to the instance's control channel (``ping N``, ``stop``); never blocks."""

    @abc.abstractmethod
    async def wait(self) -> int:
        """Return the exit status once the instance has ended however it ended (a crash, a kill -9).

        Watches the exit (no polling); after it returns every process of the instance is gone.
        """

    @abc.abstractmethod
    def terminate(self) -> None:
        """Ask the instance to end (SIGTERM to its process group)."""

    @abc.abstractmethod
    def kill(self) -> None:
        """End the instance now (SIGKILL to its process group)."""

    @abc.abstractmethod
    def memory(self) -> int | None:
        """Resident memory in bytes, if known."""

    @property
    def access_secret(self) -> str | None:
        """The token secret the instance was really given, when not the spec's (a warm pod's); None: the spec's."""
        return None


@dataclass(frozen=True)
class Adopted:
    """An instance the backend found running that this manager did not start (another replica's,
    or a previous run's)."""

    spec: LaunchSpec
    handle: InstanceHandle
    created: float  # Unix seconds


class Backend(abc.ABC):
    """Starts instances and cleans up after a previous run of the manager."""

    @abc.abstractmethod
    async def start(self, spec: LaunchSpec) -> InstanceHandle:
        """Start one instance; raises OSError if it cannot be started at all."""

    @abc.abstractmethod
    async def reclaim(self, kill_grace: float) -> list[str]:
        """Stop what a previous manager run left behind; the session ids it stopped."""

    @abc.abstractmethod
    def forget(self, session_id: str) -> None:
        """The instance has ended: drop any record kept of it for :meth:`reclaim`."""

    shared = False
    """True when instances outlive the manager and other managers see them: it stops none when it stops."""

    async def follow(self, adopt: Callable[[Adopted], None]) -> None:  # noqa: B027 (optional hook)
        """Hand every instance this manager did not start to ``adopt``, now and as they appear; returns
        once the instances running now were handed over. The local backend has none: its
        instances are its children."""

    async def close(self) -> None:  # noqa: B027 (optional hook)
        """Release what the backend holds (connections, watches); instances of a shared backend go on."""
