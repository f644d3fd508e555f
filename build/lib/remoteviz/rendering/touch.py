"""Touch gestures: recognizers turn touch points into gesture events.

A :class:`TouchManager` (one per render area) keeps the fingers currently down and feeds every
touch event to its recognizers. The gestures they report go first to the application's gesture
listeners; one a listener does not claim goes through the scene graph like any input event, where a
:class:`~remoteviz.rendering.examiner.SceneExaminer` in NAVIGATION mode turns it into camera motion
(orbit, zoom, pan, roll, view all) and event callbacks in SELECTION mode receive it.

Screen coordinates are render-area pixels, origin top-left, y down.
"""

from __future__ import annotations

import enum
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from remoteviz.events import TouchAction, TouchEvent

#: How far (pixels) a finger may drift and still count as holding still, for taps and long taps.
TOUCH_SLOP = 10.0
#: Longest press (seconds) that counts as a tap.
TAP_TIME = 0.3
#: Longest wait (seconds) between the two taps of a double tap, and their greatest distance (px).
DOUBLE_TAP_INTERVAL = 0.35
DOUBLE_TAP_DISTANCE = 40.0
#: Shortest press (seconds) that counts as a long tap.
LONG_TAP_TIME = 0.6


class GestureType(enum.Enum):
    """The gestures the default recognizers report."""

    ORBIT = "orbit"  # one finger dragging
    PINCH = "pinch"  # two fingers moving apart or together
    PAN = "pan"  # two fingers moving together
    ROTATE = "rotate"  # two fingers turning
    DOUBLE_TAP = "double_tap"
    LONG_TAP = "long_tap"


class GestureState(enum.Enum):
    """Where a gesture is in its life; taps are reported once, as END."""

    BEGIN = "begin"
    UPDATE = "update"
    END = "end"


@dataclass(frozen=True, slots=True)
class GestureEvent:
    """A recognized gesture.

    ``x, y`` is the focus: the finger, or the midpoint of two fingers. The other values describe the
    change since the gesture's previous event: ``delta_x, delta_y`` the focus's motion in pixels,
    ``scale`` the ratio of the distances between two fingers, ``angle`` their clockwise turn on
    screen in radians.
    """

    type: GestureType
    state: GestureState
    x: float
    y: float
    delta_x: float = 0.0
    delta_y: float = 0.0
    scale: float = 1.0
    angle: float = 0.0


@dataclass(frozen=True, slots=True)
class TouchPoint:
    """A finger that is down: where it is, and where and when it came down."""

    x: float
    y: float
    start_x: float
    start_y: float
    start_time: float

    @property
    def travel(self) -> float:
        """Distance from where the finger came down."""
        return math.hypot(self.x - self.start_x, self.y - self.start_y)


Touches = Mapping[int, TouchPoint]


class GestureRecognizer(ABC):
    """Watches touch events and reports the gestures it recognizes."""

    @abstractmethod
    def update(self, event: TouchEvent, before: Touches, after: Touches, now: float) -> list[GestureEvent]:
        """Take one touch event; ``before`` and ``after`` are the fingers down around it."""


class _ContinuousRecognizer(GestureRecognizer):
    """A gesture made with a fixed number of fingers moving: BEGIN, UPDATEs, then END."""

    fingers = 1
    type: GestureType

    def __init__(self) -> None:
        self._last: GestureEvent | None = None

    def update(self, event: TouchEvent, before: Touches, after: Touches, now: float) -> list[GestureEvent]:
        """Report the gesture while exactly ``fingers`` fingers move; end it when that changes."""
        moving = (
            event.action is TouchAction.MOVE and len(after) == self.fingers and before.keys() == after.keys()
        )
        if moving:
            ids = sorted(after)
            gesture = self._measure([before[i] for i in ids], [after[i] for i in ids], self._last is not None)
            if gesture is None:
                return []
            self._last = gesture
            return [gesture]
        if self._last is not None and len(after) != self.fingers:
            ended = GestureEvent(self.type, GestureState.END, self._last.x, self._last.y)
            self._last = None
            return [ended]
        return []

    def _state(self, active: bool) -> GestureState:
        return GestureState.UPDATE if active else GestureState.BEGIN

    @abstractmethod
    def _measure(
        self, before: list[TouchPoint], after: list[TouchPoint], active: bool
    ) -> GestureEvent | None:
        """The gesture event for one move, or None when it has not started."""


