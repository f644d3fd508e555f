"""Monitoring: measured times and counts, delivered to MetricsListeners."""

from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .connection import Client, Connection
    from .render_area import RenderArea

log = logging.getLogger("remoteviz.metrics")


class Metrics(enum.IntFlag):
    """Which measurements ``Monitoring.enable_metrics`` turns on."""

    NONE = 0
    NETWORK_LATENCY = 1
    DECODING_TIME = 2
    RENDERING_TIME = 4
    ENCODING_TIME = 8
    NUM_CLIENTS = 16
    NUM_CONNECTIONS = 32
    NUM_RENDER_AREAS = 64
    ALL = 127


class MetricsListener:
    """Override the measurements you want; each runs on the dispatch thread."""

    def on_measured_network_latency(self, milliseconds: float, client: Client) -> None:
        """A round trip to ``client`` took ``milliseconds``."""

    def on_measured_decoding_time(self, milliseconds: float, connection: Connection) -> None:
        """The browser took ``milliseconds`` to decode and paint a frame."""

    def on_measured_rendering_time(self, milliseconds: float, render_area: RenderArea) -> None:
        """Rendering (and reading back) one frame took ``milliseconds``."""

    def on_measured_encoding_time(self, milliseconds: float, connection: Connection) -> None:
        """Encoding one frame for ``connection`` took ``milliseconds``."""

    def on_changed_num_clients(self, count: int) -> None:
        """The number of connected clients changed."""

    def on_changed_num_connections(self, count: int) -> None:
        """The number of open connections changed."""

    def on_changed_num_render_areas(self, count: int) -> None:
        """The number of render areas changed."""


_FLAGS = {
    "on_measured_network_latency": Metrics.NETWORK_LATENCY,
    "on_measured_decoding_time": Metrics.DECODING_TIME,
    "on_measured_rendering_time": Metrics.RENDERING_TIME,
    "on_measured_encoding_time": Metrics.ENCODING_TIME,
    "on_changed_num_clients": Metrics.NUM_CLIENTS,
    "on_changed_num_connections": Metrics.NUM_CONNECTIONS,
    "on_changed_num_render_areas": Metrics.NUM_RENDER_AREAS,
}


class Monitoring:
    """The service's measurements; ``service.get_monitoring()`` returns it."""

    def __init__(self) -> None:
        self._listeners: list[MetricsListener] = []
        self._enabled = Metrics.ALL

    def add_listener(self, listener: MetricsListener) -> None:
        """Receive measurements."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def remove_listener(self, listener: MetricsListener) -> None:
        """Stop receiving measurements."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def enable_metrics(self, mask: Metrics) -> None:
        """Deliver only the measurements in ``mask``."""
        self._enabled = Metrics(mask)

    @property
    def enabled_metrics(self) -> Metrics:
        """The measurements delivered."""
        return self._enabled

    def report(self, method: str, *args: Any) -> None:
        """Deliver one measurement to every listener, if enabled; a listener that raises is logged."""
        if not self._listeners or not self._enabled & _FLAGS[method]:
            return
        for listener in list(self._listeners):
            try:
                getattr(listener, method)(*args)
            except Exception:
                log.exception("MetricsListener.%s raised", method)
