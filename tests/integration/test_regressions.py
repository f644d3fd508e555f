"""Bugs found in review, each pinned by the scenario that showed it."""

import asyncio
import time
import urllib.error
import urllib.request

import numpy as np

import remoteviz as rv
from remoteviz import client, http

from .harness import Recorder, async_wait_until, running_service, wait_until


def test_an_idle_service_does_not_spin_when_a_still_falls_due_with_nobody_to_send_it_to() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Kept")) as view:
            await view.next_frame()
            await view.mouse(rv.MouseAction.MOVE, 1, 1)
            assert not (await view.next_frame()).is_still  # it leaves before the still falls due

    with running_service(Recorder(), still_delay=0.2) as runner:
        runner.call(runner.service.create_render_area, "Kept", 32, 24)
        asyncio.run(scenario(runner))
        wait_until(lambda: runner.service.num_clients == 0)
        before = runner.iterations
        time.sleep(0.6)
        spins = runner.iterations - before
    assert spins < 200, f"{spins} dispatch() calls in 0.6 s while idle"


def test_a_render_area_recreated_under_the_same_id_gets_frames() -> None:
    class Slow(Recorder):
        """Big noisy PNG stills: encoding one takes long enough to dispose the area meanwhile."""

        def on_instantiated_render_area(self, render_area):
            class Noise(rv.RenderAreaListener):
                def on_requested_frame(self, render_area, connection):
                    rng = np.random.default_rng(0)
                    return rng.integers(0, 256, (render_area.height, render_area.width, 3), np.uint8), False

            render_area.add_listener(Noise())

    async def scenario(runner):
        url = runner.url("Again", "width=1920&height=1080")
        async with client.connect(url, decode=False):
            await async_wait_until(lambda: runner.service._core.schedule(runner.service.get_render_area("Again")).encodes_in_flight > 0)
        # gone while its frame was being encoded; the same id comes back at once
        async with client.connect(url, decode=False) as view:
            return await view.next_frame(timeout=10)

    with running_service(Slow()) as runner:
        frame = asyncio.run(scenario(runner))
    assert frame.frame.width == 1920


def test_an_http_hook_that_answers_too_late_gets_a_504_and_the_service_goes_on(monkeypatch) -> None:
    monkeypatch.setattr(http, "HOOK_TIMEOUT", 0.2)

    class Slow(rv.ServiceListener):
        def on_http_request(self, request):
            if request.path == "/slow":
                time.sleep(0.5)
            return rv.HttpResponse(200, "fine")

    with running_service(Slow()) as runner:
        base = f"http://127.0.0.1:{runner.service.port}"
        try:
            urllib.request.urlopen(base + "/slow", timeout=5)
            raise AssertionError("expected a 504")
        except urllib.error.HTTPError as error:
            assert error.code == 504
        time.sleep(0.5)  # the hook finishes after its request timed out
        with urllib.request.urlopen(base + "/next", timeout=5) as response:
            assert response.read() == b"fine"
        assert not runner.errors


def test_each_viewer_gets_back_the_number_of_its_own_last_input() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("Two")) as a, client.connect(runner.url("Two")) as b:
            await a.latest_frame(settle=0.2)
            await b.latest_frame(settle=0.2)
            for _ in range(5):
                await a.mouse(rv.MouseAction.MOVE, 1, 1)
            seq_b = await b.mouse(rv.MouseAction.MOVE, 2, 2)
            frame_b = await b.frame_where(lambda f: f.frame.input_seq == seq_b)
            frame_a = await a.latest_frame(settle=0.3)
            return frame_a.frame.input_seq, frame_b.frame.input_seq, seq_b

    with running_service(Recorder()) as runner:
        seq_a, got_b, seq_b = asyncio.run(scenario(runner))
    assert seq_a == 5 and got_b == seq_b == 1


def test_a_malformed_size_answer_is_logged_and_the_requested_size_kept(caplog) -> None:
    class Odd(Recorder):
        def on_pending_create_render_area(self, render_area_id, width, height, client, parameters):
            return ("wide", None)

    async def scenario(url):
        async with client.connect(url) as view:
            return view.accept

    with running_service(Odd()) as runner:
        accept = asyncio.run(scenario(runner.url("Odd", "width=40&height=30")))
    assert (accept.width, accept.height) == (40, 30)
    assert "not (width, height)" in caplog.text


def test_issue_19_a_disposed_scene_gives_its_framebuffers_memory_back() -> None:
    """Item 9: 438 MB stayed after a client's 3840x2160 areas closed. Mesa kept the last framebuffer
    drawn into and the last read from referenced in the context's state, after they were deleted."""
    import psutil

    process = psutil.Process()

    def render_and_dispose(width: int, height: int) -> None:
        scene = rv.SceneManager()
        examiner = rv.SceneExaminer()
        examiner.add_child(rv.GradientBackground())
        examiner.add_child(rv.Cone())
        scene.scene_graph = examiner
        assert scene.render(width, height).shape == (height, width, 3)  # a still: 4x multisampled
        scene.dispose()

    render_and_dispose(64, 64)  # the context made, the shaders compiled: what stays anyway
    before = process.memory_info().rss
    render_and_dispose(2048, 2048)  # 3 x 64 MiB multisampled buffers, 16 MiB resolved, 12 MiB read back
    kept = (process.memory_info().rss - before) / (1 << 20)
    assert kept < 40, f"{kept:.0f} MiB still held after the scene was disposed"
