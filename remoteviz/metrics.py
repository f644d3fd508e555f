"""Monitoring: measured times and counts, delivered to MetricsListeners."""

from __future__ import annotations

import enum
import logging
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .connection import Client, Connection
    from .render_area import RenderArea

log = logging.getLogger("remoteviz.metrics")


def _opengl_renderers() -> dict[tuple[str, str], int]:
    """The contexts made so far, by renderer; none without looking when the scene graph was never
    loaded (an INDEPENDENT_SERVICE), so that ``/metrics`` does not load OpenGL for nothing."""
    context = sys.modules.get("remoteviz.rendering.context")
    return context.opengl_renderers() if context is not None else {}


def _label(value: str) -> str:
    """``value`` as a Prometheus label value: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


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


_SUMMARIES = {
    "on_measured_network_latency": ("remoteviz_network_latency_ms", "Round trip to clients, milliseconds"),
    "on_measured_decoding_time": ("remoteviz_decoding_time_ms", "Browser decode and paint time, milliseconds"),
    "on_measured_rendering_time": ("remoteviz_rendering_time_ms", "Render and read back time, milliseconds"),
    "on_measured_encoding_time": ("remoteviz_encoding_time_ms", "Encode time per frame, milliseconds"),
}
_GAUGES = {
    "on_changed_num_clients": ("remoteviz_clients", "Connected clients"),
    "on_changed_num_connections": ("remoteviz_connections", "Open connections"),
    "on_changed_num_render_areas": ("remoteviz_render_areas", "Existing render areas"),
}
_COUNTERS = {
    "frames_sent": ("remoteviz_frames_sent_total", "Frames sent to connections"),
    "frame_bytes_sent": ("remoteviz_frame_bytes_sent_total", "Bytes of frame payloads sent"),
    "frames_dropped": ("remoteviz_frames_dropped_total", "Encoded frames replaced before they could be sent"),
}


class Monitoring:
    """The service's measurements; ``service.get_monitoring()`` returns it.

    Besides delivering measurements to listeners, it keeps running totals that
    :meth:`prometheus_text` renders (served at ``/metrics``).
    """

    def __init__(self) -> None:
        self._listeners: list[MetricsListener] = []
        self._enabled = Metrics.ALL
        # Every key exists from the start: the network thread reads these while dispatch writes.
        self._sums = {name: [0.0, 0] for name in _SUMMARIES}
        self._gauges = {name: 0 for name in _GAUGES}
        self._counters = {name: 0 for name in _COUNTERS}

    def count(self, counter: str, amount: int = 1) -> None:
        """Add ``amount`` to a running total (``frames_sent``, ``frame_bytes_sent``, ``frames_dropped``)."""
        self._counters[counter] += amount

    def prometheus_text(self) -> str:
        """The totals in the Prometheus text exposition format (version 0.0.4)."""
        lines = []
        for method, (name, help_text) in _SUMMARIES.items():
            total, count = self._sums[method]
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} summary",
                      f"{name}_sum {total:.6g}", f"{name}_count {count}"]
        for method, (name, help_text) in _GAUGES.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {self._gauges[method]}"]
        for counter, (name, help_text) in _COUNTERS.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name} {self._counters[counter]}"]
        lines += ["# HELP remoteviz_opengl_contexts OpenGL contexts made, by GL_RENDERER and how EGL or GLFW "
                  "reached it", "# TYPE remoteviz_opengl_contexts gauge"]
        lines += [f'remoteviz_opengl_contexts{{renderer="{_label(renderer)}",display="{_label(display)}"}} {count}'
                  for (renderer, display), count in sorted(_opengl_renderers().items())]
        return "\n".join(lines) + "\n"

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
        """Record one measurement and deliver it to every listener, if enabled.

        A listener that raises is logged; the others still receive the measurement.
        """
        if method in self._sums:
            entry = self._sums[method]
            entry[0] += args[0]
            entry[1] += 1
        else:
            self._gauges[method] = args[0]
        if not self._listeners or not self._enabled & _FLAGS[method]:
            return
        for listener in list(self._listeners):
            try:
                getattr(listener, method)(*args)
            except Exception:
                log.exception("MetricsListener.%s raised", method)
