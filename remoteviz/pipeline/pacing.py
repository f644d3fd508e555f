"""Per-connection pacing: the window of unacknowledged frames, and how the rate adapts to the link.

Sans-I/O like :mod:`remoteviz.protocol`: the caller tells a :class:`Pacer` what it sent and what
was acknowledged, with the current time (``now``); the pacer says whether another frame may go.
The :class:`RateController` turns acknowledgements and congestion into a quality, a scale and a
frame interval. Neither reads a clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..protocol import ProtocolError

DEFAULT_WINDOW = 2
"""Unacknowledged frames allowed in flight per connection (``ServiceSettings.frame_window``'s default)."""

MAX_WINDOW = 4
"""The most frames a connection may have in flight, however long its round trip."""


@dataclass(frozen=True, slots=True)
class AckInfo:
    """What one acknowledgement told: the frame's round trip and the browser's decode time."""

    frame_id: int
    round_trip_ms: float
    decode_ms: float
    size: int
    interactive: bool


class Pacer:
    """Counts a connection's frames in flight against its window.

    Frame ids start at 1 and increase by one per frame sent on the connection.
    """

    __slots__ = ("_window", "_in_flight", "_last_id", "_last_sent", "_min_interval", "_bytes_sent")

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        if window < 1:
            raise ValueError("the window must allow at least one frame")
        self._window = window
        self._in_flight: dict[int, tuple[float, int, bool]] = {}  # id -> (sent time, bytes, interactive)
        self._last_id = 0
        self._last_sent = float("-inf")
        self._min_interval = 0.0  # seconds to leave between two frames (a rate cap)
        self._bytes_sent = 0

    @property
    def window(self) -> int:
        """Frames allowed in flight (unacknowledged) now."""
        return self._window

    @property
    def min_interval(self) -> float:
        """Seconds left between two frames (the rate cap; 0: none)."""
        return self._min_interval

    @property
    def bytes_sent(self) -> int:
        """Bytes of the frames sent so far (payloads)."""
        return self._bytes_sent

    def window_sized(self, window: int) -> None:
        """The window was sized to ``window`` frames (from the link's latency: :func:`window_for`)."""
        if window < 1:
            raise ValueError("the window must allow at least one frame")
        self._window = window

    def rate_capped(self, min_interval: float) -> None:
        """The rate cap is now ``min_interval`` seconds between two frames (:meth:`RateController.min_interval`)."""
        self._min_interval = min_interval

    @property
    def in_flight(self) -> int:
        """Frames sent and not yet acknowledged."""
        return len(self._in_flight)

    @property
    def window_full(self) -> bool:
        """True while the frames in flight fill the window (an ack comes first)."""
        return len(self._in_flight) >= self._window

    def has_room(self, now: float) -> bool:
        """True when one more frame may be sent at ``now``: the window has room and the interval passed."""
        return len(self._in_flight) < self._window and now >= self.ready_at

    @property
    def ready_at(self) -> float:
        """When the rate cap next allows a frame (the clock's time)."""
        return self._last_sent + self._min_interval

    def next_frame(self, size: int, now: float, interactive: bool = False) -> int:
        """Record a frame of ``size`` bytes as sent at ``now`` and return its id; the window must have room."""
        if not self.has_room(now):
            raise RuntimeError("the window is full; check has_room before sending")
        self._last_id += 1
        # Keep to the rate cap's grid: a frame a little late does not push every later one back.
        on_grid = now - self.ready_at <= self._min_interval / 2
        self._last_sent = self.ready_at if on_grid else now
        self._in_flight[self._last_id] = (now, size, interactive)
        self._bytes_sent += size
        return self._last_id

    def ack(self, frame_id: int, decode_ms: float, now: float) -> AckInfo:
        """Record the acknowledgement of ``frame_id`` at ``now``; a frame not in flight is a protocol error."""
        entry = self._in_flight.pop(frame_id, None)
        if entry is None:
            raise ProtocolError(f"ack for frame {frame_id}, which is not in flight")
        sent, size, interactive = entry
        return AckInfo(frame_id, (now - sent) * 1000.0, decode_ms, size, interactive)


MAX_BITRATE = 100_000_000
"""The highest bitrate cap given to a video stream (bits per second)."""

MIN_BITRATE = 200_000
"""The lowest bitrate a congested video stream is steered down to (bits per second)."""

BITRATE_STEP = 2 ** 0.25
"""Steered bitrates lie on a grid of this ratio (about 19%): a small swing of the estimate changes
nothing, and connections at nearly the same rate still share one stream."""

BITRATE_HEADROOM = 0.8
"""A congested video stream is steered to this share of the rate the link delivers, so its queue drains."""

QUALITY_STEP = 0.05
"""Qualities move in steps, so connections at nearly the same quality still share one encode."""

ADJUST_INTERVAL = 0.25
"""Seconds between two adjustments of a connection's quality or scale: time to see the effect."""

MIN_SCALE = 0.5
"""The smallest downscale of interactive frames (when the connection allows downscaling)."""


@dataclass(frozen=True)
class Targets:
    """What the application asked of one connection (from its ConnectionSettings); a new one replaces it."""

    keep_fps: bool  # True: KEEP_FRAMES_PER_SECOND; False: KEEP_FRAME_QUALITY
    fps: float
    quality: float
    min_quality: float
    max_sending_fps: float
    downscale: bool
    bandwidth: float  # bytes per second this connection may use; 0 = unknown
    cost_scaling: bool = False  # under keep_fps, render interactive frames smaller when they cost too much

    @property
    def frame_budget(self) -> float | None:
        """Seconds a frame may take to render and encode for its cost not to lower the rate
        (:mod:`.render_scale`); None when the frames are not to be scaled for their cost."""
        if not (self.keep_fps and self.cost_scaling):
            return None
        return 1.0 / min(self.fps, self.max_sending_fps)


class RateController:
    """Adapts one connection's interactive quality, scale and frame interval to its link.

    Fed by acknowledgements (round trip, size, decode time) and by congestion reports (a frame
    had to wait for the window). Estimates how many frames per second the link carries at the
    current frame size, then, under KEEP_FRAMES_PER_SECOND, lowers quality (then scale) when that
    falls short of the target and raises it back when there is room; under KEEP_FRAME_QUALITY it
    keeps quality and spaces frames out so that the bytes fit the bandwidth. Under
    KEEP_FRAMES_PER_SECOND it also steers the cap of the connection's video stream (:meth:`bitrate`)
    to what a congested link delivers.
    """

    __slots__ = ("_targets", "_window", "_quality", "_scale", "_round_trip_ms", "_frame_bytes", "_decode_ms",
                 "_congested", "_last_adjust", "_steered")

    def __init__(self, targets: Targets, window: int, now: float) -> None:
        self._targets = targets
        self._window = window
        self._quality = targets.quality
        self._scale = 1.0
        self._round_trip_ms = 0.0  # smoothed
        self._frame_bytes = 0.0  # smoothed, of interactive frames
        self._decode_ms = 0.0  # smoothed
        self._congested = False
        self._last_adjust = now
        self._steered: int | None = None  # the video bitrate steered below the ceiling; None: the ceiling

    @property
    def targets(self) -> Targets:
        """What the application asks of the connection now."""
        return self._targets

    @property
    def window(self) -> int:
        """Frames allowed in flight on the connection (its capacity is a window per round trip)."""
        return self._window

    @property
    def quality(self) -> float:
        """The quality interactive frames are encoded at now."""
        return self._quality

    @property
    def scale(self) -> float:
        """The scale interactive frames are encoded at now (1: the area's size; below only with downscaling)."""
        return self._scale

    def window_sized(self, window: int) -> None:
        """The connection's window was sized to ``window`` frames (its capacity follows)."""
        self._window = window

    def retarget(self, targets: Targets) -> None:
        """The application changed its settings."""
        self._targets = targets
        self._quality = min(max(self._quality, targets.min_quality), targets.quality)
        if not targets.keep_fps:
            self._quality = targets.quality
            self._steered = None
        if not targets.downscale:
            self._scale = 1.0

    def congested(self) -> None:
        """A frame waited for the window (or was replaced while waiting)."""
        self._congested = True

    def capacity_fps(self) -> float:
        """Frames per second the link is estimated to carry at the current frame size."""
        per_frame_s = max(self._round_trip_ms, self._decode_ms, 0.1) / 1000.0
        capacity = self._window / per_frame_s
        if self._targets.bandwidth > 0 and self._frame_bytes > 0:
            capacity = min(capacity, self._targets.bandwidth / self._frame_bytes)
        return capacity

    def min_interval(self) -> float:
        """Seconds to leave between two frames sent on this connection."""
        interval = 1.0 / self._targets.max_sending_fps
        if not self._targets.keep_fps and self._targets.bandwidth > 0 and self._frame_bytes > 0:
            interval = max(interval, self._frame_bytes / self._targets.bandwidth)
        return interval

    def bitrate(self) -> int | None:
        """Bits per second a video stream for this connection may use; None: no cap.

        The ceiling is the connection's bandwidth share, if known, and at most :data:`MAX_BITRATE`: a
        loopback link measures gigabytes per second, which encoders refuse as a rate (libx264 fails
        to open), and no stream here needs more. Under KEEP_FRAMES_PER_SECOND the bitrate is steered
        below it while the link is congested (see :meth:`delivery_rate`) and back up once it is not.
        """
        ceiling = self._ceiling()
        if self._steered is None:
            return ceiling
        return self._steered if ceiling is None else min(ceiling, self._steered)

    def _ceiling(self) -> int | None:
        if self._targets.bandwidth <= 0:
            return None
        return min(MAX_BITRATE, round(self._targets.bandwidth * 8))

    def delivery_rate(self) -> float:
        """Bytes per second the link carries lately: a window of frames per round trip (0: unknown).

        While frames wait for the window, the link is what holds them back, so this is its rate.
        """
        if self._round_trip_ms <= 0 or self._frame_bytes <= 0:
            return 0.0
        return self._window * self._frame_bytes / (self._round_trip_ms / 1000.0)

    def on_ack(self, info: AckInfo, now: float) -> None:
        """Learn from one acknowledgement at ``now``, and adjust if it is time to."""
        self._round_trip_ms = _smooth(self._round_trip_ms, info.round_trip_ms)
        self._decode_ms = _smooth(self._decode_ms, info.decode_ms)
        if info.interactive:
            self._frame_bytes = _smooth(self._frame_bytes, float(info.size))
        if now - self._last_adjust < ADJUST_INTERVAL:
            return
        self._last_adjust = now
        if self._targets.keep_fps:
            self._adjust_for_rate()
            self._steer_bitrate()
        self._congested = False

    def _adjust_for_rate(self) -> None:
        targets = self._targets
        capacity = self.capacity_fps()
        if self._congested and capacity < targets.fps:
            if self._quality > targets.min_quality + 1e-9:
                self._quality = max(targets.min_quality, _step(self._quality * 0.85))
            elif targets.downscale and self._scale > MIN_SCALE:
                self._scale = max(MIN_SCALE, round(self._scale * 0.75, 3))
        elif not self._congested and capacity > targets.fps * 1.5:
            if self._scale < 1.0:
                self._scale = min(1.0, round(self._scale / 0.75, 3))
            elif self._quality < targets.quality - 1e-9:
                self._quality = min(targets.quality, _step(self._quality + QUALITY_STEP))


    def _steer_bitrate(self) -> None:
        # Down at once to what the congested link delivers, less the headroom; up by one grid step
        # per adjustment once there is room, until the ceiling.
        capacity = self.capacity_fps()
        if self._congested and capacity < self._targets.fps:
            delivered = self.delivery_rate()
            if delivered <= 0:
                return
            wanted = max(MIN_BITRATE, _on_grid(delivered * 8 * BITRATE_HEADROOM))
            current = self.bitrate()
            if current is None or wanted < current:
                self._steered = wanted
        elif not self._congested and self._steered is not None and capacity > self._targets.fps * 1.5:
            raised = _on_grid(self._steered * BITRATE_STEP)
            ceiling = self._ceiling()
            self._steered = None if raised >= (ceiling if ceiling is not None else MAX_BITRATE) else raised


def window_for(latency_ms: float, fps: float, floor: int) -> int:
    """The window from the bandwidth-delay product: enough frames to cover one round trip.

    ``latency_ms`` is the probed latency, not the frame round trip, so a queue on a slow link does
    not feed itself; ``floor`` is ``ServiceSettings.frame_window``.
    """
    wanted = math.ceil(latency_ms / 1000.0 * fps) + 1
    return max(floor, min(MAX_WINDOW, wanted))


def _smooth(current: float, sample: float) -> float:
    return sample if current == 0.0 else 0.8 * current + 0.2 * sample


def _on_grid(bitrate: float) -> int:
    return round(BITRATE_STEP ** round(math.log(bitrate, BITRATE_STEP)))


def _step(quality: float) -> float:
    return round(round(quality / QUALITY_STEP) * QUALITY_STEP, 3)
