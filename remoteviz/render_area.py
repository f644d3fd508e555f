"""Render areas (what is drawn, shared by 0..n connections) and their listener."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

import numpy as np

from .connection import ConnectionGroup, ConnectionOwner
from .dispatch_thread import DispatchThread, marshalled
from .events import KeyEvent, MouseEvent, TouchEvent, WheelEvent
from .protocol import DisconnectReason

if TYPE_CHECKING:
    from .connection import Connection
    from .encoders import FrameEncoders
    from .rendering import SceneManager, TouchManager, Viewport
    from .rendering.preview import PreviewWindow

# The names these messages had when the service logged them, which users' filters may name.
log = logging.getLogger("remoteviz.service")
lifecycle_log = logging.getLogger("remoteviz")


class RenderAreaOwner(ConnectionOwner, Protocol):
    """What a render area reads and asks of the service core, which owns its record (so this module
    names no service)."""

    def resize_render_area(self, area: RenderArea, width: int, height: int) -> None:
        """Check the size against the limits; resize, tell the listeners and the browsers."""

    def dispose_render_area(self, area: RenderArea, reason: DisconnectReason) -> None:
        """Close the area's connections with ``reason`` and forget it."""

    def request_redraw(self, area: RenderArea) -> None:
        """The area's picture changed: render it as soon as its viewers can take a frame."""

    def is_disposed(self, area: RenderArea) -> bool:
        """Whether the area was disposed."""

    def is_interacting(self, area: RenderArea, now: float) -> bool:
        """Whether input reached the area less than its still delay before ``now``."""

    def notebook_view(self, area: RenderArea, include: Any,
                      exclude: Any) -> dict[str, Any] | tuple[dict[Any, Any], dict[Any, Any]] | None:
        """The area's live view as Jupyter shows it; raises ImportError without the notebook extra."""


