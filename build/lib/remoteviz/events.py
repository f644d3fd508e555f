"""Input events as the service hands them to listeners and to the scene.

Coordinates are render-area pixels with the origin at the top-left corner, x to the right and y
downwards, exactly as the browser client maps them. Buttons follow the DOM numbering.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class MouseButton(enum.IntEnum):
    """A mouse button, numbered as the DOM's ``MouseEvent.button``."""

    LEFT = 0
    MIDDLE = 1
    RIGHT = 2
    BACK = 3
    FORWARD = 4


class Modifiers(enum.IntFlag):
    """Keyboard modifiers held during an input event."""

    NONE = 0
    SHIFT = 1
    CTRL = 2
    ALT = 4
    META = 8


class MouseAction(enum.Enum):
    """What happened to the mouse."""

    DOWN = "down"
    UP = "up"
    MOVE = "move"
    DOUBLE_CLICK = "dblclick"
    ENTER = "enter"
    LEAVE = "leave"


class KeyAction(enum.Enum):
    """Whether a key went down or up."""

    DOWN = "down"
    UP = "up"


class TouchAction(enum.Enum):
    """The phase of a touch point."""

    START = "start"
    MOVE = "move"
    END = "end"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class MouseEvent:
    """A mouse button press, release, move, double click, enter or leave."""

    action: MouseAction
    x: int
    y: int
    button: MouseButton = MouseButton.LEFT
    buttons: int = 0  # bit mask of the buttons held, as the DOM's MouseEvent.buttons
    modifiers: Modifiers = Modifiers.NONE


@dataclass(frozen=True, slots=True)
class WheelEvent:
    """A wheel turn; ``delta`` is in lines, positive when the wheel turns towards the user."""

    x: int
    y: int
    delta: float
    modifiers: Modifiers = Modifiers.NONE


@dataclass(frozen=True, slots=True)
class KeyEvent:
    """A key press or release; ``key`` is the DOM ``KeyboardEvent.key`` ("a", "Escape", ...)."""

    action: KeyAction
    x: int
    y: int
    key: str
    modifiers: Modifiers = Modifiers.NONE


@dataclass(frozen=True, slots=True)
class TouchEvent:
    """One touch point changing; ``touch_id`` stays the same for a finger until it lifts."""

    action: TouchAction
    touch_id: int
    x: int
    y: int


InputEvent = MouseEvent | WheelEvent | KeyEvent | TouchEvent
