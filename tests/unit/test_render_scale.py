"""The cost-aware interactive render scale, driven by a fake clock and stub costs: no GL, no sockets, no sleeps."""

from __future__ import annotations

import pytest

from remoteviz.pipeline.pacing import Targets
from remoteviz.pipeline.render_scale import ADJUST_INTERVAL, MIN_RENDER_SCALE, MIN_SAMPLES, SCALES, RenderScale
from remoteviz.pipeline.scheduler import AreaSchedule, Scheduler
from remoteviz.pipeline.sending import Outgoing

BUDGET = 1 / 60  # 60 fps


def run_frames(scale: RenderScale, now: float, render: float, encode: float, frames: int = MIN_SAMPLES) -> float:
    """``frames`` interactive frames at the current scale, each costing ``render`` + ``encode`` seconds."""
    for _ in range(frames):
        scale.rendered(render, scale.scale)
        scale.encoded(encode, scale.scale)
    return scale.decide(BUDGET, now)


def test_the_scale_steps_down_while_the_cost_exceeds_the_budget_and_stops_at_the_floor() -> None:
    scale = RenderScale()
    assert scale.decide(BUDGET, 0.0) == 1.0  # nothing measured yet
    seen = []
    now = 0.0
    for _ in range(len(SCALES) + 3):
        now += ADJUST_INTERVAL
        seen.append(run_frames(scale, now, render=0.020, encode=0.005))  # 25 ms against 16.7
    assert seen[:len(SCALES) - 1] == list(SCALES[1:])  # one step per adjustment
    assert min(seen) == MIN_RENDER_SCALE == 0.5
    assert seen[-1] == MIN_RENDER_SCALE  # never below the floor, however slow


def test_a_cost_within_the_budget_keeps_full_size() -> None:
    scale = RenderScale()
    for step in range(1, 6):
        assert run_frames(scale, step * ADJUST_INTERVAL, render=0.010, encode=0.004) == 1.0


def test_the_scale_waits_for_samples_at_the_new_scale_and_for_the_interval() -> None:
    scale = RenderScale()
    assert run_frames(scale, 1.0, render=0.030, encode=0.005) == SCALES[1]
    # Right after the change: too soon, and no frame measured at the new size yet.
    assert scale.decide(BUDGET, 1.0 + ADJUST_INTERVAL) == SCALES[1]
    assert run_frames(scale, 1.0 + ADJUST_INTERVAL / 2, render=0.030, encode=0.005) == SCALES[1]
    assert scale.decide(BUDGET, 1.0 + ADJUST_INTERVAL) == SCALES[2]


def test_frames_rendered_at_an_old_scale_do_not_count_at_the_new_one() -> None:
    scale = RenderScale()
    assert run_frames(scale, 1.0, render=0.030, encode=0.005) == SCALES[1]
    for _ in range(10):  # late encodes and renders of full-size frames: not what the new size costs
        scale.rendered(0.030, 1.0)
        scale.encoded(0.005, 1.0)
    assert scale.frame_cost == 0.0
    assert scale.decide(BUDGET, 5.0) == SCALES[1]


def test_the_scale_comes_back_up_only_with_headroom() -> None:
    scale = RenderScale()
    now = 0.0
    while scale.scale > 0.7:
        now += ADJUST_INTERVAL
        run_frames(scale, now, render=0.030, encode=0.005)
    assert scale.scale == 0.7
    # 11 ms at 0.7 fits the 16.7 ms budget, but at 0.85 it would be about 16 ms: no room, it stays.
    for _ in range(4):
        now += ADJUST_INTERVAL
        assert run_frames(scale, now, render=0.008, encode=0.003) == 0.7
    # 6 ms at 0.7: about 9 ms predicted at 0.85, within 80% of the budget: one step up, then the next.
    now += ADJUST_INTERVAL
    assert run_frames(scale, now, render=0.004, encode=0.002) == 0.85
    now += ADJUST_INTERVAL
    assert run_frames(scale, now, render=0.004, encode=0.002) == 1.0
    now += ADJUST_INTERVAL
    assert run_frames(scale, now, render=0.004, encode=0.002) == 1.0


def test_no_budget_means_full_size_at_once() -> None:
    scale = RenderScale()
    run_frames(scale, 1.0, render=0.030, encode=0.005)
    assert scale.scale < 1.0
    assert scale.decide(None, 1.01) == 1.0


# ---- through the scheduler: who the area renders for decides whether its frames are scaled

def targets(*, keep_fps: bool = True, cost_scaling: bool = True, fps: int = 60) -> Targets:
    return Targets(keep_fps, fps, 0.7, 0.3, 60, False, 0.0, cost_scaling)


