"""SceneExaminer: the usual scene root, with a camera, a headlight and mouse/touch navigation."""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Callable, Iterable
from typing import Any

from remoteviz.events import KeyAction, KeyEvent, Modifiers, MouseAction, MouseButton, MouseEvent, WheelEvent
from remoteviz.rendering.actions import Action, HandleEventAction, gather
from remoteviz.rendering.camera import Camera, PerspectiveCamera, Viewport
from remoteviz.rendering.fields import Field
from remoteviz.rendering.nodes import DirectionalLight, Group, Node
from remoteviz.rendering.picking import PickedPoint, pick
from remoteviz.rendering.touch import GestureEvent, GestureState, GestureType

#: The key that switches between NAVIGATION and SELECTION, as the DOM names it.
TOGGLE_MODE_KEY = "Escape"
#: The key that brings the camera back to the home view (:meth:`SceneExaminer.reset_home`).
HOME_KEY = "Home"
#: Zoom factor for one wheel line (positive deltas zoom out).
WHEEL_ZOOM_PER_LINE = 1.1

log = logging.getLogger("remoteviz.examiner")

ModeListener = Callable[["InteractionMode"], Any]
"""Called with the new mode when a SceneExaminer's interaction mode changes."""

# Bits of the DOM's MouseEvent.buttons mask.
_BUTTON_BITS = {MouseButton.LEFT: 1, MouseButton.RIGHT: 2, MouseButton.MIDDLE: 4}


class InteractionMode(enum.Enum):
    """What a SceneExaminer does with input events."""

    NAVIGATION = "navigation"  # events move the camera and do not reach the scene
    SELECTION = "selection"  # events go to the scene (event callbacks, picking)


class _Drag(enum.Enum):
    ORBIT = "orbit"
    PAN = "pan"
    DOLLY = "dolly"


