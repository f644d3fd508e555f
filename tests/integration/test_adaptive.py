"""Calibration, adaptation and metrics over a link throttled for real (a TCP proxy on loopback)."""

import asyncio
import statistics
import time
import urllib.request

import numpy as np

import remoteviz as rv
from remoteviz import client
from remoteviz.service import MAX_FRAME_WINDOW
from remoteviz.throttle import ThrottledProxy

from .harness import FrameSource, Recorder, running_service


def noisy(width: int, height: int, seed: int) -> np.ndarray:
    """Frames that compress badly, so that a slow link is the bottleneck."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


class NoisySource(FrameSource):
    def on_requested_frame(self, render_area, connection):
        self.frames_made += 1
        return noisy(render_area.width, render_area.height, self.frames_made), render_area.is_interacting


class Noisy(Recorder):
    def __init__(self, policy=rv.EncodingPolicy.KEEP_FRAMES_PER_SECOND, encoder=rv.Encoder.JPEG,
                 min_quality=None) -> None:
        super().__init__()
        self.policy = policy
        self.encoder = encoder
        self.min_quality = min_quality
        self.performance: list[rv.NetworkPerformance] = []

    def on_initialized_client(self, client, network_performance):
        super().on_initialized_client(client, network_performance)
        self.performance.append(network_performance)

    def on_instantiated_render_area(self, render_area):
        source = NoisySource(self.log)
        self.sources[render_area.id] = source
        render_area.add_listener(source)
        policy, encoder, min_quality = self.policy, self.encoder, self.min_quality

        class Policy(rv.RenderAreaListener):
            def on_opened_connection(self, render_area, connection, frame_encoders):
                frame_encoders.set_encoders(encoder, encoder)
                connection.settings.set_frame_encoding_policy(policy, min_quality=min_quality)

        render_area.add_listener(Policy())


def test_calibration_measures_a_throttled_link_within_a_factor_of_two() -> None:
    service = Noisy()
    rate = 1_000_000

    async def scenario(port: int):
        async with ThrottledProxy("127.0.0.1", port, rate) as proxy:
            url = f"ws://127.0.0.1:{proxy.port}/Cal?width=32&height=32"
            async with client.connect(url) as view:
                return [(n.event, n.data) for n in view.notifications]

    with running_service(service) as runner:
        notifications = asyncio.run(scenario(runner.service.port))
    assert [event for event, _ in notifications] == ["startNetworkCalibration", "finishedNetworkCalibration"]
    measured = notifications[1][1]["bandwidth"]
    assert rate / 2 <= measured <= rate * 2, measured
    (performance,) = service.performance
    assert performance.measured and round(performance.bandwidth) == measured
    assert performance.latency_ms > 0


def test_a_second_view_of_the_page_waits_for_the_calibration_under_way() -> None:
    service = Noisy()

    async def scenario(port: int):
        async with ThrottledProxy("127.0.0.1", port, 300_000) as proxy:
            url = f"ws://127.0.0.1:{proxy.port}/Page?width=32&height=32"
            async with client.connect(url, client_id="one-page") as first:
                pass
            first_events = [n.event for n in first.notifications]
            # Two views of one page at once: the second arrives while the first calibrates.
            async def view():
                async with client.connect(url, client_id="two-views") as v:
                    return [n.event for n in v.notifications]
            return first_events, await asyncio.gather(view(), view())

    with running_service(service) as runner:
        first_events, both = asyncio.run(scenario(runner.service.port))
    assert first_events == ["startNetworkCalibration", "finishedNetworkCalibration"]
    assert sorted(map(tuple, both)) == [("pendingNetworkCalibration", "finishedNetworkCalibration"),
                                        ("startNetworkCalibration", "finishedNetworkCalibration")]
    assert service.names().count("on_initialized_client") == 2  # once per client, not per view


def test_calibration_can_be_turned_off_per_client() -> None:
    class Off(Noisy):
        def on_connected_client(self, client_id, network_performance):
            network_performance.enable_calibration(False)

    service = Off()

    async def scenario(url: str):
        async with client.connect(url) as view:
            return [n.event for n in view.notifications]

    with running_service(service) as runner:
        events = asyncio.run(scenario(runner.url("NoCal")))
    assert events == []
    assert service.performance[0].measured is False


async def _orbit(view, seconds: float) -> list:
    """Move the mouse continuously (interactive frames) and collect what arrives."""
    frames = []
    deadline = time.monotonic() + seconds
    x = 0
    while time.monotonic() < deadline:
        x += 1
        await view.mouse(rv.MouseAction.MOVE, x % 32, 0)
        try:
            frames.append(await view.next_frame(timeout=0.05))
        except TimeoutError:
            pass
    return frames


def test_keep_fps_lowers_quality_when_the_link_tightens_and_raises_it_when_it_loosens() -> None:
    service = Noisy(rv.EncodingPolicy.KEEP_FRAMES_PER_SECOND)

    async def scenario(runner):
        async with ThrottledProxy("127.0.0.1", runner.service.port, 50_000_000) as proxy:
            url = f"ws://127.0.0.1:{proxy.port}/Adapt?width=320&height=240"
            async with client.connect(url) as view:
                connection = runner.service.get_render_area("Adapt").connections[0]
                start = connection.interactive_quality
                proxy.bytes_per_second = 150_000
                await _orbit(view, 3.0)
                tight = connection.interactive_quality
                proxy.bytes_per_second = 50_000_000
                await _orbit(view, 4.0)
                loose = connection.interactive_quality
                return start, tight, loose

    with running_service(service, still_delay=0.5) as runner:
        start, tight, loose = asyncio.run(scenario(runner))
    assert start == 0.7
    assert tight < start - 0.15, (start, tight)
    assert loose > tight, (tight, loose)


def test_h264_bytes_per_frame_follow_the_link_with_the_quality_pinned() -> None:
    # min_quality = quality: the quality cannot drop, so only the steered bitrate can shrink the frames.
    service = Noisy(rv.EncodingPolicy.KEEP_FRAMES_PER_SECOND, rv.Encoder.H264, min_quality=0.7)

    def sizes(frames) -> list[int]:
        assert all(f.codec is rv.Codec.H264 for f in frames)
        return [len(f.frame.payload) for f in frames if not f.is_still]

    async def scenario(runner):
        async with ThrottledProxy("127.0.0.1", runner.service.port, 50_000_000) as proxy:
            url = f"ws://127.0.0.1:{proxy.port}/Steer?width=320&height=240"
            async with client.connect(url, decoders={"h264"}) as view:
                rate = runner.service._core.outgoing(runner.service.get_render_area("Steer").connections[0]).rate
                loose = sizes(await _orbit(view, 2.0))
                loose_bitrate = rate.bitrate()
                proxy.bytes_per_second = 150_000
                tight: list[int] = []
                deadline = time.monotonic() + 60  # generous: the machine may be loaded
                while time.monotonic() < deadline:
                    tight += sizes(await _orbit(view, 1.0))
                    if len(tight) >= 10 and statistics.median(tight[-10:]) < statistics.median(loose) / 3:
                        break
                return rate.quality, loose, loose_bitrate, tight, rate.bitrate()

    with running_service(service, still_delay=0.5) as runner:
        quality, loose, loose_bitrate, tight, tight_bitrate = asyncio.run(scenario(runner))
    assert quality == 0.7
    assert tight_bitrate is not None and (loose_bitrate is None or tight_bitrate < loose_bitrate / 4)
    # Steered to about what the link delivers (probing for room takes it a step or two above, for a while).
    assert 0.4 * 150_000 * 8 <= tight_bitrate <= 1.5 * 150_000 * 8, tight_bitrate
    settled = tight[-10:]  # the last frames, once the stream runs at the new cap
    assert len(loose) >= 5 and len(settled) == 10, (len(loose), len(tight))
    assert statistics.median(settled) < statistics.median(loose) / 3, (loose, tight)


def test_keep_quality_keeps_quality_and_the_rate_drops_instead() -> None:
    service = Noisy(rv.EncodingPolicy.KEEP_FRAME_QUALITY)

    async def scenario(runner):
        async with ThrottledProxy("127.0.0.1", runner.service.port, 50_000_000) as proxy:
            url = f"ws://127.0.0.1:{proxy.port}/Keep?width=320&height=240"
            async with client.connect(url) as view:
                connection = runner.service.get_render_area("Keep").connections[0]
                fast = len(await _orbit(view, 1.5))
                proxy.bytes_per_second = 150_000
                slow = len(await _orbit(view, 1.5))
                return connection.interactive_quality, fast, slow

    with running_service(service, still_delay=0.5) as runner:
        quality, fast, slow = asyncio.run(scenario(runner))
    assert quality == 0.7
    assert slow < fast / 2, (fast, slow)


def test_the_window_never_exceeds_its_bound_on_a_slow_link() -> None:
    service = Recorder(keep_rendering=True)
    peaks = []  # (frames in flight, window) of every connection, in every state the service settles in

    def look(runner) -> None:  # on the dispatch thread, after each dispatch(): nothing changes meanwhile
        for area in runner.service.render_areas:
            for connection in area.connections:
                peaks.append((connection.pacer.in_flight, connection.pacer.window))

    async def scenario(runner):
        async with ThrottledProxy("127.0.0.1", runner.service.port, 400_000) as proxy:
            async with client.connect(f"ws://127.0.0.1:{proxy.port}/Win?width=160&height=120") as view:
                await _orbit(view, 1.5)

    with running_service(service) as runner:
        runner.watch(lambda: look(runner))
        asyncio.run(scenario(runner))
    assert peaks and max(in_flight for in_flight, _ in peaks) >= 1
    assert all(in_flight <= window <= MAX_FRAME_WINDOW for in_flight, window in peaks)


def test_metrics_callbacks_fire_with_plausible_values_and_prometheus_parses() -> None:
    seen: dict[str, list] = {}

    class Metrics(rv.MetricsListener):
        def _note(self, name, value):
            seen.setdefault(name, []).append(value)

        def on_measured_network_latency(self, milliseconds, client):
            self._note("latency", milliseconds)

        def on_measured_decoding_time(self, milliseconds, connection):
            self._note("decoding", milliseconds)

        def on_measured_rendering_time(self, milliseconds, render_area):
            self._note("rendering", milliseconds)

        def on_measured_encoding_time(self, milliseconds, connection):
            self._note("encoding", milliseconds)

        def on_changed_num_clients(self, count):
            self._note("clients", count)

        def on_changed_num_connections(self, count):
            self._note("connections", count)

        def on_changed_num_render_areas(self, count):
            self._note("areas", count)

    async def scenario(runner):
        async with client.connect(runner.url("Metrics", "width=64&height=48")) as view:
            await _orbit(view, 1.3)  # long enough for a latency probe
            with urllib.request.urlopen(f"http://127.0.0.1:{runner.service.port}/metrics", timeout=5) as r:
                return r.headers["Content-Type"], r.read().decode()

    with running_service(Recorder()) as runner:
        runner.service.get_monitoring().add_listener(Metrics())
        content_type, text = asyncio.run(scenario(runner))
    assert seen["clients"][0] == 1 and seen["connections"][0] == 1 and seen["areas"][0] == 1
    assert seen["clients"][-1] == 0 and seen["areas"][-1] == 0
    assert all(0 < ms < 1000 for ms in seen["rendering"] + seen["encoding"])
    assert seen["decoding"] and all(0 < ms < 1000 for ms in seen["decoding"])
    assert seen["latency"] and all(0 <= ms < 1000 for ms in seen["latency"])
    assert content_type.startswith("text/plain; version=0.0.4")
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)  # label values may hold spaces
            values[name] = float(value)
    assert values["remoteviz_frames_sent_total"] >= 2
    assert values["remoteviz_frame_bytes_sent_total"] > 0
    assert values["remoteviz_rendering_time_ms_count"] == len(seen["rendering"])
    assert values["remoteviz_connections"] == 1
