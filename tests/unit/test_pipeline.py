"""The scheduling and sending rules of the frame path, driven by a fake clock: no sockets, threads or sleeps.

A stub viewer records what the core decides to send and acknowledges when the test says so (as
jupyter_rfb's flow-control tests do); the encode plan uses recording stand-in coders.
"""

from __future__ import annotations

import numpy as np
import pytest

from remoteviz.encoders import Encoder
from remoteviz.encoders.streams import AreaEncoders, Member
from remoteviz.pipeline.frames import EncodedFrame, FrameHeader, RenderedFrame
from remoteviz.pipeline.pacing import Targets
from remoteviz.pipeline.scheduler import AreaSchedule, Scheduler
from remoteviz.pipeline.sending import Outgoing
from remoteviz.protocol import Codec, FrameFlags, StreamConfig


def due(scheduler: Scheduler, now: float) -> list[tuple[str, list[str]]]:
    """What the service does each dispatch: the areas to render now, each with its ready connections."""
    return [(area, ready) for area in scheduler.due(now) if (ready := scheduler.render_now(area, now))]


def targets(fps: int = 30, max_sending_fps: int = 60) -> Targets:
    return Targets(True, fps, 0.7, 0.3, max_sending_fps, False, 0.0)


def frame(name: str, *, video: bool = False, key: bool = True, still: bool = False,
          stream: StreamConfig | None = None) -> EncodedFrame:
    flags = (FrameFlags.KEY if key else FrameFlags.NONE) | (FrameFlags.STILL if still else FrameFlags.NONE)
    header = FrameHeader(Codec.H264 if video else Codec.JPEG, flags, 8, 8, 8, 8, 0, b"")
    return EncodedFrame(header, name.encode(), video, stream)


class Viewer:
    """A stub browser: records the frames the core sends it, acknowledges on demand."""

    def __init__(self, window: int = 2, **target_changes: int) -> None:
        self.outgoing = Outgoing(targets(**target_changes), now=0.0, window=window)
        self.outgoing.configure(targets(**target_changes), is_video=False)
        self.received: list[tuple[int, bytes]] = []

    def deliver(self, send) -> None:
        if send is not None:
            self.received.append((send.frame_id, send.frame.payload))

    def offer(self, encoded: EncodedFrame, now: float):
        offered = self.outgoing.offer(encoded, now)
        self.deliver(offered.send)
        return offered

    def ack(self, frame_id: int, now: float) -> None:
        _, send = self.outgoing.ack(frame_id, 1.0, latency_ms=0.0, now=now)
        self.deliver(send)

    @property
    def payloads(self) -> list[bytes]:
        return [payload for _, payload in self.received]


def test_a_full_window_keeps_the_newest_frame_in_the_slot_and_an_ack_sends_it() -> None:
    viewer = Viewer(window=2)
    viewer.offer(frame("1"), 0.0)
    viewer.offer(frame("2"), 0.02)
    assert viewer.received == [(1, b"1"), (2, b"2")]
    waited = viewer.offer(frame("3"), 0.04)  # the window is full: it waits in the slot
    assert waited.send is None and not waited.dropped
    replaced = viewer.offer(frame("4"), 0.06)  # a newer one replaces it
    assert replaced.dropped and not replaced.lost_stream
    viewer.ack(1, 0.08)
    assert viewer.received[-1] == (3, b"4")  # the newest, never the one it replaced
    assert viewer.outgoing.pacer.in_flight == 2
    viewer.ack(2, 0.5)  # room again, and nothing more goes: the slot was emptied by the send
    assert viewer.payloads == [b"1", b"2", b"4"]


def test_a_video_delta_frame_never_replaces_a_waiting_one_and_the_stream_needs_a_key_frame() -> None:
    viewer = Viewer(window=1)
    config = StreamConfig(Codec.H264, "avc1.42E01F", 8, 8)
    viewer.offer(frame("k", video=True, stream=config), 0.0)
    viewer.offer(frame("d1", video=True, key=False), 0.02)  # waits
    viewer.outgoing.encoding_started()
    dropped = viewer.offer(frame("d2", video=True, key=False), 0.04)
    assert dropped.lost_stream and dropped.dropped and viewer.outgoing.needs_key
    assert not viewer.outgoing.accepts(frame_is_video=True, frame_is_key=False)
    assert viewer.outgoing.accepts(frame_is_video=True, frame_is_key=True)
    viewer.ack(1, 0.1)
    assert viewer.payloads == [b"k", b"d1"]  # the one that waited goes, never the delta dropped after it