def _midpoint(points: list[TouchPoint]) -> tuple[float, float]:
    return (points[0].x + points[1].x) / 2.0, (points[0].y + points[1].y) / 2.0


class OrbitRecognizer(_ContinuousRecognizer):
    """One finger dragging: orbits the camera. It starts once the finger leaves the tap slop."""

    type = GestureType.ORBIT

    def _measure(
        self, before: list[TouchPoint], after: list[TouchPoint], active: bool
    ) -> GestureEvent | None:
        finger, previous = after[0], before[0]
        if not active and finger.travel <= TOUCH_SLOP:
            return None
        return GestureEvent(
            self.type, self._state(active), finger.x, finger.y, finger.x - previous.x, finger.y - previous.y
        )


class PinchRecognizer(_ContinuousRecognizer):
    """Two fingers moving apart (scale > 1) or together: zooms."""

    type = GestureType.PINCH
    fingers = 2

    def _measure(
        self, before: list[TouchPoint], after: list[TouchPoint], active: bool
    ) -> GestureEvent | None:
        spread_before = math.hypot(before[1].x - before[0].x, before[1].y - before[0].y)
        spread_after = math.hypot(after[1].x - after[0].x, after[1].y - after[0].y)
        scale = spread_after / spread_before if spread_before > 0.0 and spread_after > 0.0 else 1.0
        return GestureEvent(self.type, self._state(active), *_midpoint(after), scale=scale)


class PanRecognizer(_ContinuousRecognizer):
    """Two fingers moving together: pans."""

    type = GestureType.PAN
    fingers = 2

    def _measure(
        self, before: list[TouchPoint], after: list[TouchPoint], active: bool
    ) -> GestureEvent | None:
        (x0, y0), (x1, y1) = _midpoint(before), _midpoint(after)
        return GestureEvent(self.type, self._state(active), x1, y1, x1 - x0, y1 - y0)


class RotateRecognizer(_ContinuousRecognizer):
    """Two fingers turning around each other: rolls the view."""

    type = GestureType.ROTATE
    fingers = 2

    def _measure(
        self, before: list[TouchPoint], after: list[TouchPoint], active: bool
    ) -> GestureEvent | None:
        # With y pointing down, a growing atan2 angle turns clockwise on screen.
        heading_before = math.atan2(before[1].y - before[0].y, before[1].x - before[0].x)
        heading_after = math.atan2(after[1].y - after[0].y, after[1].x - after[0].x)
        angle = (heading_after - heading_before + math.pi) % (2.0 * math.pi) - math.pi
        return GestureEvent(self.type, self._state(active), *_midpoint(after), angle=angle)


class _PressRecognizer(GestureRecognizer):
    """Follows a lone finger that stays within the slop, for taps and long taps."""

    def __init__(self) -> None:
        self._candidate: int | None = None

    def update(self, event: TouchEvent, before: Touches, after: Touches, now: float) -> list[GestureEvent]:
        """Keep the candidate finger while it is alone and still; hand it to :meth:`_pressed`."""
        if event.action is TouchAction.START:
            self._candidate = event.touch_id if len(after) == 1 else None
            return []
        if event.touch_id != self._candidate:
            return []
        point = after.get(event.touch_id) or before[event.touch_id]
        if event.action is TouchAction.CANCEL or point.travel > TOUCH_SLOP:
            self._candidate = None
            return []
        if event.action is TouchAction.END:
            self._candidate = None
        return self._pressed(point, event.action is TouchAction.END, now)

    @abstractmethod
    def _pressed(self, point: TouchPoint, released: bool, now: float) -> list[GestureEvent]:
        """React to the still finger moving (within the slop) or lifting."""


