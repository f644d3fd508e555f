"""Video streaming end to end: negotiation, stream config, key frames, shared streams, PSNR."""

import asyncio

import numpy as np
import pytest

import remoteviz as rv
from remoteviz import client
from remoteviz.protocol import Codec

from .harness import Recorder, pattern, running_service

VIDEO = {"h264": rv.Encoder.H264, "vp9": rv.Encoder.VP9_VPX, "av1": rv.Encoder.AV1}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return 99.0 if error == 0 else 10 * np.log10(255.0**2 / error)


class VideoService(Recorder):
    """Serves numbered patterns; each connection asks for the encoder named in its URL."""

    def on_instantiated_render_area(self, render_area):
        super().on_instantiated_render_area(render_area)

        class Choose(rv.RenderAreaListener):
            def on_opened_connection(self, render_area, connection, frame_encoders):
                frame_encoders.set_encoders(VIDEO[connection.parameters.get_value("codec")])

        render_area.add_listener(Choose())


@pytest.mark.parametrize("codec", sorted(VIDEO))
def test_each_codec_streams_frames_that_decode_close_to_the_source(codec: str) -> None:
    service = VideoService()

    async def scenario(runner):
        url = runner.url("V", f"codec={codec}&width=96&height=64")
        async with client.connect(url, decoders={"jpeg", "png", codec}) as view:
            first = await view.next_frame()
            pictures = [first]
            for x in range(3):
                await view.mouse(rv.MouseAction.MOVE, x, 0)  # interactive frames
                pictures.append(await view.next_frame())
            still = await view.next_frame()  # once input stops
            return view.accept, pictures, still

    # Moves come a round trip apart; a loaded machine can make that longer than the default
    # still_delay (50 ms), and a still would come between two interactive frames.
    with running_service(service, still_delay=1.0) as runner:
        accept, pictures, still = asyncio.run(scenario(runner))
    assert accept.still_encoder == accept.interactive_encoder == VIDEO[codec].value
    assert pictures[0].frame.is_key and pictures[0].codec is Codec[codec.upper()]
    assert [p.is_still for p in pictures] == [True, False, False, False]
    assert pictures[2].frame.is_key is False and pictures[3].frame.is_key is False, "interactive deltas"
    assert still.is_still and still.frame.is_key  # the sharp still refinement
    for index, picture in enumerate([*pictures, still], start=1):
        assert picture.image.shape == (64, 96, 3)
        # A hard picture for video (sharp chroma edges, all new each frame), yet clearly this one.
        fidelity = psnr(picture.image, pattern(96, 64, index))
        assert fidelity > 24 and fidelity > psnr(picture.image, pattern(96, 64, index + 1)) + 8
    assert psnr(still.image, pattern(96, 64, 5)) > psnr(pictures[3].image, pattern(96, 64, 4))


def test_a_joining_connection_starts_with_a_key_frame_and_the_first_is_not_disturbed() -> None:
    service = VideoService()

    async def scenario(runner):
        url = runner.url("Join", "codec=h264&width=64&height=48")
        async with client.connect(url, decoders={"h264"}) as first:
            await first.next_frame()
            await first.mouse(rv.MouseAction.MOVE, 1, 1)
            await first.next_frame()
            async with client.connect(url, decoders={"h264"}) as second:
                await first.mouse(rv.MouseAction.MOVE, 2, 2)  # still interacting when it joins
                joined = await second.next_frame()
                during = await first.next_frame()  # the render made for the newcomer
                await second.mouse(rv.MouseAction.MOVE, 3, 3)
                after_first, after_second = await first.next_frame(), await second.next_frame()
                return joined, during, after_first, after_second

    with running_service(service, still_delay=5.0) as runner:  # all frames interactive here
        joined, during, after_first, after_second = asyncio.run(scenario(runner))
    assert joined.frame.is_key
    assert not during.frame.is_key
    assert not after_first.frame.is_key and not after_second.frame.is_key
    np.testing.assert_array_equal(during.image.shape, joined.image.shape)
    assert psnr(after_first.image, after_second.image) > 30  # the same picture, two streams


def test_a_resize_restarts_the_stream_with_a_key_frame_at_the_new_size() -> None:
    service = VideoService()

    async def scenario(runner):
        async with client.connect(runner.url("Grow", "codec=vp9&width=64&height=48"), decoders={"vp9"}) as view:
            await view.next_frame()
            await view.request_size(80, 60)
            return await view.frame_where(lambda f: f.frame.width == 80)

    with running_service(service) as runner:
        frame = asyncio.run(scenario(runner))
    assert frame.frame.is_key and frame.image.shape == (60, 80, 3)


def test_nvenc_is_refused_here_and_the_default_chain_takes_the_next_video_encoder() -> None:
    statuses = []

    class Nvenc(Recorder):
        def on_instantiated_render_area(self, render_area):
            super().on_instantiated_render_area(render_area)

            class Ask(rv.RenderAreaListener):
                def on_opened_connection(self, render_area, connection, frame_encoders):
                    frame_encoders.set_encoders(rv.Encoder.H264_NVENC)

                def on_refused_encoder(self, render_area, connection, frame_encoders):
                    statuses.append(frame_encoders.get_still_encoder_status())

            render_area.add_listener(Ask())

    async def scenario(runner):
        async with client.connect(runner.url("Gpu"), decoders={"jpeg", "png", "h264", "vp9"}) as view:
            return view.accept, await view.next_frame()

    with running_service(Nvenc(), max_refused_encoder_rounds=2) as runner:
        accept, frame = asyncio.run(scenario(runner))
    assert statuses == [rv.EncoderStatus.UNSUPPORTED, rv.EncoderStatus.UNSUPPORTED]
    assert accept.interactive_encoder == "vp9"  # H264_NVENC -> VP9 in the default chain
    assert frame.codec is Codec.VP9