def test_a_newer_key_frame_replacing_a_waiting_stream_start_keeps_the_stream_configuration() -> None:
    viewer = Viewer(window=1)
    viewer.offer(frame("old", video=True), 0.0)
    config = StreamConfig(Codec.H264, "avc1.42E01F", 8, 8)
    viewer.offer(frame("start", video=True, stream=config), 0.01)
    viewer.offer(frame("newer key", video=True), 0.02)
    send = viewer.outgoing.ack(1, 1.0, 0.0, 0.03)[1]
    assert send is not None and send.frame.payload == b"newer key" and send.frame.stream == config


def test_the_rate_cap_keeps_to_its_grid() -> None:
    viewer = Viewer(window=4, max_sending_fps=10)  # one frame per 0.1 s
    viewer.offer(frame("a"), 0.0)
    assert viewer.outgoing.send_time() is None  # nothing waits
    viewer.offer(frame("b"), 0.05)  # too soon: it waits for the cap, not for an ack
    assert viewer.received == [(1, b"a")] and viewer.outgoing.send_time() == pytest.approx(0.1)
    assert viewer.outgoing.take(0.099) is None
    viewer.deliver(viewer.outgoing.take(0.13))  # sent a little late...
    viewer.offer(frame("c"), 0.15)
    viewer.deliver(viewer.outgoing.take(0.2))  # ...the next one is still due on the grid, at 0.2
    assert viewer.payloads == [b"a", b"b", b"c"]
    viewer.offer(frame("d"), 0.5)  # much later than its slot: the grid starts again from now
    assert viewer.outgoing.pacer.ready_at == pytest.approx(0.6)


def test_a_still_follows_once_input_stopped_for_still_delay() -> None:
    scheduler = Scheduler()
    schedule = AreaSchedule(still_delay=0.05)
    scheduler.add_area("A", schedule)
    viewer = Viewer()
    scheduler.add_viewer("A", "c", viewer.outgoing)
    schedule.input_arrived(0.0)
    assert [area for area, _ in due(scheduler, 0.0)] == ["A"] and schedule.is_interacting(0.0)
    schedule.render_started()
    assert schedule.render_ended() == []
    schedule.rendered(interactive=True, seconds=0.001)
    assert due(scheduler, 0.03) == []  # still interacting, nothing changed
    assert scheduler.sleep(0.03) == pytest.approx(0.02)  # it wakes for the still
    assert due(scheduler, 0.05) == [("A", ["c"])] and not schedule.is_interacting(0.05)
    schedule.render_started()
    assert schedule.render_ended() == []
    schedule.rendered(interactive=False, seconds=0.001)
    assert due(scheduler, 0.2) == []  # one still, then quiet
    assert scheduler.sleep(0.2) == pytest.approx(1.0)


