"""The pacer's window and the rate controller, driven deterministically with a fake clock (``now`` passed in)."""

import pytest

from remoteviz.pipeline.pacing import Pacer
from remoteviz.protocol import ProtocolError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_window_bounds_frames_in_flight_and_acks_free_it() -> None:
    clock = Clock()
    pacer = Pacer(window=2)
    assert pacer.has_room(clock.now)
    assert pacer.next_frame(100, clock.now) == 1
    assert pacer.next_frame(200, clock.now) == 2
    assert not pacer.has_room(clock.now) and pacer.in_flight == 2
    with pytest.raises(RuntimeError):
        pacer.next_frame(1, clock.now)
    clock.now = 0.05
    info = pacer.ack(1, decode_ms=4.0, now=clock.now)
    assert info.round_trip_ms == pytest.approx(50.0) and info.size == 100 and info.decode_ms == 4.0
    assert pacer.has_room(clock.now)
    assert pacer.next_frame(1, clock.now) == 3
    assert pacer.bytes_sent == 301  # three frames: ids 1, 2, 3


def test_acks_out_of_order_are_fine_but_unknown_or_repeated_ones_are_errors() -> None:
    pacer = Pacer(window=3)
    for size in (1, 2, 3):
        pacer.next_frame(size, 0.0)
    pacer.ack(3, 0, 0.0)
    pacer.ack(1, 0, 0.0)
    with pytest.raises(ProtocolError):
        pacer.ack(1, 0, 0.0)
    with pytest.raises(ProtocolError):
        pacer.ack(77, 0, 0.0)
    assert pacer.in_flight == 1


def test_window_must_allow_one_frame() -> None:
    with pytest.raises(ValueError):
        Pacer(window=0)


from remoteviz.pipeline.pacing import AckInfo, RateController, Targets  # noqa: E402


def targets(**changes) -> Targets:
    values = dict(keep_fps=True, fps=30, quality=0.7, min_quality=0.3, max_sending_fps=60, downscale=False,
                  bandwidth=0.0)
    values.update(changes)
    return Targets(**values)


def feed(controller: RateController, clock: Clock, round_trip_ms: float, congested: bool, acks: int = 12,
         size: int = 50_000) -> None:
    for _ in range(acks):
        clock.now += 0.1
        if congested:
            controller.congested()
        controller.on_ack(AckInfo(1, round_trip_ms, 2.0, size, True), clock.now)


def test_keep_fps_lowers_quality_to_its_floor_then_the_scale_and_recovers_in_reverse() -> None:
    clock = Clock()
    controller = RateController(targets(downscale=True), window=2, now=clock.now)
    feed(controller, clock, round_trip_ms=400, congested=True, acks=3)  # 5 fps possible, 30 wanted
    assert 0.3 < controller.quality < 0.7 and controller.scale == 1.0  # quality goes first, by steps
    feed(controller, clock, round_trip_ms=400, congested=True, acks=30)
    assert controller.quality == 0.3
    feed(controller, clock, round_trip_ms=400, congested=True, acks=30)
    assert controller.scale == 0.5
    feed(controller, clock, round_trip_ms=5, congested=False, acks=30)  # 400 fps possible
    assert controller.scale == 1.0 and controller.quality > 0.3  # scale comes back first
    feed(controller, clock, round_trip_ms=5, congested=False, acks=30)
    assert controller.quality == 0.7  # back to the target, never above it


def test_without_congestion_a_long_round_trip_alone_changes_nothing() -> None:
    clock = Clock()
    controller = RateController(targets(), window=2, now=clock.now)
    feed(controller, clock, round_trip_ms=400, congested=False)
    assert controller.quality == 0.7


def test_keep_quality_holds_quality_and_spaces_frames_to_the_bandwidth() -> None:
    clock = Clock()
    controller = RateController(targets(keep_fps=False, bandwidth=500_000), window=2, now=clock.now)
    feed(controller, clock, round_trip_ms=400, congested=True, size=100_000)
    assert controller.quality == 0.7
    assert controller.min_interval() == pytest.approx(0.2, rel=0.05)  # 100 kB at 500 kB/s


def test_the_rate_cap_applies_under_either_policy_and_the_pacer_honours_it() -> None:
    clock = Clock()
    controller = RateController(targets(max_sending_fps=10), window=2, now=clock.now)
    assert controller.min_interval() == pytest.approx(0.1)
    pacer = Pacer(window=4)
    pacer.rate_capped(controller.min_interval())
    pacer.next_frame(10, clock.now)
    assert not pacer.has_room(clock.now) and pacer.ready_at == pytest.approx(clock.now + 0.1)
    clock.now += 0.1
    assert pacer.has_room(clock.now)


def test_quality_moves_in_steps_so_connections_keep_sharing_encodes() -> None:
    clock = Clock()
    controller = RateController(targets(), window=2, now=clock.now)
    feed(controller, clock, round_trip_ms=400, congested=True, acks=3)
    assert round(controller.quality / 0.05, 6).is_integer()
