"""One connection's outgoing frames: its window, its newest-frame slot, its key-frame need, its rate.

Sans-I/O: every method takes the current time (``now``) and returns what to send; nothing here
sends, reads a clock or calls a listener. The service carries the decisions out.

The slot holds the newest encoded frame that could not go yet; a newer frame replaces it, so a
slow viewer receives the newest picture, never a backlog. Video frames depend on the ones before
them, so a delta frame cannot replace one in the slot: it is dropped, and the connection needs a
key frame (it resyncs through :mod:`remoteviz.encoders.streams`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .frames import EncodedFrame, Send
from .pacing import DEFAULT_WINDOW, AckInfo, Pacer, RateController, Targets, window_for

RENDER_AHEAD_MARGIN = 0.8
"""Video renders ahead only when one frame's render and encode take more than this share of its interval."""


@dataclass(frozen=True, slots=True)
class Offered:
    """What became of a frame offered to a connection."""

    send: Send | None  # send this now (the window had room)
    dropped: bool  # a frame waiting in the slot was replaced or this one was dropped (it is counted)
    lost_stream: bool  # a video delta frame was dropped: the connection needs a key frame (resync)


class Outgoing:
    """The frames on their way to one connection."""

    __slots__ = ("_window_floor", "_pacer", "_rate", "_is_video", "_needs_key", "_encoding", "_last_input_seq", "_slot")

    def __init__(self, targets: Targets, now: float, window: int = DEFAULT_WINDOW) -> None:
        self._window_floor = window
        self._pacer = Pacer(window)
        self._rate = RateController(targets, window, now)
        self._is_video = False  # what the connection's encoders are, as of the last plan
        self._needs_key = True  # a video stream must start with a key frame for this connection
        self._encoding = 0  # frames of this connection in the encoders
        self._last_input_seq = 0
        self._slot: EncodedFrame | None = None

    @property
    def pacer(self) -> Pacer:
        """Its window of frames in flight and its rate cap."""
        return self._pacer

    @property
    def rate(self) -> RateController:
        """How its quality, scale and rate adapt to its link."""
        return self._rate

    @property
    def is_video(self) -> bool:
        """Whether the connection's encoders are video, as of the last plan."""
        return self._is_video

    @property
    def needs_key(self) -> bool:
        """Whether its next video frame must be a key frame (a new stream, or one that lost a frame)."""
        return self._needs_key

    @property
    def encoding(self) -> int:
        """Frames of this connection in the encoders now."""
        return self._encoding

    @property
    def last_input_seq(self) -> int:
        """The browser's number of its last input taken (frames say which input they show)."""
        return self._last_input_seq

    def input_taken(self, seq: int) -> None:
        """The browser's input number ``seq`` was handled: frames rendered from now on show it."""
        self._last_input_seq = seq

    # ---- the encode plan

    def join_plan(self, targets: Targets, is_video: bool) -> bool:
        """Whether a frame being planned should be encoded for this connection.

        A video connection that has not taken its last frame yet (its slot is full) is left out:
        a newer delta frame could only be dropped. It rejoins with a key frame once its slot empties.
        """
        if self._slot is not None and is_video:
            self._is_video = True
            self._needs_key = True
            return False
        self.configure(targets, is_video)
        return True

    def configure(self, targets: Targets, is_video: bool) -> None:
        """The application's settings and the connection's encoders, as they are now."""
        self._is_video = is_video
        self._rate.retarget(targets)
        self._pacer.rate_capped(self._rate.min_interval())

    def encoding_started(self) -> None:
        """A frame for this connection went to the encoders (with a key frame if it needed one)."""
        self._needs_key = False
        self._encoding += 1

    def encoding_finished(self, failed_stream: bool = False) -> None:
        """A frame for this connection came back from the encoders (``failed_stream``: a video encode failed)."""
        self._encoding -= 1
        if failed_stream:
            self._needs_key = True  # its stream lost a frame

    def accepts(self, frame_is_video: bool, frame_is_key: bool) -> bool:
        """Whether an encoded frame is of use: after a lost video frame only a key frame is."""
        return not (frame_is_video and self._needs_key and not frame_is_key)

    def lose_stream(self) -> None:
        """The connection cannot decode what follows until it receives a key frame."""
        self._needs_key = True

    def frame_wanted(self) -> None:
        """A frame of its area is wanted now: if its window is full, that is congestion (the rate learns of it)."""
        if self._pacer.window_full:
            self._rate.congested()

    # ---- sending

    def offer(self, frame: EncodedFrame, now: float) -> Offered:
        """An encoded frame for this connection: into the slot, and sent if the window has room."""
        slot = self._slot
        if slot is not None or not self._pacer.has_room(now):
            self._rate.congested()
        if slot is not None:
            if frame.is_video:
                if not frame.is_key:
                    self._needs_key = True
                    return Offered(None, dropped=True, lost_stream=True)
                if frame.stream is None and slot.stream is not None:
                    # The configuration still has to precede the stream's frames.
                    frame = EncodedFrame(frame.header, frame.payload, frame.is_video, slot.stream)
        self._slot = frame
        return Offered(self.take(now), dropped=slot is not None, lost_stream=False)

    def take(self, now: float) -> Send | None:
        """The frame in the slot, to send now, if the window and the rate cap let it go."""
        frame = self._slot
        if frame is None or not self._pacer.has_room(now):
            return None
        self._slot = None
        frame_id = self._pacer.next_frame(len(frame.payload), now, interactive=not frame.header.is_still)
        return Send(frame_id, frame)

    def ack(self, frame_id: int, decode_ms: float, latency_ms: float, now: float) -> tuple[AckInfo, Send | None]:
        """The browser acknowledged ``frame_id``: adapt, size the window to ``latency_ms``, send the slot.

        Raises :class:`~remoteviz.protocol.ProtocolError` for a frame that is not in flight.
        """
        info = self._pacer.ack(frame_id, decode_ms, now)
        self._rate.on_ack(info, now)
        window = window_for(latency_ms, self._rate.targets.fps, self._window_floor)
        self._pacer.window_sized(window)
        self._rate.window_sized(window)
        return info, self.take(now)

    # ---- scheduling

    def ready_time(self, now: float, frame_cost: float) -> float | None:
        """When a frame for this connection should start rendering; None while it waits for an event.

        ``frame_cost`` is the area's smoothed render plus encode time. The rate cap is looked at
        that far ahead: waiting for it before rendering would add that time to every capped
        frame's interval. Frames rendered for it and not yet sent count against its window.
        """
        pacer = self._pacer
        waiting = (self._slot is not None) + self._encoding
        if waiting and self._is_video:
            # A newer video frame cannot replace a waiting one, and rendering ahead adds a frame of
            # latency: only worth it when one frame after the other cannot hold the target rate.
            if self._slot is not None or frame_cost < RENDER_AHEAD_MARGIN / self._rate.targets.fps:
                return None
        if pacer.in_flight + waiting >= pacer.window:
            return None  # an ack (or a finished encode) comes first
        next_send = max(pacer.ready_at, now) + pacer.min_interval * waiting
        return next_send - frame_cost

    def send_time(self) -> float | None:
        """When the frame in the slot may go, if only the rate cap holds it (else None)."""
        if self._slot is None or self._pacer.window_full:
            return None
        return self._pacer.ready_at