def test_while_an_area_is_drawn_elsewhere_its_events_wait_in_order_and_it_is_not_rendered_again() -> None:
    """The hand-off to a render thread: from render_started to render_ended the scene belongs to the
    render thread; events that would run the area's listeners are held and come back in order."""
    scheduler = Scheduler()
    first, other = AreaSchedule(still_delay=0.05), AreaSchedule(still_delay=0.05)
    scheduler.add_area("A", first)
    scheduler.add_area("B", other)
    scheduler.add_viewer("A", "a", Viewer().outgoing)
    scheduler.add_viewer("B", "b", Viewer().outgoing)
    handled: list[str] = []

    def event(name: str):
        return lambda: handled.append(name)

    assert due(scheduler, 0.0) == [("A", ["a"]), ("B", ["b"])]
    assert first.hold(event("too early")) is False  # not rendering: handled at once
    first.render_started()  # A goes to a render thread; B does not render yet
    assert first.hold(event("move 1")) and first.hold(event("message")) and first.hold(event("move 2"))
    assert other.hold(event("B's move")) is False  # B is not being drawn
    first.request_redraw()  # changed meanwhile (a timer, another area's listener): dirty again...
    first.input_arrived(0.01)
    assert due(scheduler, 0.01) == [("B", ["b"])]  # ...but not rendered twice at once
    other.render_started()
    other.render_ended()  # B drawn (on the dispatch thread, say): nothing else is due
    assert not scheduler.has_work(0.01)
    assert scheduler.sleep(0.01) == pytest.approx(0.05)  # no spinning while A is drawn: the still's time
    for held in first.render_ended():
        held()
    assert handled == ["move 1", "message", "move 2"]  # back in the order they came, never called by the core
    assert first.render_ended() == []  # exactly once
    assert first.hold(event("after")) is False
    assert due(scheduler, 0.01) == [("A", ["a"])]  # dirtied meanwhile: it renders next


def test_a_still_that_falls_due_during_a_draw_waits_for_its_end_and_is_drawn_once() -> None:
    scheduler = Scheduler()
    schedule = AreaSchedule(still_delay=0.05)
    scheduler.add_area("A", schedule)
    scheduler.add_viewer("A", "a", Viewer().outgoing)
    schedule.input_arrived(0.0)
    schedule.render_started()
    schedule.render_ended()
    schedule.rendered(interactive=True, seconds=0.01)
    schedule.input_arrived(0.01)
    schedule.render_started()  # the next interactive frame, drawn slowly elsewhere
    assert due(scheduler, 0.2) == []  # the still fell due meanwhile: it waits for this frame's end
    schedule.render_ended()
    schedule.rendered(interactive=True, seconds=0.19)
    assert due(scheduler, 0.2) == [("A", ["a"])] and not schedule.is_interacting(0.2)
    schedule.render_started()  # the still, drawn slowly too: its own due time passing does not
    assert due(scheduler, 0.5) == [] and not schedule.dirty  # ask for another still
    schedule.render_ended()
    schedule.rendered(interactive=False, seconds=0.3)
    assert due(scheduler, 0.5) == [] and scheduler.sleep(0.5) == pytest.approx(1.0)  # one still, then quiet


def test_an_area_renders_only_for_ready_viewers_and_one_frame_waits_at_most() -> None:
    scheduler = Scheduler()
    schedule = AreaSchedule(still_delay=0.05)
    scheduler.add_area("A", schedule)
    full, free = Viewer(window=1), Viewer(window=1)
    scheduler.add_viewer("A", "full", full.outgoing)
    scheduler.add_viewer("A", "free", free.outgoing)
    full.offer(frame("x"), 0.0)  # its window is full until an ack
    assert due(scheduler, 0.0) == [("A", ["free"])]
    waiting = RenderedFrame(np.zeros((1, 1, 3), np.uint8), False, 1, 1, {})
    schedule.encode_started()  # the previous frame is with the encoders: the next one waits for it
    assert not schedule.frame_rendered(waiting)
    assert due(scheduler, 0.0) == [] and not scheduler.has_work(0.0)  # it waits for the encoders
    assert schedule.encode_finished() is waiting  # its turn: encoded now
    schedule.render_started()
    schedule.render_ended()
    assert due(scheduler, 0.0) == []  # not dirty
    scheduler.remove_viewer("A", "free")
    schedule.request_redraw()
    assert due(scheduler, 0.0) == []  # the only viewer left has a full window
    full.ack(1, 0.01)
    assert due(scheduler, 0.01) == []  # its rate cap (60 fps) lets the next frame go at 1/60 s
    assert scheduler.sleep(0.01) == pytest.approx(1 / 60 - 0.01)
    assert due(scheduler, 1 / 60) == [("A", ["full"])]


