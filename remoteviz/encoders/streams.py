"""Who shares which encoder: one render area's frames, planned into encode jobs.

Connections of one render area that use the same image encoder at the same quality share one
encode. Video is stateful, so connections share a *stream* (one encoder instance): every member
must have received every frame of it. A connection that cannot follow the main stream (it just
joined, it missed a frame, its decoder failed) is put on a *resync* stream that starts with a
key frame, so the others are not disturbed; it moves back to the main stream at the main
stream's next key frame (every still frame is one). Sans-I/O: the service feeds it connection
ids and gets back jobs.

Each frame's plan also steers every video stream's bitrate cap to the lowest of its members'
(:attr:`Member.bitrate`, which their rate controllers steer): one stream must fit every link it
feeds. How soon the encoder applies a new cap is its own business (see ``VideoEncoder.set_bitrate``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from .frame_encoders import Encoder, FrameEncoder

Opener = Callable[[Encoder, int, int, float, int | None], FrameEncoder]
"""Opens a coder: encoder, width, height, frame rate, bitrate cap (bits per second, None: none)."""


@runtime_checkable
class Steerable(Protocol):
    """A coder whose bitrate cap can change while its stream goes on (the video encoders)."""

    def set_bitrate(self, bitrate: int | None) -> None:
        """Cap the stream at ``bitrate`` bits per second from now on (None: no cap)."""
        ...


@dataclass(eq=False)
class Stream:
    """One encoder instance and the connections that have followed it from a key frame."""

    encoder: Encoder
    coder: FrameEncoder
    width: int
    height: int
    members: set[str] = field(default_factory=set)
    started: bool = False  # False until its first frame (a key frame) is planned

    @property
    def codec_string(self) -> str:
        """What WebCodecs needs to decode this stream (empty for images)."""
        return getattr(self.coder, "codec_string", "")


@dataclass
class Job:
    """One encode: a coder, how to encode, and who receives the result."""

    coder: FrameEncoder
    encoder: Encoder
    quality: float
    key: bool
    members: list[str]
    joined: list[str]  # members that start following a stream with this frame (send stream config)
    stream: Stream | None  # None for images
    scale: float = 1.0  # images only: encode the frame at this fraction of its size


@dataclass
class Member:
    """What the planner needs to know of one connection."""

    connection_id: str
    encoder: Encoder
    quality: float
    needs_key: bool
    scale: float = 1.0  # honoured for images; a video stream keeps the render area's size
    fps: float = 30.0  # the connection's target rate: a video stream opened for it assumes it
    bitrate: int | None = None  # bits per second its link carries, capping the video stream it follows


class AreaEncoders:
    """The encoders of one render area and the plan of each frame."""

    def __init__(self, opener: Opener) -> None:
        self._open = opener
        self._images: dict[Encoder, FrameEncoder] = {}
        self._main: dict[Encoder, Stream] = {}
        self._resync: dict[Encoder, Stream] = {}
        self.retired: list[FrameEncoder] = []  # to close once no encode of the area is in flight

    def plan(self, members: list[Member], width: int, height: int, still: bool) -> list[Job]:
        """Jobs to encode one frame of ``width`` x ``height`` for ``members``.

        Video members without ``needs_key`` stay on the stream they follow; the others are put
        where they get a key frame. Streams left without members, or of another size, are retired.
        """
        jobs: dict[object, Job] = {}
        following = {m.connection_id for m in members}
        for streams in (self._main, self._resync):
            for stream in streams.values():
                stream.members &= following
        for member in members:
            encoder = member.encoder
            if not encoder.is_video:
                coder = self._images.get(encoder)
                if coder is None:
                    coder = self._images[encoder] = self._open(encoder, width, height, member.fps, None)
                job = jobs.setdefault((encoder, member.quality, member.scale),
                                      Job(coder, encoder, member.quality, True, [], [], None, member.scale))
                job.members.append(member.connection_id)
                continue
            main = self._main_stream(member, width, height)
            resync = self._resync.get(encoder)
            if member.connection_id in main.members and not member.needs_key:
                stream = main
            elif not main.started or still or not main.members:
                stream = main  # it emits a key frame now (or nobody follows it yet): join it
            elif resync is not None and member.connection_id in resync.members and not member.needs_key:
                stream = resync
            else:
                stream = self._resync_stream(member, width, height)
            self._leave_other_streams(member.connection_id, stream)
            joined = member.connection_id not in stream.members
            stream.members.add(member.connection_id)
            found = jobs.get(id(stream))
            if found is not None:
                job = found
            else:
                key = not stream.started or (stream is main and still)
                quality = 1.0 if still else member.quality
                job = jobs[id(stream)] = Job(stream.coder, encoder, quality, key, [], [], stream)
            job.members.append(member.connection_id)
            if joined:
                job.joined.append(member.connection_id)
                job.key = True  # whoever starts following a stream starts with a key frame
        for job in jobs.values():
            if job.stream is not None:
                job.stream.started = True
                _steer(job.stream, [m.bitrate for m in members if m.connection_id in job.members])
        self._retire_empty()
        return list(jobs.values())

    def _main_stream(self, member: Member, width: int, height: int) -> Stream:
        encoder = member.encoder
        stream = self._main.get(encoder)
        if stream is None or (stream.width, stream.height) != (width, height) or not stream.members:
            if stream is not None:
                self.retired.append(stream.coder)
            stream = self._main[encoder] = Stream(encoder, self._open_for(member, width, height), width, height)
        return stream

    def _resync_stream(self, member: Member, width: int, height: int) -> Stream:
        encoder = member.encoder
        stream = self._resync.get(encoder)
        if stream is None or (stream.width, stream.height) != (width, height):
            if stream is not None:
                self.retired.append(stream.coder)
            stream = self._resync[encoder] = Stream(encoder, self._open_for(member, width, height), width, height)
        return stream

    def _open_for(self, member: Member, width: int, height: int) -> FrameEncoder:
        """A stream's coder, at the rate and bitrate of the member it is opened for (kept while it lives)."""
        return self._open(member.encoder, width, height, member.fps, member.bitrate)

    def _leave_other_streams(self, connection_id: str, keep: Stream) -> None:
        for streams in (self._main, self._resync):
            for stream in streams.values():
                if stream is not keep:
                    stream.members.discard(connection_id)

    def _retire_empty(self) -> None:
        for encoder, stream in list(self._resync.items()):
            if not stream.members:
                self.retired.append(self._resync.pop(encoder).coder)

    def forget(self, connection_id: str) -> None:
        """The connection left or missed a frame: it follows no stream any more."""
        for streams in (self._main, self._resync):
            for stream in streams.values():
                stream.members.discard(connection_id)

    def reset(self) -> None:
        """Retire every encoder (the area was resized or disposed)."""
        self.retired.extend(self._images.values())
        self.retired.extend(s.coder for s in self._main.values())
        self.retired.extend(s.coder for s in self._resync.values())
        self._images.clear()
        self._main.clear()
        self._resync.clear()

    def take_retired(self) -> list[FrameEncoder]:
        """The retired encoders, handed over for closing."""
        retired, self.retired = self.retired, []
        return retired


def _steer(stream: Stream, bitrates: list[int | None]) -> None:
    """Cap ``stream`` at the lowest of its members' bitrates (None, no cap, when none has one)."""
    if isinstance(stream.coder, Steerable):
        capped = [b for b in bitrates if b is not None]
        stream.coder.set_bitrate(min(capped) if capped else None)