class RenderAreaListener:
    """Subclass and override what you need; every method has a sensible default.

    Every method runs on the thread that calls ``Service.dispatch()``. Input callbacks return
    True to also hand the event to the scene (the examiner), False to keep it from the scene.

    Input callbacks also receive the whole event as the keyword argument ``event``: a
    :class:`~remoteviz.events.MouseEvent` carries ``buttons`` (the held buttons' mask) and
    ``modifiers``, so a drag can be told from a hover. An override written without an ``event``
    parameter keeps working: the service passes ``event`` only to callbacks that accept it.
    """

    # ---- connection
    def on_opened_connection(self, render_area: RenderArea, connection: Connection,
                             frame_encoders: FrameEncoders) -> None:
        """A connection was created; choose its encoders here (default: PNG still, JPEG interactive)."""

    def on_initialized_connection(self, render_area: RenderArea, connection: Connection,
                                  frame_encoders: FrameEncoders) -> None:
        """The connection is ready; frames are about to flow."""

    def on_refused_encoder(self, render_area: RenderArea, connection: Connection,
                           frame_encoders: FrameEncoders) -> None:
        """The chosen encoders cannot be used (see their statuses); set others. Fires again while invalid."""

    def on_closed_connection(self, render_area: RenderArea, connection_id: str, aborted: bool) -> None:
        """A connection closed (``aborted`` when the network dropped it).

        After the listeners, a render area left without connections is disposed unless
        ``render_area.keep_alive`` is True.
        """

    # ---- rendering
    def on_pre_render(self, render_area: RenderArea) -> bool:
        """The scene is about to be rendered; return False to skip this frame."""
        return True

    def on_post_render(self, render_area: RenderArea) -> None:
        """The scene was rendered."""

    def on_sending_frame(self, render_area: RenderArea, connection: Connection) -> str | None:
        """A frame is about to be sent to ``connection``; a returned text travels with it."""
        return None

    def on_requested_frame(self, render_area: RenderArea,
                           connection: Connection) -> tuple[np.ndarray, bool] | None:
        """INDEPENDENT_SERVICE mode: return ``(image, is_interactive)`` or None for no frame.

        ``image`` is an ``(H, W, 3)`` or ``(H, W, 4)`` uint8 array, rows top to bottom, of the render
        area's size. Called once per frame of the render area; every ready connection of the area
        gets the result. ``connection`` is the first of them.
        """
        return None

    def on_requested_size(self, render_area: RenderArea, connection: Connection, width: int,
                          height: int) -> bool | None:
        """A browser asked for a new size: True grants it, False refuses it.

        None (the default) lets the service decide: granted when ``connection`` is the area's
        only viewer, refused when the area is shared, so that one viewer cannot resize the
        picture of everyone else.
        """
        return None

    def on_resize(self, render_area: RenderArea, width: int, height: int) -> None:
        """The render area changed size."""

    # ---- input
    def on_mouse_down(self, render_area: RenderArea, connection: Connection, x: int, y: int,
                      button: int, *, event: MouseEvent) -> bool:
        """A mouse button went down."""
        return True

    def on_mouse_up(self, render_area: RenderArea, connection: Connection, x: int, y: int,
                    button: int, *, event: MouseEvent) -> bool:
        """A mouse button went up."""
        return True

    def on_mouse_move(self, render_area: RenderArea, connection: Connection, x: int, y: int,
                      *, event: MouseEvent) -> bool:
        """The mouse moved."""
        return True

    def on_mouse_double_click(self, render_area: RenderArea, connection: Connection, x: int, y: int,
                              button: int, *, event: MouseEvent) -> bool:
        """A double click."""
        return True

    def on_mouse_enter(self, render_area: RenderArea, connection: Connection, x: int, y: int,
                       *, event: MouseEvent) -> bool:
        """The mouse entered the view."""
        return True

    def on_mouse_leave(self, render_area: RenderArea, connection: Connection, x: int, y: int,
                       *, event: MouseEvent) -> bool:
        """The mouse left the view."""
        return True

    def on_mouse_wheel(self, render_area: RenderArea, connection: Connection, x: int, y: int,
                       delta: float, *, event: WheelEvent) -> bool:
        """The wheel turned ``delta`` lines (positive towards the user)."""
        return True

    def on_key_down(self, render_area: RenderArea, connection: Connection, x: int, y: int,
                    key: str, *, event: KeyEvent) -> bool:
        """A key went down (``key`` as the DOM names it: "a", "Escape", "ArrowLeft"...)."""
        return True

    def on_key_up(self, render_area: RenderArea, connection: Connection, x: int, y: int,
                  key: str, *, event: KeyEvent) -> bool:
        """A key went up."""
        return True

    def on_touch_start(self, render_area: RenderArea, connection: Connection, touch_id: int, x: int,
                       y: int, *, event: TouchEvent) -> bool:
        """A finger touched the view."""
        return True

    def on_touch_move(self, render_area: RenderArea, connection: Connection, touch_id: int, x: int,
                      y: int, *, event: TouchEvent) -> bool:
        """A finger moved."""
        return True

    def on_touch_end(self, render_area: RenderArea, connection: Connection, touch_id: int, x: int,
                     y: int, *, event: TouchEvent) -> bool:
        """A finger lifted (or the touch was cancelled)."""
        return True

    # ---- messages
    def on_received_message(self, render_area: RenderArea, connection: Connection,
                            message: str | bytes) -> None:
        """An application message arrived from the browser."""

    # ---- client-side rendering
    def on_requested_client_rendering(self, render_area: RenderArea, connection: Connection) -> bool | None:
        """The page asks to draw the view itself, which sends it the scene's geometry: True allows
        it, False refuses it (so does a listener that raises), None (the default) leaves it to
        ``render_area.client_rendering``. Decide per connection here (``connection.parameters``,
        ``connection.client``), e.g. for a user allowed to take the model home."""
        return None


