"""How big a render area's interactive frames are rendered: smaller when the frame's cost cannot hold the rate.

The rate controller (:mod:`.pacing`) adapts a connection's frames to its *link*. This adapts an
area's interactive renders to their *cost*: under KEEP_FRAMES_PER_SECOND, when rendering plus
encoding one interactive frame takes longer than the target rate's interval (the frame budget),
the next ones are rendered at a smaller scale (the browser scales them up to the area's size),
down to :data:`MIN_RENDER_SCALE`; when there is room again the scale comes back up. Still frames
are always rendered at full size, so the picture at rest is sharp.

Sans-I/O: the service reports each interactive frame's costs with the scale it was rendered at,
and asks for the scale with the current time (``now``) and the budget; nothing here reads a clock.
"""

from __future__ import annotations

from collections import deque
from statistics import median

SCALES = (1.0, 0.85, 0.7, 0.6, 0.5)
"""The scales an interactive frame may be rendered at, one step at a time: each step down keeps
about 70% of the pixels. Few distinct sizes, so a framebuffer is rarely reallocated."""

MIN_RENDER_SCALE = SCALES[-1]
"""The smallest scale an interactive frame is rendered at for its cost (a quarter of the pixels)."""

HEADROOM = 0.8
"""Step back up only when the cost at the next scale up, predicted from its pixel count, fits in
this share of the budget: with the step's factor on pixels this is the hysteresis that keeps the
scale from flapping between two steps."""

MIN_SAMPLES = 3
"""Interactive frames rendered and encoded at the current scale before it is judged again."""

SAMPLES = 5
"""The costs judged are the median of this many latest frames at the current scale: one slow frame
(the first at a new size allocates its framebuffer; a shader compile, a pause) does not move the scale."""

ADJUST_INTERVAL = 0.25
"""Seconds between two changes of the scale: time for the smoothed costs to show the effect."""


def scaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """``width`` x ``height`` at ``scale`` (each side rounded, at least one pixel)."""
    return max(1, round(width * scale)), max(1, round(height * scale))


class RenderScale:
    """One render area's interactive render scale, adapted to what its frames cost.

    Costs are the medians of the latest frames rendered at the current scale only: a change of
    scale starts a new measurement, so the decision after it sees what the new size costs.
    """

    __slots__ = ("_step", "_renders", "_encodes", "_last_change")

    def __init__(self) -> None:
        self._step = 0  # index in SCALES
        self._renders: deque[float] = deque(maxlen=SAMPLES)  # seconds, of interactive frames at this scale
        self._encodes: deque[float] = deque(maxlen=SAMPLES)
        self._last_change = float("-inf")

    @property
    def scale(self) -> float:
        """The scale interactive frames are rendered at now (1: full size)."""
        return SCALES[self._step]

    @property
    def render_cost(self) -> float:
        """Seconds to render an interactive frame at the current scale (median of the latest; 0: none yet)."""
        return median(self._renders) if self._renders else 0.0

    @property
    def encode_cost(self) -> float:
        """Seconds to encode a copy of one (median of the latest; 0: none yet)."""
        return median(self._encodes) if self._encodes else 0.0

    @property
    def frame_cost(self) -> float:
        """Seconds to render and encode one interactive frame at the current scale."""
        return self.render_cost + self.encode_cost

    def rendered(self, seconds: float, scale: float) -> None:
        """An interactive frame was rendered at ``scale`` in ``seconds``."""
        if scale == self.scale:
            self._renders.append(seconds)

    def encoded(self, seconds: float, scale: float) -> None:
        """A copy of an interactive frame rendered at ``scale`` was encoded in ``seconds``."""
        if scale == self.scale:
            self._encodes.append(seconds)

    def decide(self, budget: float | None, now: float) -> float:
        """The scale to render the next interactive frame at, ``now``.

        ``budget`` is the seconds one frame may cost to hold the target rate; None when the
        area's frames are not to be scaled for their cost (a viewer keeps quality, streams video,
        or did not opt in): the scale is then 1.
        """
        if budget is None:
            if self._step:
                self._change(0, now)
            return self.scale
        if len(self._renders) < MIN_SAMPLES or not self._encodes or now - self._last_change < ADJUST_INTERVAL:
            return self.scale
        cost = self.frame_cost
        if cost > budget and self._step < len(SCALES) - 1:
            self._change(self._step + 1, now)
        elif self._step and cost * (SCALES[self._step - 1] / self.scale) ** 2 < budget * HEADROOM:
            self._change(self._step - 1, now)
        return self.scale

    def _change(self, step: int, now: float) -> None:
        self._step = step
        self._renders.clear()
        self._encodes.clear()
        self._last_change = now
