"""Cost-aware scaling with a real service, real EGL rendering and real JPEG: a render made slow on
purpose sends smaller interactive frames under KEEP_FRAMES_PER_SECOND, a full-size still after,
and full-size frames throughout under KEEP_FRAME_QUALITY."""

import asyncio
import sys
import time
from pathlib import Path

import numpy as np

import remoteviz as rv
from remoteviz import client
from remoteviz.pipeline.render_scale import SCALES, scaled_size

from .harness import SlowInteractiveRenders, running_service

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "hello_cone"))
import hello_cone  # noqa: E402

WIDTH, HEIGHT = 320, 240


class SlowCone(hello_cone.HelloConeServiceListener):
    """HelloCone whose interactive renders cost 60 ms more: more than 1/30 s at any scale."""

    def __init__(self, policy: rv.EncodingPolicy) -> None:
        super().__init__()
        self.policy = policy

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        super().on_instantiated_render_area(render_area)
        render_area.add_listener(SlowInteractiveRenders(self.policy))


async def orbit_until(view, done, timeout: float = 30.0) -> list[client.ReceivedFrame]:
    """Drag in a circle, collecting frames, until ``done(frames)`` or ``timeout``; then release."""
    frames: list[client.ReceivedFrame] = []
    deadline = time.monotonic() + timeout
    await view.mouse(rv.MouseAction.DOWN, WIDTH // 2, HEIGHT // 2, buttons=1)
    angle = 0.0
    while not done(frames) and time.monotonic() < deadline:
        angle += 0.2
        await view.mouse(rv.MouseAction.MOVE, round(WIDTH / 2 + 60 * np.cos(angle)),
                         round(HEIGHT / 2 + 60 * np.sin(angle)), buttons=1)
        try:
            frames.append(await view.next_frame(timeout=0.05))
        except TimeoutError:
            pass
    await view.mouse(rv.MouseAction.UP, WIDTH // 2, HEIGHT // 2, buttons=0)
    return frames


def shows_cone(image: np.ndarray) -> bool:
    """The lit grey cone stands out of the dark bottom of the gradient."""
    height, width = image.shape[:2]
    return image[height // 2, width // 2].astype(int).mean() > image[height - 3, 2].astype(int).mean() + 40


def test_slow_interactive_frames_come_smaller_and_the_still_after_them_full_size() -> None:
    def small(frames):
        return any(not f.is_still and f.image.shape[1] < WIDTH for f in frames)

    async def scenario(runner):
        async with client.connect(runner.url("TheCone", f"width={WIDTH}&height={HEIGHT}")) as view:
            await view.next_frame()
            frames = await orbit_until(view, small)
            still = await view.frame_where(lambda f: f.is_still, timeout=20.0)
            return frames, still

    with running_service(SlowCone(rv.EncodingPolicy.KEEP_FRAMES_PER_SECOND), run_mode=rv.RunMode.INVENTOR_SERVICE,
                         still_delay=0.2) as runner:
        frames, still = asyncio.run(scenario(runner))
    interactive = [f for f in frames if not f.is_still]
    smaller = [f for f in interactive if f.image.shape[1] < WIDTH]
    assert smaller, [f.image.shape for f in interactive]
    allowed = {scaled_size(WIDTH, HEIGHT, s) for s in SCALES}
    for f in smaller:
        height, width = f.image.shape[:2]
        assert (width, height) in allowed and (width, height) != (WIDTH, HEIGHT)
        assert (f.frame.width, f.frame.height) == (width, height)  # the header names the picture's size...
        assert (f.frame.area_width, f.frame.area_height) == (WIDTH, HEIGHT)  # ...and the area's, to scale up to
        assert shows_cone(f.image)
    # The first interactive frames, before anything was measured, are full size.
    assert interactive[0].image.shape == (HEIGHT, WIDTH, 3)
    assert still.image.shape == (HEIGHT, WIDTH, 3)
    assert (still.frame.width, still.frame.height, still.frame.area_width) == (WIDTH, HEIGHT, WIDTH)
    assert shows_cone(still.image)


def test_under_keep_quality_slow_frames_stay_full_size() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("TheCone", f"width={WIDTH}&height={HEIGHT}")) as view:
            await view.next_frame()
            # Enough slow frames for several adjustments, had the policy allowed any.
            frames = await orbit_until(view, lambda frames: sum(not f.is_still for f in frames) >= 20)
            return frames

    with running_service(SlowCone(rv.EncodingPolicy.KEEP_FRAME_QUALITY), run_mode=rv.RunMode.INVENTOR_SERVICE,
                         still_delay=0.2) as runner:
        frames = asyncio.run(scenario(runner))
    interactive = [f for f in frames if not f.is_still]
    assert len(interactive) >= 20
    assert {f.image.shape for f in interactive} == {(HEIGHT, WIDTH, 3)}
