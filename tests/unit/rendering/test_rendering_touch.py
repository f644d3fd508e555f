"""Gesture recognition from touch events, with a fake clock."""

from __future__ import annotations

import math

import pytest

from remoteviz.events import TouchAction, TouchEvent
from remoteviz.rendering import GestureState, GestureType, TouchManager


class FakeClock:
    """Time that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def touch(clock: FakeClock) -> TouchManager:
    manager = TouchManager(clock)
    manager.add_default_recognizers()
    return manager


def feed(manager: TouchManager, *events: tuple[str, int, float, float]):
    """Send events given as (action, id, x, y); return the gestures recognized."""
    gestures = []
    for action, touch_id, x, y in events:
        gestures += manager.recognize(TouchEvent(TouchAction(action), touch_id, x, y))
    return gestures


def test_default_recognizers_are_added_once(touch):
    count = len(touch.recognizers)
    touch.add_default_recognizers()
    assert count == 6 and len(touch.recognizers) == count


def test_one_finger_orbits_only_beyond_the_slop(touch):
    assert feed(touch, ("start", 1, 50, 50), ("move", 1, 55, 50)) == []
    gestures = feed(touch, ("move", 1, 70, 50), ("move", 1, 80, 45), ("end", 1, 80, 45))
    assert [(g.type, g.state) for g in gestures] == [
        (GestureType.ORBIT, GestureState.BEGIN),
        (GestureType.ORBIT, GestureState.UPDATE),
        (GestureType.ORBIT, GestureState.END),
    ]
    assert (gestures[1].delta_x, gestures[1].delta_y) == (10, -5)


def test_two_fingers_report_pinch_pan_and_rotate(touch):
    feed(touch, ("start", 1, 40, 50), ("start", 2, 60, 50))
    # Finger 2 swings a quarter turn clockwise (on screen, y down) and away from finger 1.
    gestures = {g.type: g for g in feed(touch, ("move", 2, 40, 90))}
    assert gestures[GestureType.PINCH].scale == pytest.approx(2.0)
    assert gestures[GestureType.ROTATE].angle == pytest.approx(math.pi / 2)
    assert (gestures[GestureType.PAN].delta_x, gestures[GestureType.PAN].delta_y) == (-10, 20)
    assert (gestures[GestureType.PAN].x, gestures[GestureType.PAN].y) == (40, 70)
    ended = feed(touch, ("end", 2, 40, 90))
    assert {g.type for g in ended} == {GestureType.PINCH, GestureType.PAN, GestureType.ROTATE}
    assert all(g.state is GestureState.END for g in ended)


def test_double_tap_needs_two_quick_close_taps(touch, clock):
    assert feed(touch, ("start", 1, 50, 50), ("end", 1, 50, 50)) == []
    clock.now += 0.2
    gestures = feed(touch, ("start", 2, 53, 52), ("end", 2, 53, 52))
    assert [g.type for g in gestures] == [GestureType.DOUBLE_TAP]
    clock.now += 1.0
    feed(touch, ("start", 3, 50, 50), ("end", 3, 50, 50))
    clock.now += 0.5  # too slow for a double tap
    assert feed(touch, ("start", 4, 50, 50), ("end", 4, 50, 50)) == []


def test_long_tap_fires_once_for_a_still_finger(touch, clock):
    feed(touch, ("start", 1, 50, 50))
    clock.now += 0.3
    assert feed(touch, ("move", 1, 52, 50)) == []
    clock.now += 0.5
    gestures = feed(touch, ("move", 1, 52, 51), ("move", 1, 53, 51), ("end", 1, 53, 51))
    assert [g.type for g in gestures] == [GestureType.LONG_TAP]


def test_a_moving_finger_is_no_long_tap(touch, clock):
    feed(touch, ("start", 1, 50, 50), ("move", 1, 80, 50))
    clock.now += 1.0
    assert GestureType.LONG_TAP not in [g.type for g in feed(touch, ("end", 1, 80, 50))]


def test_listeners_see_every_gesture_and_can_claim_it(touch):
    seen = []
    touch.add_gesture_listener(lambda g: seen.append(g.type))
    (gesture,) = feed(touch, ("start", 1, 0, 0), ("move", 1, 30, 0))
    assert touch.notify(gesture) is False and seen == [GestureType.ORBIT]
    touch.add_gesture_listener(lambda g: True)
    assert touch.notify(gesture) is True


def test_touches_unknown_to_the_manager_are_ignored(touch):
    assert feed(touch, ("move", 9, 10, 10), ("end", 9, 10, 10)) == []
    assert touch.touches == {}
