"""Which thread may change a service's state, and how a call from another thread reaches it.

All of a service's state (its clients, connections, render areas, their schedules) belongs to the
*dispatch thread*: the thread that calls ``Service.dispatch()`` (through ``run()``, ``serve()`` or a
loop of the application's). Nothing else may change it, since nothing holds a lock around it
(``docs/architecture.md``, "Threads: who may touch what"). The rule for public methods:

- A method that only asks for something to happen and returns nothing (close a connection,
  dispose or resize a render area, send a message, redraw, add a listener) is **safe from any
  thread**: called from another thread it is posted to the dispatch thread (as
  ``Service.call_soon`` does) and happens in a coming ``dispatch()``, in the order it was called.
  Such methods are marked :func:`marshalled`.
- A method whose caller needs its result at once (``Service.create_render_area`` returns the
  area; ``Service.close`` ends the service under its dispatch loop) raises :class:`WrongThreadError`,
  naming ``Service.call_soon``, when called from another thread while the dispatch thread lives.
- Reading (``service.render_areas``, ``area.width``) is allowed anywhere: a snapshot.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., None])


class WrongThreadError(RuntimeError):
    """A method that must run on the service's dispatch thread was called from another thread.

    Hand the call over with ``service.call_soon(callback, *args)``: it runs inside a coming
    ``dispatch()``, on the dispatch thread.
    """


class DispatchThread:
    """Which thread owns a service now: the thread of its latest ``dispatch()``, or, before any, the
    thread that opened it. A thread that has ended owns nothing, and a closed service has no owner."""

    def __init__(self, post: Callable[..., None]) -> None:
        """``post`` hands a call to the dispatch thread (the service's inbox)."""
        self._post = post
        self._owner: threading.Thread | None = None
        self._dispatching = False  # the owner has called dispatch(): no other live thread may

    def claim(self) -> None:
        """The calling thread opens the service: it owns it until a ``dispatch()`` elsewhere takes it."""
        self._owner = threading.current_thread()
        self._dispatching = False

    def release(self) -> None:
        """The service closed: no thread owns it."""
        self._owner = None
        self._dispatching = False

    def enter(self) -> None:
        """The calling thread starts a ``dispatch()``: it owns the service from now on.

        Raises WrongThreadError when another thread that still lives has dispatched it: two loops
        would change the same state at once. (The thread that opened it hands it over to the first
        thread that dispatches, as an application that opens, then starts its loop on a thread.)
        """
        current, owner = threading.current_thread(), self._owner
        if self._dispatching and owner is not None and owner is not current and owner.is_alive():
            raise WrongThreadError(f"thread {owner.name!r} dispatches this service; one thread does (use "
                                   "service.call_soon(callback) to run code on it)")
        self._owner, self._dispatching = current, True

    @property
    def is_current(self) -> bool:
        """Whether the calling thread may change the service's state now: it owns it, or nobody
        (closed, or its owner ended)."""
        owner = self._owner
        return owner is None or owner is threading.current_thread() or not owner.is_alive()

    def check(self, what: str) -> None:
        """Raise WrongThreadError naming ``what`` unless the calling thread may change the state now."""
        if not self.is_current:
            owner = self._owner.name if self._owner is not None else "?"
            raise WrongThreadError(
                f"{what} must be called on the service's dispatch thread ({owner!r}, the thread that runs "
                f"dispatch()), not on {threading.current_thread().name!r}: hand it over with "
                "service.call_soon(callback, *args)")

    def run(self, callback: Callable[..., None], *args: Any) -> None:
        """Call ``callback(*args)`` now if the calling thread may change the state; else post it to the
        dispatch thread, where a coming ``dispatch()`` calls it (in the order posted)."""
        if self.is_current:
            callback(*args)
        else:
            self._post(callback, *args)


def marshalled(method: F) -> F:
    """Make a method that returns nothing safe from any thread: off the dispatch thread, it is posted
    there (through the object's ``_dispatch_thread``) instead of run at once."""

    @functools.wraps(method)
    def on_dispatch_thread(self: Any, *args: Any, **kwargs: Any) -> None:
        self._dispatch_thread.run(functools.partial(method, self, *args, **kwargs))

    return on_dispatch_thread  # type: ignore[return-value]


__all__ = ["DispatchThread", "WrongThreadError", "marshalled"]
