"""From an admitted connection to frames flowing: a new page's network calibration (its other views
wait for it), then ``on_initialized_connection`` and ``accept``; and, once a page is calibrated, the
latency probes that go on measuring its round trip. Dispatch thread only."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from typing import Any

from .connection import Client, Connection, ConnectionState
from .listeners import call_all
from .metrics import Monitoring
from .pipeline.scheduler import Scheduler
from .protocol import Accept, Notify, Ping, ServiceMessage
from .transport import Calibration

LATENCY_PROBE_INTERVAL = 1.0
"""Seconds between latency probes of each client (MetricsListener.on_measured_network_latency)."""


class Handshake:
    """Takes a service's admitted connections to OPEN, and measures its clients' latency."""

    def __init__(self, clients: Mapping[str, Client], scheduler: Scheduler, monitoring: Monitoring,
                 send: Callable[[Connection, ServiceMessage], None], post: Callable[..., None],
                 call_service: Callable[..., list[Any]]) -> None:
        """``clients``: the service's, by id; ``send`` sends on a live connection; ``post`` hands a call to
        the dispatch thread; ``call_service`` asks the service listeners."""
        self._clients = clients
        self._scheduler = scheduler
        self._monitoring = monitoring
        self._send = send
        self._post = post
        self._call_service = call_service

    def start(self, connection: Connection, new_client: bool) -> None:
        """Calibrate a new page's link first (another view of a page being calibrated waits), else accept."""
        client = connection.client
        performance = client.network_performance
        if new_client and performance.calibration_enabled:
            client.calibrating = [connection]
            connection.state = ConnectionState.CALIBRATING
            self._send(connection, Notify("startNetworkCalibration"))
            connection.link.calibrate(performance.max_calibration_duration_ms / 1000.0,
                                      functools.partial(self._post, self._calibrated, client))
            return
        if client.calibrating is not None:  # another view of this page is being calibrated
            client.calibrating.append(connection)
            connection.state = ConnectionState.CALIBRATING
            self._send(connection, Notify("pendingNetworkCalibration"))
            return
        if new_client:
            self._call_service("on_initialized_client", client, performance)
        self.accept(connection)

    def _calibrated(self, client: Client, result: Calibration) -> None:
        """Network thread's calibration finished: tell the page, then let its connections start."""
        waiting, client.calibrating = client.calibrating or [], None
        if self._clients.get(client.id) is not client:
            return
        performance = client.network_performance
        performance.latency_ms, performance.bandwidth = result.latency_ms, result.bandwidth
        performance.measured = result.measured
        client.last_ping = time.monotonic()
        waiting = [c for c in waiting if c.state.live]
        figures = {"bandwidth": round(result.bandwidth), "latency_ms": round(result.latency_ms, 3)}
        for connection in waiting:
            self._send(connection, Notify("finishedNetworkCalibration", figures))
        self._call_service("on_initialized_client", client, performance)
        for connection in waiting:
            if connection.state.live:
                self.accept(connection)

    def accept(self, connection: Connection) -> None:
        """The last step of connecting: on_initialized_connection, then accept; frames may flow."""
        area = connection.render_area
        call_all(area.listeners, "on_initialized_connection", area, connection, connection.frame_encoders)
        if not connection.state.live:  # a listener closed it
            return
        encoders = connection.frame_encoders
        self._send(connection, Accept(connection.id, connection.client.id, area.id, area.width, area.height,
                                      encoders.still_encoder.value, encoders.interactive_encoder.value))
        connection.state = ConnectionState.OPEN
        connection.outgoing.configure(connection.targets(), connection.frame_encoders.is_video)
        self._scheduler.add_viewer(area.id, connection.id, connection.outgoing)
        if area.failure is not None:
            self._send(connection, area.failure)  # what its viewers already know

    def probe_latency(self, now: float) -> None:
        """Once a second per calibrated client, a ping whose pong measures the round trip."""
        for client in self._clients.values():
            if client.calibrating is None and now - client.last_ping >= LATENCY_PROBE_INTERVAL:
                connection = next((c for c in client.connections if c.is_open), None)
                if connection is not None:
                    client.last_ping = now
                    self._send(connection, Ping(now))

    def measured_latency(self, client: Client, milliseconds: float) -> None:
        """A pong came back after ``milliseconds``: smooth it into the client's latency and report it."""
        if not 0.0 <= milliseconds < 600_000.0:
            return  # not a pong to any ping of ours: ignore rather than skew the figure
        performance = client.network_performance
        performance.latency_ms = milliseconds if not performance.latency_ms else (
            0.8 * performance.latency_ms + 0.2 * milliseconds)
        self._monitoring.report("on_measured_network_latency", milliseconds, client)
