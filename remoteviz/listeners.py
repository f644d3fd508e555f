"""The application's listeners: the service's (:class:`ServiceListener`), and how every listener is
called, with one rule for a listener that raises (``RenderAreaListener`` is in ``render_area.py``).

A listener that raises is logged with its traceback and its answer is :data:`FAILED`; the caller
decides what that means, always the safe way: a permission question (``on_pending_*``,
``on_requested_size``, ``on_pre_render``) takes it as "no", input routing as "yes" (the default
behaviour goes on). Input callbacks get the event as the keyword ``event`` only when their
signature takes it, so overrides written before it was added keep working.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .events import InputEvent, KeyAction, KeyEvent, MouseAction, MouseEvent, TouchAction, TouchEvent, WheelEvent

if TYPE_CHECKING:
    from .connection import Client, Connection, ConnectionParameters, NetworkPerformance
    from .http import HttpRequest, HttpResponse
    from .render_area import RenderArea

log = logging.getLogger("remoteviz")

FAILED = object()
"""What a listener that raised answered."""


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


class ServiceListeners:
    """A service's listeners, asked in the order added (a default :class:`ServiceListener` answers
    when there are none). Add and remove them on the dispatch thread (``Service.add_listener``)."""

    def __init__(self) -> None:
        self._listeners: list[ServiceListener] = []

    def add(self, listener: ServiceListener) -> None:
        """Ask ``listener`` too (once, however often it is added)."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def remove(self, listener: ServiceListener) -> None:
        """Stop asking ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def call(self, method: str, *args: Any) -> list[Any]:
        """Call ``method`` on each listener (:func:`call_all`): their answers, in order."""
        return call_all(list(self._listeners) or [_DEFAULT_SERVICE_LISTENER], method, *args)


_DEFAULT_SERVICE_LISTENER = ServiceListener()


def call_all(listeners: Iterable[Any], method: str, *args: Any, event: InputEvent | None = None) -> list[Any]:
    """Call ``method`` on each listener; a listener that raises is logged and answers FAILED.

    An input ``event`` goes as the keyword ``event`` to the callbacks that take one.
    """
    results = []
    for listener in listeners:
        try:
            callback = getattr(listener, method)
            if event is not None and takes_event(callback):
                results.append(callback(*args, event=event))
            else:
                results.append(callback(*args))
        except Exception:
            log.exception("%s.%s raised", type(listener).__name__, method)
            results.append(FAILED)
    return results


@functools.lru_cache(maxsize=1024)
def _accepts_event(function: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "event" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def takes_event(callback: Callable[..., Any]) -> bool:
    """Whether an input callback takes the ``event`` keyword (those written before it was added do not)."""
    return _accepts_event(getattr(callback, "__func__", callback))


def input_callback(area: RenderArea, connection: Connection, event: InputEvent) -> tuple[Any, ...]:
    """The RenderAreaListener method and arguments an input event is delivered with."""
    match event:
        case MouseEvent(action=MouseAction.DOWN):
            return ("on_mouse_down", area, connection, event.x, event.y, int(event.button))
        case MouseEvent(action=MouseAction.UP):
            return ("on_mouse_up", area, connection, event.x, event.y, int(event.button))
        case MouseEvent(action=MouseAction.MOVE):
            return ("on_mouse_move", area, connection, event.x, event.y)
        case MouseEvent(action=MouseAction.DOUBLE_CLICK):
            return ("on_mouse_double_click", area, connection, event.x, event.y, int(event.button))
        case MouseEvent(action=MouseAction.ENTER):
            return ("on_mouse_enter", area, connection, event.x, event.y)
        case MouseEvent(action=MouseAction.LEAVE):
            return ("on_mouse_leave", area, connection, event.x, event.y)
        case WheelEvent():
            return ("on_mouse_wheel", area, connection, event.x, event.y, event.delta)
        case KeyEvent(action=KeyAction.DOWN):
            return ("on_key_down", area, connection, event.x, event.y, event.key)
        case KeyEvent(action=KeyAction.UP):
            return ("on_key_up", area, connection, event.x, event.y, event.key)
        case TouchEvent(action=TouchAction.START):
            return ("on_touch_start", area, connection, event.touch_id, event.x, event.y)
        case TouchEvent(action=TouchAction.MOVE):
            return ("on_touch_move", area, connection, event.touch_id, event.x, event.y)
        case TouchEvent():
            return ("on_touch_end", area, connection, event.touch_id, event.x, event.y)
    raise TypeError(f"not an input event: {event!r}")