def test_render_ahead_only_when_the_target_rate_needs_it() -> None:
    image, video = Viewer(window=2, fps=30), Viewer(window=2, fps=30)
    video.outgoing.configure(targets(fps=30), is_video=True)
    for viewer in (image, video):
        viewer.outgoing.encoding_started()  # the previous frame is in the encoders
    cheap, dear = 0.01, 0.03  # 0.8 / 30 fps = 0.0267 s
    assert image.outgoing.ready_time(1.0, cheap) is not None  # images always overlap render and encode
    assert video.outgoing.ready_time(1.0, cheap) is None  # one after the other holds 30 fps: no added latency
    assert video.outgoing.ready_time(1.0, dear) is not None  # it does not: render the next one meanwhile
    video.offer(frame("k", video=True), 1.0)
    video.offer(frame("d", video=True, key=False), 1.0)
    video.offer(frame("d", video=True, key=False), 1.0)  # the window of 2 is full, one waits in the slot
    assert video.outgoing.ready_time(1.0, dear) is None  # a waiting video frame: never ahead


def test_the_rate_cap_is_looked_at_one_frame_cost_ahead() -> None:
    viewer = Viewer(window=4, max_sending_fps=10)
    viewer.offer(frame("a"), 0.0)
    assert viewer.outgoing.ready_time(0.0, frame_cost=0.03) == pytest.approx(0.07)


class Coder:
    def __init__(self, encoder: Encoder, width: int, height: int, fps: float, bitrate: int | None) -> None:
        self.opened_at = (fps, bitrate)
        self.codec = encoder.codec
        self.codec_string = "avc1.42E01F"

    def encode(self, image, *, key=False, quality=0.7):
        raise AssertionError("the planner never encodes")

    def close(self) -> None:
        pass


def plan(area: AreaEncoders, viewers: dict[str, Viewer], still: bool = False):
    """What the service does for one frame: ask each viewer to join, plan, start the encodes."""
    members = [Member(name, Encoder.H264, 0.7, v.outgoing.needs_key) for name, v in viewers.items()
               if v.outgoing.join_plan(targets(), is_video=True)]
    jobs = area.plan(members, 8, 8, still=still)
    for job in jobs:
        for name in job.members:
            viewers[name].outgoing.encoding_started()
    return {tuple(job.members): job for job in jobs}


def test_a_joiner_gets_a_key_frame_through_a_resync_stream_and_the_others_are_undisturbed() -> None:
    area = AreaEncoders(Coder)
    a = Viewer()
    first = plan(area, {"a": a})
    assert first[("a",)].key
    a.outgoing.encoding_finished()
    b = Viewer()
    assert b.outgoing.needs_key  # a new viewer starts with a key frame
    jobs = plan(area, {"a": a, "b": b})
    assert not jobs[("a",)].key and jobs[("b",)].key and jobs[("b",)].joined == ["b"]
    assert jobs[("b",)].stream is not jobs[("a",)].stream  # the resync stream
    assert not b.outgoing.needs_key


def test_a_stalled_video_viewer_leaves_the_plan_and_rejoins_with_a_key_frame() -> None:
    area = AreaEncoders(Coder)
    fast, stalled = Viewer(window=1), Viewer(window=1)
    plan(area, {"fast": fast, "stalled": stalled})
    for viewer in (fast, stalled):
        viewer.outgoing.encoding_finished()
    stalled.offer(frame("k", video=True), 0.0)
    stalled.offer(frame("d", video=True, key=False), 0.01)  # window 1 full: it waits in the slot
    jobs = plan(area, {"fast": fast, "stalled": stalled})
    assert set(jobs) == {("fast",)}  # nothing is encoded for it only to be dropped
    assert stalled.outgoing.needs_key
    stalled.ack(1, 0.02)  # its slot goes
    assert stalled.payloads == [b"k", b"d"]
    jobs = plan(area, {"fast": fast, "stalled": stalled})
    assert jobs[("stalled",)].key and "stalled" in jobs[("stalled",)].joined


