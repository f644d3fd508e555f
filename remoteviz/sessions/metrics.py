"""The manager's measurements, in the Prometheus text format at ``/metrics``."""

from __future__ import annotations

import collections
from collections.abc import Sized
from typing import Protocol

SPAWN_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)
"""Upper bounds (seconds) of the spawn-time histogram."""


class Gauges(Protocol):
    """What the metrics read of the manager when rendered (the :class:`~.manager.SessionManager`; this
    module names no manager, which counts through it)."""

    @property
    def instances(self) -> Sized:
        """The instances not yet exited."""

    @property
    def pending(self) -> int:
        """How many instances are launching."""

    @property
    def free_ports(self) -> int:
        """How many ports of the range no instance holds."""


class ManagerMetrics:
    """Counters and the spawn-time histogram; gauges are read from the manager when rendered."""

    def __init__(self) -> None:
        self._spawn_counts = [0] * len(SPAWN_BUCKETS)
        self._spawn_sum = 0.0
        self._spawn_count = 0
        self.failed_spawns = 0
        self._ended: collections.Counter[str] = collections.Counter()
        self._refused: collections.Counter[str] = collections.Counter()
        self.proxied_connections = 0
        self.open_proxied_connections = 0
        self.proxied_bytes = {"to_browser": 0, "to_instance": 0}

    def spawned(self, seconds: float) -> None:
        """An instance became ready ``seconds`` after it was requested."""
        self._spawn_sum += seconds
        self._spawn_count += 1
        for index, bound in enumerate(SPAWN_BUCKETS):
            if seconds <= bound:
                self._spawn_counts[index] += 1

    def failed(self) -> None:
        """An instance did not start."""
        self.failed_spawns += 1

    def ended(self, reason: str, count: int = 1) -> None:
        """Instances ended for ``reason`` (idle, max_age, disconnected, unresponsive, killed...)."""
        self._ended[reason] += count

    def refused(self, reason: str) -> None:
        """A request was refused (cap, pending, origin, token, app)."""
        self._refused[reason] += 1

    def ends(self, reason: str) -> int:
        """How many instances ended for ``reason``."""
        return self._ended[reason]

    def render(self, manager: Gauges) -> str:
        """The text exposition format (version 0.0.4)."""
        p = "remoteviz_sessions_"
        lines = [f"# HELP {p}spawn_seconds Seconds from a request to its instance being ready",
                 f"# TYPE {p}spawn_seconds histogram"]
        for bound, count in zip(SPAWN_BUCKETS, self._spawn_counts):
            lines.append(f'{p}spawn_seconds_bucket{{le="{bound:g}"}} {count}')
        lines += [f'{p}spawn_seconds_bucket{{le="+Inf"}} {self._spawn_count}',
                  f"{p}spawn_seconds_sum {self._spawn_sum:.6g}", f"{p}spawn_seconds_count {self._spawn_count}"]
        gauges = {"active_instances": ("Instances not yet exited", len(manager.instances)),
                  "pending_instances": ("Instances launching", manager.pending),
                  "free_ports": ("Ports of the range no instance holds", manager.free_ports),
                  "open_proxied_connections": ("WebSocket connections being relayed", self.open_proxied_connections)}
        for name, (help_text, value) in gauges.items():
            lines += [f"# HELP {p}{name} {help_text}", f"# TYPE {p}{name} gauge", f"{p}{name} {value}"]
        lines += [f"# HELP {p}failed_spawns_total Instances that did not start", f"# TYPE {p}failed_spawns_total counter",
                  f"{p}failed_spawns_total {self.failed_spawns}",
                  f"# HELP {p}proxied_connections_total WebSocket connections relayed",
                  f"# TYPE {p}proxied_connections_total counter",
                  f"{p}proxied_connections_total {self.proxied_connections}",
                  f"# HELP {p}proxied_bytes_total Bytes relayed by the proxy",
                  f"# TYPE {p}proxied_bytes_total counter"]
        lines += [f'{p}proxied_bytes_total{{direction="{d}"}} {n}' for d, n in self.proxied_bytes.items()]
        lines += [f"# HELP {p}ended_total Instances ended, by reason", f"# TYPE {p}ended_total counter"]
        lines += [f'{p}ended_total{{reason="{r}"}} {n}' for r, n in sorted(self._ended.items())]
        lines += [f"# HELP {p}refused_total Requests refused, by reason", f"# TYPE {p}refused_total counter"]
        lines += [f'{p}refused_total{{reason="{r}"}} {n}' for r, n in sorted(self._refused.items())]
        return "\n".join(lines) + "\n"
