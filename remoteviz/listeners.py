"""Calling the application's listeners: one helper, and one rule for a listener that raises.

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
    from .connection import Connection
    from .render_area import RenderArea

log = logging.getLogger("remoteviz")

FAILED = object()
"""What a listener that raised answered."""


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