def test_a_video_stream_opens_at_the_connections_rate_and_its_links_bitrate() -> None:
    outgoing = Outgoing(Targets(True, 24, 0.7, 0.3, 60, False, 100_000.0), now=0.0)
    assert outgoing.rate.bitrate() == 800_000  # 100 kB/s of bandwidth share
    assert Outgoing(targets(), now=0.0).rate.bitrate() is None  # unknown: quality alone sets the size
    loopback = Outgoing(Targets(True, 30, 0.7, 0.3, 60, False, 300e6), now=0.0)  # calibrated at 300 MB/s
    assert loopback.rate.bitrate() == 100_000_000  # a rate encoders accept (libx264 refuses 2.4 Gbit/s)
    member = Member("a", Encoder.H264, 0.7, True, fps=outgoing.rate.targets.fps, bitrate=outgoing.rate.bitrate())
    (job,) = AreaEncoders(Coder).plan([member], 8, 8, still=False)
    assert job.coder.opened_at == (24, 800_000)


def test_the_real_h264_encoder_opens_at_the_bitrate_of_a_loopback_link() -> None:
    from remoteviz.encoders import open_encoder

    outgoing = Outgoing(Targets(True, 30, 0.7, 0.3, 60, False, 300e6), now=0.0)  # as calibration measures loopback
    coder = open_encoder(Encoder.H264, 1280, 720, outgoing.rate.targets.fps, outgoing.rate.bitrate())
    try:
        payload, is_key = coder.encode(np.zeros((720, 1280, 3), np.uint8), key=True, quality=0.7)
        assert is_key and payload
    finally:
        coder.close()


def test_an_isolated_move_after_idle_is_rendered_and_sent_at_once_without_a_grid_slot() -> None:
    """The isolated-latency case: the still of the last move went out long ago, so nothing holds the
    next move's frame: neither the rate cap's grid (it starts again from the send) nor the window."""
    scheduler = Scheduler()
    schedule = AreaSchedule(still_delay=0.05)
    scheduler.add_area("A", schedule)
    viewer = Viewer(window=2, max_sending_fps=60)
    scheduler.add_viewer("A", "c", viewer.outgoing)
    schedule.render_started()
    schedule.rendered(interactive=False, seconds=0.007)
    assert schedule.render_ended() == []
    viewer.offer(frame("still", still=True), 0.0)
    viewer.ack(1, 0.01)
    assert due(scheduler, 1.0) == [] and scheduler.sleep(1.0) == pytest.approx(1.0)  # idle

    schedule.input_arrived(1.0)  # one small move, a second later
    schedule.request_redraw()
    assert scheduler.has_work(1.0) and scheduler.sleep(1.0) == 0.0
    assert due(scheduler, 1.0) == [("A", ["c"])]  # rendered at once, not at a grid slot
    schedule.render_started()
    schedule.rendered(interactive=True, seconds=0.007)
    assert schedule.render_ended() == []
    viewer.offer(frame("move"), 1.009)
    assert viewer.payloads == [b"still", b"move"]  # sent as soon as encoded
    assert viewer.outgoing.pacer.ready_at == pytest.approx(1.009 + 1 / 60)  # the grid starts from this send

    # A move right after a frame went out does wait for the cap's next slot, less one frame's cost.
    schedule.input_arrived(1.012)
    schedule.request_redraw()
    assert due(scheduler, 1.012) == []
    assert scheduler.sleep(1.012) == pytest.approx(1.009 + 1 / 60 - schedule.frame_cost - 1.012)


class Link:
    """A link that delivers ``rate`` bytes per second, one frame after the other, to a viewer that acks at once."""

    def __init__(self, viewer: Viewer, rate: float) -> None:
        self.viewer, self.rate = viewer, rate
        self.free_at = 0.0  # when the link has delivered everything sent so far
        self.deliveries: list[tuple[float, int]] = []  # (when, frame id), in order

    def send(self, send, now: float) -> None:
        if send is not None:
            self.free_at = max(self.free_at, now) + len(send.frame.payload) / self.rate
            self.deliveries.append((self.free_at, send.frame_id))

    def acks_until(self, now: float) -> None:
        while self.deliveries and self.deliveries[0][0] <= now:
            when, frame_id = self.deliveries.pop(0)
            _, send = self.viewer.outgoing.ack(frame_id, 1.0, latency_ms=0.0, now=when)
            self.send(send, when)