def slow_area(*viewers: tuple[Targets, bool]) -> tuple[Scheduler, AreaSchedule]:
    """An area with ``viewers`` (targets, streams video)."""
    scheduler = Scheduler()
    schedule = AreaSchedule(still_delay=0.05)
    scheduler.add_area("A", schedule)
    for index, (viewer_targets, video) in enumerate(viewers):
        outgoing = Outgoing(viewer_targets, now=0.0)
        outgoing.configure(viewer_targets, is_video=video)
        scheduler.add_viewer("A", f"c{index}", outgoing)
    return scheduler, schedule


def drive(scheduler: Scheduler, schedule: AreaSchedule, seconds: float, *, interactive: bool = True) -> list[float]:
    """Render frames of area A for ``seconds`` of fake time (one every 45 ms), as the frame path
    does: ask the scale, render at it, report the costs (80 ms to render and 5 to encode at full
    size, in proportion to the pixels). Returns the scale of each frame."""
    scales = []
    now = 0.0
    while now < seconds:
        scale = scheduler.render_scale("A", interactive, now)
        schedule.rendered(interactive, 0.080 * scale ** 2, scale)
        schedule.encoded(0.005 * scale ** 2, interactive, scale)
        scales.append(scale)
        now += 0.045
    return scales


def test_slow_interactive_frames_of_a_keep_fps_area_are_rendered_smaller_down_to_the_floor() -> None:
    scheduler, schedule = slow_area((targets(), False))
    scales = drive(scheduler, schedule, 3.0)
    assert scales[0] == 1.0
    assert scales == sorted(scales, reverse=True)  # 85 ms against 16.7: only ever down
    assert scales[-1] == MIN_RENDER_SCALE


def test_a_still_is_full_size_whatever_the_interactive_scale() -> None:
    scheduler, schedule = slow_area((targets(), False))
    drive(scheduler, schedule, 3.0)
    assert scheduler.render_scale("A", True, 3.0) == MIN_RENDER_SCALE
    assert scheduler.render_scale("A", False, 3.0) == 1.0
    # The still's own (full-size, costlier) render does not count as an interactive frame's.
    before = schedule.render_scale.render_cost
    schedule.rendered(False, 0.200, 1.0)
    assert schedule.render_scale.render_cost == before
    assert scheduler.render_scale("A", True, 3.1) == MIN_RENDER_SCALE  # the next drag starts where it was


@pytest.mark.parametrize("viewers", [
    [(targets(keep_fps=False), False)],  # KEEP_FRAME_QUALITY
    [(targets(cost_scaling=False), False)],  # not asked for
    [(targets(), True)],  # video: one stream size
    [(targets(), False), (targets(keep_fps=False), False)],  # one viewer keeps quality: the area does
], ids=["keep-quality", "not-opted-in", "video", "mixed"])
def test_frames_are_never_scaled_for_cost_unless_every_viewer_keeps_fps_with_images(viewers) -> None:
    scheduler, schedule = slow_area(*viewers)
    assert set(drive(scheduler, schedule, 3.0)) == {1.0}


def test_a_keep_quality_viewer_joining_brings_the_area_back_to_full_size() -> None:
    scheduler, schedule = slow_area((targets(), False))
    drive(scheduler, schedule, 3.0)
    quality = targets(keep_fps=False)
    outgoing = Outgoing(quality, now=3.0)
    outgoing.configure(quality, is_video=False)
    scheduler.add_viewer("A", "q", outgoing)
    assert scheduler.render_scale("A", True, 3.0) == 1.0


def test_the_budget_is_the_fastest_target_rate() -> None:
    assert targets(fps=30).frame_budget == pytest.approx(1 / 30)
    assert Targets(True, 60, 0.7, 0.3, 20, False, 0.0, True).frame_budget == pytest.approx(1 / 20)  # capped
    assert targets(keep_fps=False).frame_budget is None
    # 85 ms at full size is about 31 ms at 0.6: within 1/30 s, so it stops there, above the floor.
    scheduler, schedule = slow_area((targets(fps=30), False))
    assert drive(scheduler, schedule, 3.0)[-1] == 0.6


def test_one_slow_frame_among_fast_ones_does_not_move_the_scale() -> None:
    scale = RenderScale()
    scale.rendered(0.040, 1.0)  # the first frame at a size: its framebuffer is allocated
    scale.encoded(0.002, 1.0)
    assert run_frames(scale, 1.0, render=0.006, encode=0.002, frames=2) == 1.0
    assert scale.frame_cost == pytest.approx(0.008)