class SceneExaminer(Group):
    """A group that owns a camera and a headlight and navigates with the mouse and touch gestures.

    In NAVIGATION mode (the default): left drag orbits around the focal point, middle drag or
    shift + left drag pans, the wheel and right drag or ctrl + left drag zoom, and touch gestures
    orbit, pinch-zoom, pan, roll and (double tap) view all. Escape switches to SELECTION mode, where
    events pass to the children (:class:`~remoteviz.rendering.nodes.EventCallback` nodes), and
    back; :meth:`add_mode_listener` hears each change. The headlight shines along the camera's
    view direction.

    The home view is where the Home key (or :meth:`reset_home`) brings the camera back: the view
    :meth:`save_home` saved, else the one the camera had when navigation first moved it.
    """

    def __init__(
        self, children: Iterable[Node] = (), *, camera: Camera | None = None, name: str = ""
    ) -> None:
        super().__init__(children, name=name)
        self._camera = camera if camera is not None else PerspectiveCamera()
        self._camera._add_parent(self)
        self._headlight = DirectionalLight(name="headlight")
        self._headlight._add_parent(self)
        self._mode = InteractionMode.NAVIGATION
        self._pressed = 0  # DOM-style mask of the buttons we saw go down
        self._last_position: tuple[int, int] | None = None
        self._home: tuple[type[Camera], dict[str, Any]] | None = None
        self._mode_listeners: list[ModeListener] = []

    @property
    def camera(self) -> Camera:
        """The camera; assign another (e.g. an OrthographicCamera) to replace it."""
        return self._camera

    @camera.setter
    def camera(self, camera: Camera) -> None:
        self._camera._remove_parent(self)
        self._camera = camera
        camera._add_parent(self)
        self.touch()

    @property
    def headlight(self) -> DirectionalLight:
        """The light that follows the camera; set ``headlight.on = False`` to switch it off."""
        return self._headlight

    @property
    def interaction_mode(self) -> InteractionMode:
        """NAVIGATION or SELECTION."""
        return self._mode

    @interaction_mode.setter
    def interaction_mode(self, mode: InteractionMode) -> None:
        mode = InteractionMode(mode)
        changed = mode is not self._mode
        self._mode = mode
        self._pressed, self._last_position = 0, None
        if changed:
            for listener in tuple(self._mode_listeners):
                try:
                    listener(mode)
                except Exception:
                    log.exception("a mode listener of %r raised", self)

    def add_mode_listener(self, listener: ModeListener) -> None:
        """Call ``listener(mode)`` whenever the interaction mode changes (Escape, or assigned)."""
        self._mode_listeners.append(listener)

    def remove_mode_listener(self, listener: ModeListener) -> None:
        """Stop calling a listener added with :meth:`add_mode_listener`."""
        self._mode_listeners.remove(listener)

    def save_home(self) -> None:
        """Remember the camera's current view as the home view."""
        camera = self._camera
        self._home = (type(camera), _field_values(camera))

    def reset_home(self) -> None:
        """Bring the camera back to the home view (nothing happens before there is one)."""
        if self._home is None:
            return
        kind, values = self._home
        if not isinstance(self._camera, kind):
            return  # the camera was replaced by another kind since: its fields do not apply
        for name, value in values.items():
            setattr(self._camera, name, value)

    @property
    def has_home(self) -> bool:
        """Whether a home view was saved (by :meth:`save_home` or the first navigation)."""
        return self._home is not None

    @property
    def passes_events_to_scene(self) -> bool:
        """True in SELECTION mode, where events go on to the children."""
        return self._mode is InteractionMode.SELECTION

    def view_all(self, viewport: Viewport) -> None:
        """Move the camera so the whole scene fills ``viewport`` (see :meth:`Camera.view_all`)."""
        self._camera.view_all(viewport, self)

    def pick(self, x: int, y: int, viewport: Viewport) -> PickedPoint | None:
        """The scene point under pixel ``(x, y)`` (origin top-left), or None over the background."""
        gathered = gather(self)
        return pick(gathered.shapes, self._camera, gathered.camera_model, viewport, x, y)

    def traverse(self, action: Action) -> None:
        """Let the action decide how to treat an examiner (event handling stops here when navigating)."""
        action.visit_examiner(self)

    def traverse_contents(self, action: Action) -> None:
        """Traverse the camera, the headlight (aimed by the camera) and the children."""
        with action.saved_state():
            model = action.state.model
            action.traverse(self._camera)
            # The headlight's default direction, -z, turned like the camera, is the view direction.
            action.state.model = model @ self._camera.orientation.as_matrix()
            action.traverse(self._headlight)
            action.state.model = model
            super().traverse(action)

    def handle_event(self, action: HandleEventAction) -> bool:
        """Navigate with the event, or toggle the mode; True when the event was used."""
        event = action.event
        if isinstance(event, KeyEvent):
            if event.action is KeyAction.DOWN and event.key == TOGGLE_MODE_KEY:
                self.interaction_mode = (
                    InteractionMode.SELECTION
                    if self._mode is InteractionMode.NAVIGATION
                    else InteractionMode.NAVIGATION
                )
                return True
            if event.action is KeyAction.DOWN and event.key == HOME_KEY:
                self.reset_home()
                return True
            return False
        if self._mode is not InteractionMode.NAVIGATION:
            return False
        if self._home is None:
            self.save_home()  # before navigation first moves the camera: the view to come back to
        if isinstance(event, MouseEvent):
            return self._mouse(event, action.viewport)
        if isinstance(event, WheelEvent):
            self._camera.zoom(WHEEL_ZOOM_PER_LINE**event.delta)
            return True
        if isinstance(event, GestureEvent):
            return self._gesture(event, action.viewport)
        return False

    def _mouse(self, event: MouseEvent, viewport: Viewport) -> bool:
        bit = _BUTTON_BITS.get(event.button, 0)
        if event.action is MouseAction.DOWN:
            self._pressed |= bit
            self._last_position = (event.x, event.y)
            return True
        if event.action is MouseAction.UP:
            self._pressed &= ~bit
            return bool(bit)
        if event.action is not MouseAction.MOVE:
            return False
        # The event's own mask is authoritative when present: it corrects a release we missed.
        held = event.buttons or self._pressed
        last, self._last_position = self._last_position, (event.x, event.y)
        drag = _drag_for(held, event.modifiers)
        if drag is None or last is None:
            return False
        dx, dy = event.x - last[0], event.y - last[1]
        if drag is _Drag.ORBIT:
            self._orbit(dx, dy, viewport)
        elif drag is _Drag.PAN:
            self._pan(dx, dy, viewport)
        else:
            # Dragging down by half the height shows twice as much.
            self._camera.zoom(2.0 ** (dy / (viewport.height / 2.0)))
        return True

    def _gesture(self, gesture: GestureEvent, viewport: Viewport) -> bool:
        if gesture.type is GestureType.DOUBLE_TAP:
            self.view_all(viewport)
            return True
        if gesture.state is GestureState.END:
            return gesture.type is not GestureType.LONG_TAP
        if gesture.type is GestureType.ORBIT:
            self._orbit(gesture.delta_x, gesture.delta_y, viewport)
        elif gesture.type is GestureType.PINCH:
            self._camera.zoom(1.0 / gesture.scale)
        elif gesture.type is GestureType.PAN:
            self._pan(gesture.delta_x, gesture.delta_y, viewport)
        elif gesture.type is GestureType.ROTATE:
            self._camera.roll(-gesture.angle)  # the scene turns with the fingers
        else:
            return False
        return True

    def _orbit(self, dx: float, dy: float, viewport: Viewport) -> None:
        # A drag across the smaller side of the viewport turns the scene half a turn, following
        # the pointer: the camera turns the opposite way.
        scale = math.pi / min(viewport.width, viewport.height)
        self._camera.turn_around_focal_point(-dx * scale, -dy * scale)

    def _pan(self, dx: float, dy: float, viewport: Viewport) -> None:
        # The scene follows the pointer at the focal distance; screen y grows downwards.
        units = self._camera.units_per_pixel(viewport)
        self._camera.pan(-dx * units, dy * units)


def _field_values(node: Any) -> dict[str, Any]:
    """Every field's value of ``node`` (its class's and its bases')."""
    names = {name for cls in type(node).__mro__ for name, attr in vars(cls).items() if isinstance(attr, Field)}
    return {name: getattr(node, name) for name in sorted(names)}


def _drag_for(held: int, modifiers: Modifiers) -> _Drag | None:
    """Which navigation a drag with these buttons and modifiers performs."""
    if held & _BUTTON_BITS[MouseButton.MIDDLE]:
        return _Drag.PAN
    if held & _BUTTON_BITS[MouseButton.RIGHT]:
        return _Drag.DOLLY
    if held & _BUTTON_BITS[MouseButton.LEFT]:
        if modifiers & Modifiers.SHIFT:
            return _Drag.PAN
        if modifiers & Modifiers.CTRL:
            return _Drag.DOLLY
        return _Drag.ORBIT
    return None
