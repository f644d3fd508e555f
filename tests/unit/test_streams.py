"""The plan of who shares which encoder, with recording stand-in coders (no real encoding)."""

from remoteviz.encoders import Encoder
from remoteviz.encoders.streams import AreaEncoders, Member
from remoteviz.protocol import Codec


class Coder:
    opened: list["Coder"] = []

    def __init__(self, encoder: Encoder, width: int, height: int, fps: float = 30.0, bitrate=None) -> None:
        self.codec = encoder.codec
        self.size = (width, height)
        self.codec_string = f"{encoder.value}-{width}x{height}"
        self.closed = False
        Coder.opened.append(self)

    def encode(self, frame, *, key=False, quality=0.7):
        raise AssertionError("the planner never encodes")

    def close(self) -> None:
        self.closed = True


def plan(encoders: AreaEncoders, members, still=False, size=(64, 48)):
    jobs = encoders.plan(members, *size, still=still)
    return {tuple(sorted(j.members)): j for j in jobs}


def member(name: str, encoder=Encoder.H264, needs_key=False, quality=0.7) -> Member:
    return Member(name, encoder, quality, needs_key)


def test_images_share_one_encode_per_encoder_and_quality() -> None:
    area = AreaEncoders(Coder)
    jobs = plan(area, [member("a", Encoder.JPEG), member("b", Encoder.JPEG), member("c", Encoder.JPEG, quality=0.3),
                       member("d", Encoder.PNG)])
    assert set(jobs) == {("a", "b"), ("c",), ("d",)}
    assert jobs[("a", "b")].coder is not jobs[("d",)].coder
    assert all(j.stream is None and j.key for j in jobs.values())


def test_video_viewers_share_a_stream_and_a_newcomer_gets_a_key_frame_on_a_resync_stream() -> None:
    area = AreaEncoders(Coder)
    first = plan(area, [member("a", needs_key=True)])
    assert first[("a",)].key and first[("a",)].joined == ["a"]
    main = first[("a",)].stream
    delta = plan(area, [member("a")])
    assert not delta[("a",)].key and delta[("a",)].joined == [] and delta[("a",)].stream is main
    joining = plan(area, [member("a"), member("b", needs_key=True)])
    assert not joining[("a",)].key  # the viewer already there is not disturbed
    assert joining[("b",)].key and joining[("b",)].joined == ["b"] and joining[("b",)].stream is not main
    follow = plan(area, [member("a"), member("b")])
    assert not follow[("a",)].key and not follow[("b",)].key
    # The main stream's next key frame (a still) takes the newcomer back; its resync stream retires.
    resync_coder = joining[("b",)].coder
    merged = plan(area, [member("a"), member("b")], still=True)
    assert set(merged) == {("a", "b")}
    job = merged[("a", "b")]
    assert job.stream is main and job.key and job.quality == 1.0 and job.joined == ["b"]
    assert resync_coder in area.take_retired()


def test_a_connection_that_missed_a_frame_resyncs_without_touching_the_others() -> None:
    area = AreaEncoders(Coder)
    plan(area, [member("a", needs_key=True), member("b", needs_key=True)])
    plan(area, [member("a"), member("b")])
    area.forget("b")
    jobs = plan(area, [member("a"), member("b", needs_key=True)])
    assert not jobs[("a",)].key and jobs[("b",)].key


def test_a_size_change_restarts_the_stream_with_a_key_frame_for_everyone() -> None:
    area = AreaEncoders(Coder)
    plan(area, [member("a", needs_key=True), member("b", needs_key=True)])
    old = plan(area, [member("a"), member("b")])[("a", "b")].coder
    jobs = plan(area, [member("a"), member("b")], size=(80, 60))
    job = jobs[("a", "b")]
    assert job.key and job.coder is not old and job.coder.size == (80, 60) and sorted(job.joined) == ["a", "b"]
    assert old in area.take_retired()


def test_reset_retires_everything_and_left_connections_leave_streams() -> None:
    area = AreaEncoders(Coder)
    jobs = plan(area, [member("a", needs_key=True), member("j", Encoder.JPEG)])
    coders = {j.coder for j in jobs.values()}
    area.reset()
    assert set(area.take_retired()) == coders
    again = plan(area, [member("a")])
    assert again[("a",)].key  # a fresh stream after the reset
    assert again[("a",)].coder.codec is Codec.H264