class RenderArea(ConnectionGroup):
    """A drawing surface of a given size, shown by 0..n connections that all see the same frames."""

    def __init__(self, owner: RenderAreaOwner, render_area_id: str, width: int, height: int,
                 creator_id: str | None, creator_address: str | None, dispatch_thread: DispatchThread) -> None:
        super().__init__(owner)
        self._owner = owner
        self._dispatch_thread = dispatch_thread
        self._creator_id = creator_id
        self._creator_address = creator_address
        self.id = render_area_id
        self._width = width
        self._height = height
        self._listeners: list[RenderAreaListener] = []
        self._scene_manager: SceneManager | None = None
        self.keep_alive = False
        """When True, the render area outlives its last connection (set for ``create_render_area``)."""
        self._preview: PreviewWindow | None = None
        self._client_rendering = False

    @property
    def creator_id(self) -> str | None:
        """The id of the client whose connection created it; None when the application did."""
        return self._creator_id

    @property
    def creator_address(self) -> str | None:
        """The network address of the client whose connection created it; None when the application did."""
        return self._creator_address

    @property
    def is_disposed(self) -> bool:
        """True once disposed (its connections closed, its scene let go)."""
        return self._owner.is_disposed(self)

    def __repr__(self) -> str:
        return f"<RenderArea {self.id!r} {self._width}x{self._height} connections={self.num_connections}>"

    # ---- size
    @property
    def width(self) -> int:
        """Width in pixels."""
        return self._width

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self._height

    @property
    def viewport(self) -> Viewport:
        """The area's size as a viewport, for ``camera.view_all(render_area.viewport)``."""
        from .rendering import Viewport

        return Viewport(self._width, self._height)

    @marshalled
    def resize(self, width: int, height: int) -> None:
        """Change the size; connected browsers are told and the next frames have it.

        Safe from any thread: off the dispatch thread it happens in a coming ``dispatch()``.
        """
        self._owner.resize_render_area(self, width, height)

    def take_size(self, width: int, height: int) -> None:
        """A resize's last step, taken by the service core once it has checked the size against the
        limits (applications call :meth:`resize`)."""
        self._width, self._height = width, height

    # ---- connections
    @marshalled
    def close_connections_and_dispose(self) -> None:
        """Close every connection (the browsers see DISPOSED) and dispose the area.

        Safe from any thread: off the dispatch thread it happens in a coming ``dispatch()``.
        """
        self._owner.dispose_render_area(self, DisconnectReason.DISPOSED)

    def release(self) -> None:
        """The service's last step of disposing it (call :meth:`close_connections_and_dispose`): its
        preview window and its scene are let go; a scene that fails to is logged."""
        self.show_preview(False)
        if self._scene_manager is not None:
            try:
                self._scene_manager.dispose()
            except Exception:
                lifecycle_log.exception("disposing the scene of %r failed", self)

    # ---- scene
    @property
    def scene_manager(self) -> SceneManager:
        """The scene rendered in INVENTOR_SERVICE mode; edits to it redraw the area by themselves."""
        if self._scene_manager is None:
            from .rendering import SceneManager

            self._scene_manager = SceneManager(on_change=self.request_redraw)
        return self._scene_manager

    @property
    def touch_manager(self) -> TouchManager:
        """The touch gesture recognizers of this area's scene."""
        return self.scene_manager.touch_manager

    def show_preview(self, show: bool = True) -> None:
        """Show this area's frames in a window on the server's own display, for development.

        Call it on the dispatch thread (in ``on_instantiated_render_area``, say; elsewhere it raises
        ``WrongThreadError``). Raises ``RenderingUnavailableError`` where there is no display.
        Closing the window stops it.
        """
        self._dispatch_thread.check("RenderArea.show_preview()")
        if show and self._preview is None:
            from .rendering.preview import PreviewWindow

            self._preview = PreviewWindow(f"remoteviz: {self.id}")
            self.request_redraw()
        elif not show and self._preview is not None:
            self._preview.close()
            self._preview = None

    def preview_frame(self, image: np.ndarray) -> None:
        """Show a rendered frame in the preview window, if one is open (the frame path calls it).

        A window the user closed is forgotten; one that fails is logged and closed.
        """
        if self._preview is None:
            return
        try:
            if not self._preview.show(image):
                self._preview = None  # the user closed it
        except Exception:
            log.exception("the preview window of %r failed; closing it", self)
            self.show_preview(False)

    @overload
    def screenshot(self, width: int | None = None, height: int | None = None, *,
                   as_array: Literal[False] = False) -> bytes: ...

    @overload
    def screenshot(self, width: int | None = None, height: int | None = None, *,
                   as_array: Literal[True]) -> np.ndarray: ...

    def screenshot(self, width: int | None = None, height: int | None = None, *,
                   as_array: bool = False) -> bytes | np.ndarray:
        """A still of the scene as it is now: PNG bytes, or with ``as_array`` an ``(H, W, 3)``
        uint8 RGB array (top row first).

        Drawn at the area's size (or ``width`` x ``height``) at full quality, as the still frame
        the viewers get once input stops (with the same antialiasing), whatever size or quality the
        interactive frames have. Call it on the dispatch thread (in a listener, or through
        ``Service.call_soon``; elsewhere it raises ``WrongThreadError``), like every change to the
        scene; it draws with the renderer of the area's render thread, waiting for a draw of it in
        flight there. For INVENTOR_SERVICE render areas (the scene of :attr:`scene_manager`).
        """
        self._dispatch_thread.check("RenderArea.screenshot()")
        width = self._width if width is None else width
        height = self._height if height is None else height
        if not all(isinstance(n, int) and 0 < n <= _MAX_SCREENSHOT_SIDE for n in (width, height)):
            raise ValueError(f"a screenshot is 1 to {_MAX_SCREENSHOT_SIDE} pixels a side, got {width}x{height}")
        scene = self.scene_manager
        image = scene.render(width, height, interactive=False, renderer=scene.last_renderer)
        if as_array:
            return image
        from .encoders.image import encode_png

        return encode_png(image)

    @marshalled
    def request_redraw(self) -> None:
        """Render and send a new frame as soon as the connections can take it (safe from any thread)."""
        self._owner.request_redraw(self)

    @property
    def is_interacting(self) -> bool:
        """True while input arrived less than ``ServiceSettings.still_delay`` ago.

        Frames rendered meanwhile are interactive (interactive encoder, adapted quality); the
        first frame after that is a still one (still encoder, best quality).
        """
        return self._owner.is_interacting(self, time.monotonic())

    def _repr_mimebundle_(self, include: Any = None,
                          exclude: Any = None) -> dict[str, Any] | tuple[dict[Any, Any], dict[Any, Any]] | None:
        """In a Jupyter notebook, a render area shown by a cell is a live view of it."""
        try:
            return self._owner.notebook_view(self, include, exclude)
        except ImportError:  # the notebook extra is not installed
            return {"text/plain": f"{self!r} (pip install remoteviz[notebook] for a live view)"}

    # ---- client-side rendering
    @property
    def client_rendering(self) -> bool:
        """Whether pages may draw this area themselves (client-side rendering), which sends them the
        scene's geometry (default False: the geometry never leaves the server). Pages still ask
        (``?render=client|auto``); ``on_requested_client_rendering`` can decide per connection.
        Turning it on is logged, as every opening is."""
        return self._client_rendering

    @client_rendering.setter
    def client_rendering(self, allowed: bool) -> None:
        allowed = bool(allowed)
        if allowed and not self._client_rendering:
            from .openings import log_client_rendering

            log_client_rendering(self.id)
        self._client_rendering = allowed

    def export(self, path: str | os.PathLike[str]) -> int:
        """Write this area's scene to one file, as a page at this area's size shows it: ``.html``
        (self-contained, opens from disk with no network, navigates like the viewer) or ``.glb``
        (glTF binary). Returns the bytes written; a scene the format cannot hold (too big for one
        HTML file, say) raises ``remoteviz.scene_sync.ExportError`` saying why."""
        from .scene_sync import export_scene

        return export_scene(self.scene_manager, path, width=self._width, height=self._height, title=self.id)

    # ---- messages and listeners
    def send_message(self, message: str | bytes, connections: Iterable[Connection] | None = None) -> None:
        """Send an application message to all connections of the area, or to ``connections``.

        Safe from any thread (each connection's send is, :meth:`Connection.send_message`).
        """
        for connection in self.connections if connections is None else connections:
            connection.send_message(message)

    @marshalled
    def add_listener(self, listener: RenderAreaListener) -> None:
        """Receive this area's notifications (safe from any thread)."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    @marshalled
    def remove_listener(self, listener: RenderAreaListener) -> None:
        """Stop receiving this area's notifications (safe from any thread)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def listeners(self) -> list[RenderAreaListener]:
        """The attached listeners (a default one acts when there are none)."""
        return list(self._listeners) or [_DEFAULT_LISTENER]


_DEFAULT_LISTENER = RenderAreaListener()

_MAX_SCREENSHOT_SIDE = 16384  # pixels: a framebuffer larger than GL drivers commonly allow
