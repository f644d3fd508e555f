"""Where instances run: the interface between the manager and what starts processes.

The manager, the REST API and the proxy only use these names, so another backend (a Kubernetes
pod per session, issue #12) plugs in without touching them. An :class:`InstanceHandle` is one
running viewer service: it carries the control channel's lines (``ready port=N``, ``pong ...``),
its exit, and the signals to end it. ``docs/architecture.md`` describes the contract.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field

from .config import AppConfig


@dataclass(frozen=True)
class LaunchSpec:
    """What one instance is started with."""

    session_id: str
    app: AppConfig
    host: str  # the address the instance listens on
    port: int  # 0: the instance picks one and reports it (proxy mode)
    access_secret: str  # the session's token secret (REMOTEVIZ_ACCESS_SECRET)
    parameters: Mapping[str, str] = field(default_factory=dict)  # REMOTEVIZ_PARAM_<NAME>


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
