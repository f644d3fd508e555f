"""The pacer's window, driven deterministically with a fake clock."""

import pytest

from remoteviz.protocol import ProtocolError
from remoteviz.streaming import Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_window_bounds_frames_in_flight_and_acks_free_it() -> None:
    clock = Clock()
    pacer = Pacer(window=2, clock=clock)
    assert pacer.has_room
    assert pacer.next_frame(100) == 1
    assert pacer.next_frame(200) == 2
    assert not pacer.has_room and pacer.in_flight == 2
    with pytest.raises(RuntimeError):
        pacer.next_frame(1)
    clock.now = 0.05
    info = pacer.ack(1, decode_ms=4.0)
    assert info.round_trip_ms == pytest.approx(50.0) and info.size == 100 and info.decode_ms == 4.0
    assert pacer.has_room
    assert pacer.next_frame(1) == 3
    assert (pacer.frames_sent, pacer.bytes_sent) == (3, 301)


def test_acks_out_of_order_are_fine_but_unknown_or_repeated_ones_are_errors() -> None:
    pacer = Pacer(window=3)
    for size in (1, 2, 3):
        pacer.next_frame(size)
    pacer.ack(3, 0)
    pacer.ack(1, 0)
    with pytest.raises(ProtocolError):
        pacer.ack(1, 0)
    with pytest.raises(ProtocolError):
        pacer.ack(77, 0)
    assert pacer.in_flight == 1


def test_window_must_allow_one_frame() -> None:
    with pytest.raises(ValueError):
        Pacer(window=0)