class DoubleTapRecognizer(_PressRecognizer):
    """Two quick taps at about the same place: views all."""

    def __init__(self) -> None:
        super().__init__()
        self._last_tap: tuple[float, float, float] | None = None  # x, y, time

    def _pressed(self, point: TouchPoint, released: bool, now: float) -> list[GestureEvent]:
        if not released or now - point.start_time > TAP_TIME:
            return []
        previous, self._last_tap = self._last_tap, (point.x, point.y, now)
        if (
            previous is not None
            and now - previous[2] <= DOUBLE_TAP_INTERVAL
            and math.hypot(point.x - previous[0], point.y - previous[1]) <= DOUBLE_TAP_DISTANCE
        ):
            self._last_tap = None  # a third tap starts a new pair
            return [GestureEvent(GestureType.DOUBLE_TAP, GestureState.END, point.x, point.y)]
        return []


class LongTapRecognizer(_PressRecognizer):
    """A finger held still: reported once, at the first touch event after :data:`LONG_TAP_TIME`.

    Touch events are the only clock, so a finger held perfectly still is reported when it lifts.
    """

    def _pressed(self, point: TouchPoint, released: bool, now: float) -> list[GestureEvent]:
        if now - point.start_time < LONG_TAP_TIME:
            return []
        self._candidate = None  # once per press
        return [GestureEvent(GestureType.LONG_TAP, GestureState.END, point.x, point.y)]


GestureListener = Callable[[GestureEvent], Any]


class TouchManager:
    """Tracks the fingers on a render area and runs its gesture recognizers.

    It recognizes nothing until recognizers are added: call :meth:`add_default_recognizers`, or
    :meth:`add_recognizer` with your own. ``clock`` gives the time in seconds (tests pass a fake).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._recognizers: list[GestureRecognizer] = []
        self._listeners: list[GestureListener] = []
        self._touches: dict[int, TouchPoint] = {}

    @property
    def recognizers(self) -> tuple[GestureRecognizer, ...]:
        """The recognizers, in the order they see events."""
        return tuple(self._recognizers)

    @property
    def touches(self) -> Touches:
        """The fingers down now, by touch id."""
        return dict(self._touches)

    def add_recognizer(self, recognizer: GestureRecognizer) -> GestureRecognizer:
        """Add a recognizer and return it."""
        self._recognizers.append(recognizer)
        return recognizer

    def remove_recognizer(self, recognizer: GestureRecognizer) -> None:
        """Remove a recognizer."""
        self._recognizers.remove(recognizer)

    def add_default_recognizers(self) -> None:
        """Add orbit, pinch, pan, rotate, double tap and long tap, skipping kinds already added."""
        defaults = (
            OrbitRecognizer,
            PinchRecognizer,
            PanRecognizer,
            RotateRecognizer,
            DoubleTapRecognizer,
            LongTapRecognizer,
        )
        present = {type(r) for r in self._recognizers}
        for kind in defaults:
            if kind not in present:
                self.add_recognizer(kind())

    def add_gesture_listener(self, listener: GestureListener) -> None:
        """Call ``listener(gesture)`` for each gesture; a true return claims it from the scene."""
        self._listeners.append(listener)

    def remove_gesture_listener(self, listener: GestureListener) -> None:
        """Stop calling ``listener``."""
        self._listeners.remove(listener)

    def recognize(self, event: TouchEvent) -> list[GestureEvent]:
        """Update the fingers with ``event`` and return the gestures the recognizers report."""
        now = self._clock()
        before = dict(self._touches)
        if event.action is TouchAction.START:
            self._touches[event.touch_id] = TouchPoint(event.x, event.y, event.x, event.y, now)
        elif event.touch_id not in self._touches:
            return []  # a finger we never saw come down (it started before we listened)
        elif event.action is TouchAction.MOVE:
            old = self._touches[event.touch_id]
            self._touches[event.touch_id] = TouchPoint(
                event.x, event.y, old.start_x, old.start_y, old.start_time
            )
        else:
            del self._touches[event.touch_id]
        after = dict(self._touches)
        return [g for r in tuple(self._recognizers) for g in r.update(event, before, after, now)]

    def notify(self, gesture: GestureEvent) -> bool:
        """Give ``gesture`` to the listeners; True when one of them claimed it."""
        claimed = False
        for listener in tuple(self._listeners):
            claimed = bool(listener(gesture)) or claimed
        return claimed