def stream_over(link: Link, clock: list[float], seconds: float, fps: int = 30) -> list[int | None]:
    """Frames at ``fps`` from an encoder that keeps to the steered cap (100 kB each when uncapped)."""
    rate = link.viewer.outgoing.rate
    seen = []
    for _ in range(round(seconds * fps)):
        clock[0] += 1 / fps
        link.acks_until(clock[0])
        bitrate = rate.bitrate()
        size = 100_000 if bitrate is None else min(100_000, bitrate // 8 // fps)
        offered = link.viewer.outgoing.offer(frame("x" * size), clock[0])
        link.send(offered.send, clock[0])
        seen.append(bitrate)
    return seen


def test_a_congested_link_steers_the_video_bitrate_to_what_it_delivers_and_room_brings_it_back() -> None:
    viewer = Viewer()
    viewer.outgoing.configure(Targets(True, 30, 0.7, 0.7, 60, False, 10e6), is_video=True)  # calibrated at 10 MB/s
    assert viewer.outgoing.rate.bitrate() == 80_000_000  # the ceiling: the calibrated share
    link, clock = Link(viewer, 1_000_000), [0.0]  # but the link carries 1 MB/s
    settled = stream_over(link, clock, 6.0)[-30:]
    # Probing for room takes it a step above what the link carries, then congestion brings it back.
    assert all(b is not None and 0.5 * 8e6 <= b <= 1.3 * 8e6 for b in settled), settled
    link.rate = 250_000  # the link tightens
    settled = stream_over(link, clock, 6.0)[-30:]
    assert all(b is not None and 0.5 * 2e6 <= b <= 1.3 * 2e6 for b in settled), settled
    link.rate = 50e6  # and loosens: back up, step by step, to the ceiling
    rising = stream_over(link, clock, 8.0)
    assert rising[-1] == 80_000_000
    assert all(a is not None and b is not None and a <= b for a, b in zip(rising, rising[1:], strict=False))


def test_bitrate_steering_needs_congestion_and_keep_fps() -> None:
    viewer = Viewer()
    viewer.outgoing.configure(Targets(True, 30, 0.7, 0.7, 60, False, 0.0), is_video=True)
    link, clock = Link(viewer, 50e6), [0.0]  # a fast link: 100 kB frames at 30 fps fit
    assert set(stream_over(link, clock, 3.0)) == {None}  # nothing known, nothing congested: no cap
    link.rate = 1_000_000
    assert stream_over(link, clock, 3.0)[-1] is not None  # congested: a cap, though the bandwidth is unknown
    viewer.outgoing.configure(Targets(False, 30, 0.7, 0.7, 60, False, 0.0), is_video=True)
    assert viewer.outgoing.rate.bitrate() is None  # KEEP_FRAME_QUALITY keeps quality: the rate drops instead
    assert set(stream_over(link, clock, 3.0)) == {None}


class SteeredCoder(Coder):
    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.bitrate = self.opened_at[1]

    def set_bitrate(self, bitrate: int | None) -> None:
        self.bitrate = bitrate


def test_a_shared_stream_is_steered_to_its_slowest_members_bitrate() -> None:
    area = AreaEncoders(SteeredCoder)

    def members(**bitrates: int | None) -> list[Member]:
        return [Member(name, Encoder.H264, 0.7, False, bitrate=b) for name, b in bitrates.items()]

    (job,) = area.plan(members(a=4_000_000, b=None), 8, 8, still=True)
    assert job.coder.bitrate == 4_000_000 and sorted(job.members) == ["a", "b"]
    (again,) = area.plan(members(a=4_000_000, b=500_000), 8, 8, still=False)
    assert again.coder is job.coder and job.coder.bitrate == 500_000  # one stream must fit both links
    area.plan(members(a=None, b=None), 8, 8, still=False)
    assert job.coder.bitrate is None
    jobs = area.plan([*members(a=4_000_000, b=None), Member("c", Encoder.H264, 0.7, True, bitrate=300_000)],
                     8, 8, still=False)
    (resync,) = [j for j in jobs if j.members == ["c"]]
    assert resync.coder is not job.coder and resync.coder.bitrate == 300_000 and job.coder.bitrate == 4_000_000
