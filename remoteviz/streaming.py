"""Per-connection pacing: the window of unacknowledged frames, and the newest-frame slot.

Sans-I/O like :mod:`remoteviz.protocol`: the service tells a :class:`Pacer` what it sent and what
was acknowledged; the pacer says whether another frame may go now. A frame that cannot go waits in
a single slot, where a newer frame replaces it, so a slow client gets the newest picture and the
service never queues pictures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .protocol import ProtocolError

DEFAULT_WINDOW = 2
"""Unacknowledged frames allowed in flight per connection."""


@dataclass(frozen=True, slots=True)
class AckInfo:
    """What one acknowledgement told: the frame's round trip and the browser's decode time."""

    frame_id: int
    round_trip_ms: float
    decode_ms: float
    size: int


class Pacer:
    """Counts a connection's frames in flight against its window.

    Frame ids start at 1 and increase by one per frame sent on the connection.
    """

    def __init__(self, window: int = DEFAULT_WINDOW, clock=time.monotonic) -> None:
        if window < 1:
            raise ValueError("the window must allow at least one frame")
        self.window = window
        self._clock = clock
        self._in_flight: dict[int, tuple[float, int]] = {}  # frame id -> (sent time, bytes)
        self._last_id = 0
        self.frames_sent = 0
        self.bytes_sent = 0

    @property
    def in_flight(self) -> int:
        """Frames sent and not yet acknowledged."""
        return len(self._in_flight)

    @property
    def has_room(self) -> bool:
        """True when one more frame may be sent now."""
        return len(self._in_flight) < self.window

    def next_frame(self, size: int) -> int:
        """Record a frame of ``size`` bytes as sent and return its id; the window must have room."""
        if not self.has_room:
            raise RuntimeError("the window is full; check has_room before sending")
        self._last_id += 1
        self._in_flight[self._last_id] = (self._clock(), size)
        self.frames_sent += 1
        self.bytes_sent += size
        return self._last_id

    def ack(self, frame_id: int, decode_ms: float) -> AckInfo:
        """Record the acknowledgement of ``frame_id``; a frame not in flight is a protocol error."""
        entry = self._in_flight.pop(frame_id, None)
        if entry is None:
            raise ProtocolError(f"ack for frame {frame_id}, which is not in flight")
        sent, size = entry
        return AckInfo(frame_id, (self._clock() - sent) * 1000.0, decode_ms, size)
