"""HelloCone streamed as video (H.264, VP9, AV1) and decoded by Chromium's WebCodecs."""

from __future__ import annotations

import pytest

from .helpers import assert_a_drag_turns_the_cone, record

# What the client probes each codec with (client-js/src/capabilities.js VIDEO_PROBES).
PROBES = {"h264": "avc1.42E01F", "vp9": "vp09.00.10.08", "av1": "av01.0.04M.08"}


@pytest.mark.parametrize("codec", ["h264", "vp9", "av1"])
def test_the_cone_streamed_as_video_shows_and_turns(cone_page, codec: str) -> None:
    page = cone_page(f"?encoder={codec}")
    supported = page.evaluate(
        "async (codec) => (await VideoDecoder.isConfigSupported({codec, optimizeForLatency: true})).supported",
        PROBES[codec])
    assert supported, f"this Chromium has no {codec} decoder"  # explains a failure below, never skips it

    connected = [event[1] for event in record(page)["service"] if event[0] == "connected"]
    assert [(c["stillEncoder"], c["interactiveEncoder"], c["streamingMode"]) for c in connected] == \
        [(codec, codec, "video")], connected
    assert page.evaluate("theRenderArea.getStreamingMode()") == "video"

    assert_a_drag_turns_the_cone(page)

    seen = record(page)
    assert {frame["codec"] for frame in seen["decoded"]} == {codec}, "the decoded-frame listener names the codec"
    assert {frame["codec"] for frame in seen["received"]} == {codec}
    assert seen["received"][0]["key"], "a video stream starts with a key frame"
    assert any(not frame["key"] for frame in seen["received"]), "the drag was streamed as delta frames"
    stats = page.evaluate("theRenderArea.getStats()")
    assert stats["codec"] == codec and stats["framesDropped"] == 0, stats
    # Decoded in the render area's worker (video-worker.js), painted from the pictures it sent back.
    assert stats["videoInWorker"], "Chromium decodes video in a worker"


def test_without_workers_h264_is_decoded_on_the_main_thread(cone_page) -> None:
    # A browser (or a page policy) without workers: the render area falls back to decoding on
    # the page's main thread, and the picture is the same.
    page = cone_page("?encoder=h264", init_script="delete window.Worker;")
    assert page.evaluate("typeof Worker") == "undefined"
    assert page.evaluate("theRenderArea.getStreamingMode()") == "video"
    assert_a_drag_turns_the_cone(page)
    stats = page.evaluate("theRenderArea.getStats()")
    assert stats["codec"] == "h264" and stats["framesDropped"] == 0 and not stats["videoInWorker"], stats
