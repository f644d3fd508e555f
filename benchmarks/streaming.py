"""Streaming benchmark: HelloCone under a continuous orbit, end to end, as a viewer sees it.

Starts the HelloCone service in a subprocess (so its CPU time is its own), drives a continuous
orbit from Python clients for a fixed time, and prints a table (and writes JSON) of delivered
frames per second, p50/p95 input-to-picture latency, bytes per frame, server CPU milliseconds per
frame, and how long the sharp still takes after the last input, for:

- each encoder (JPEG, PNG still with JPEG interactive, H.264, VP9, AV1) at 1280x720 and 1920x1080;
- 1, 4 and 16 viewers sharing one render area;
- 1, 2 and 4 independent render areas, drawn on the dispatch thread (``--render-threads 1``, as before
  render threads) and on the default render threads, with a summary: 4 busy areas' frames per second
  together against one area's, for each;
- one viewer whose link is throttled to 2 MB/s, and one to 500 kB/s (also: the oldest picture
  shown, as the latency's maximum, and the server's memory over the run).

    python -m benchmarks.streaming [--seconds 4] [--only codecs,viewers,areas,throttled] [--max-fps N]
                                   [--output FILE]

``--only areas`` measures just the render areas (both ways, alternately, in one run); ``--rounds N``
measures them N times over, and the summary takes the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import platform
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

from remoteviz import client
from remoteviz.events import MouseAction, MouseButton
from remoteviz.throttle import ThrottledProxy

ROOT = Path(__file__).resolve().parent.parent
HELLO_CONE = ROOT / "examples" / "hello_cone" / "hello_cone.py"
DEFAULT_OUTPUT = Path(__file__).parent / "results" / "streaming.json"
INPUT_INTERVAL = 0.004  # seconds between two mouse moves of the orbit: faster than any frame rate
DECODERS = {"jpeg", "png", "h264", "vp9", "av1"}


@dataclass
class Result:
    """One scenario's figures (per viewer figures are over all viewers)."""

    scenario: str
    encoder: str
    size: str
    viewers: int
    areas: int
    fps: float  # frames shown per second, per viewer
    latency_p50_ms: float
    latency_p95_ms: float
    latency_max_ms: float
    bytes_per_frame: float
    server_cpu_ms_per_frame: float  # server CPU time / frames rendered (not frames sent)
    frames_rendered: int
    still_ms: float  # last input -> the still frame shown, on the first viewer
    server_rss_mb: list[float] = field(default_factory=list)
    render_threads: str = "default"  # the service's --render-threads

    @property
    def total_fps(self) -> float:
        """Frames shown per second over every viewer."""
        return self.fps * self.viewers * self.areas


class ServiceProcess:
    """HelloCone in a subprocess on a free port.

    ``program`` is the command that runs it, given ``--port`` and ``--encoder`` after its own
    arguments (the example itself by default).
    """

    def __init__(self, encoder: str, program: list[str] | None = None, options: list[str] | None = None) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._process = subprocess.Popen(
            [*(program or [sys.executable, str(HELLO_CONE)]), "--port", str(self.port), "--encoder", encoder,
             *(options or [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        self.info = psutil.Process(self._process.pid)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise RuntimeError("the HelloCone service did not start") from None
                time.sleep(0.05)

    def cpu_seconds(self) -> float:
        times = self.info.cpu_times()
        return times.user + times.system

    def rss_mb(self) -> float:
        return self.info.memory_info().rss / 1e6

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()


async def orbit(view: client.RemoteView, seconds: float, centre: tuple[int, int], radius: int) -> None:
    """Drag in circles around ``centre``: a continuous orbit of the camera."""
    cx, cy = centre
    await view.mouse(MouseAction.DOWN, cx + radius, cy, MouseButton.LEFT, 1)
    started = time.monotonic()
    angle = 0.0
    while time.monotonic() - started < seconds:
        angle += 0.05
        await view.mouse(MouseAction.MOVE, round(cx + radius * math.cos(angle)),
                         round(cy + radius * math.sin(angle)), MouseButton.LEFT, 1)
        await asyncio.sleep(INPUT_INTERVAL)
    await view.mouse(MouseAction.UP, round(cx + radius * math.cos(angle)), round(cy + radius * math.sin(angle)))


async def collect_frames(view: client.RemoteView, stop: asyncio.Event) -> list[client.ReceivedFrame]:
    """Every frame the view shows until ``stop`` (the pictures are not kept)."""
    frames = []
    while not stop.is_set():
        try:
            frame = await view.next_frame(timeout=0.05)
        except TimeoutError:
            continue
        frame.image = None
        frames.append(frame)
    return frames


async def measure(url_of, encoder: str, width: int, height: int, viewers: int, areas: int, seconds: float,
                  service: ServiceProcess, scenario: str) -> Result:
    """Connect the viewers, orbit on each area for ``seconds``, gather the figures."""
    async with _connected(url_of, viewers, areas, width, height) as views:
        for view in views:  # settle: first frames, calibration, stills
            await view.latest_frame(settle=0.3)
            view.input_latencies_ms.clear()
        rss = [service.rss_mb()]
        stop = asyncio.Event()
        collectors = [asyncio.ensure_future(collect_frames(view, stop)) for view in views]
        drivers = [views[index] for index in range(0, len(views), viewers)]  # one per area
        cpu_before, rendered_before = service.cpu_seconds(), await _rendered(service.port)
        started = time.monotonic()
        tasks = [asyncio.ensure_future(orbit(v, seconds, (width // 2, height // 2), height // 4)) for v in drivers]
        while not all(t.done() for t in tasks):
            await asyncio.sleep(0.5)
            rss.append(service.rss_mb())
        last_input = time.monotonic()
        elapsed = last_input - started
        cpu = service.cpu_seconds() - cpu_before
        rendered = await _rendered(service.port) - rendered_before
        await asyncio.sleep(0.5)  # the still arrives within this (or it is late, and shows as such)
        stop.set()
        received = await asyncio.gather(*collectors)
        during = [f for frames in received for f in frames if f.received_at <= last_input]
        sizes = [len(f.frame.payload) for f in during]
        after = [f for f in received[0] if f.received_at > last_input and f.is_still]
        still_ms = (after[0].received_at - last_input) * 1000.0 if after else float("nan")
        shown = len(during)
        latencies = sorted(ms for view in views for ms in view.input_latencies_ms)
    quantile = (lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]) if latencies else (
        lambda q: float("nan"))
    return Result(scenario, encoder, f"{width}x{height}", viewers, areas, shown / len(views) / elapsed,
                  quantile(0.5), quantile(0.95), latencies[-1] if latencies else float("nan"),
                  statistics.fmean(sizes) if sizes else 0.0, cpu * 1000.0 / max(1, rendered), rendered,
                  still_ms, rss)


class _connected:
    """Open ``viewers`` views on each of ``areas`` render areas, closed on exit."""

    def __init__(self, url_of, viewers: int, areas: int, width: int, height: int) -> None:
        self._urls = [url_of(f"Area{a}", width, height) for a in range(areas) for _ in range(viewers)]
        self._stack: list = []

    async def __aenter__(self) -> list[client.RemoteView]:
        views = []
        for url in self._urls:
            context = client.connect(url, decoders=DECODERS)
            views.append(await context.__aenter__())
            self._stack.append(context)
        return views

    async def __aexit__(self, *exc: object) -> None:
        for context in reversed(self._stack):
            await context.__aexit__(None, None, None)


async def _rendered(port: int) -> int:
    """Frames rendered so far, from the service's Prometheus endpoint."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    text = (await reader.read()).decode()
    writer.close()
    for line in text.splitlines():
        if line.startswith("remoteviz_rendering_time_ms_count "):
            return int(float(line.split()[1]))
    return 0


MAX_FPS: int | None = None  # --max-fps: the HelloCone page's max_fps parameter, None for its default
SECONDS = 4.0  # --seconds


def _direct(port: int):
    cap = f"&max_fps={MAX_FPS}" if MAX_FPS else ""
    return lambda area, w, h: f"ws://127.0.0.1:{port}/{area}?width={w}&height={h}{cap}"


async def run_scenario(scenario: str, encoder: str, width: int, height: int, viewers: int, areas: int,
                       seconds: float, throttle: float | None = None, render_threads: int | None = None) -> Result:
    service = ServiceProcess(encoder, options=[] if render_threads is None else ["--render-threads", str(render_threads)])
    try:
        if throttle is None:
            result = await measure(_direct(service.port), encoder, width, height, viewers, areas, seconds, service,
                                   scenario)
            result.render_threads = "default" if render_threads is None else str(render_threads)
            return result
        async with ThrottledProxy("127.0.0.1", service.port, throttle) as proxy:
            return await measure(_direct(proxy.port), encoder, width, height, viewers, areas, seconds, service,
                                 scenario)
    finally:
        service.stop()


def scenarios(only: set[str], rounds: int = 1) -> list[tuple]:
    plan = []
    if "codecs" in only:
        for width, height in ((1280, 720), (1920, 1080)):
            for encoder in ("jpeg", "png", "h264", "vp9", "av1"):
                plan.append(("codec", encoder, width, height, 1, 1, None))
    if "viewers" in only:
        for viewers in (1, 4, 16):
            plan.append(("viewers", "jpeg", 1280, 720, viewers, 1, None))
    if "areas" in only:
        for _ in range(rounds):
            for areas in (1, 4, 2):  # one and four first, so that the pair compared is measured close together
                for render_threads in (1, None):
                    plan.append(("areas", "jpeg", 1280, 720, 1, areas, None, render_threads))
    if "throttled" in only:
        plan.append(("throttled 2MB/s", "jpeg", 1280, 720, 1, 1, 2_000_000))
        # HelloCone's JPEG frames need about 1.3 MB/s at 60 fps: a tighter link makes the
        # throttle bind, and the rate controller trade quality for rate.
        plan.append(("throttled 500kB/s", "jpeg", 1280, 720, 1, 1, 500_000))
    return plan


def print_table(results: list[Result]) -> None:
    header = (f"{'scenario':16} {'encoder':7} {'size':9} {'view':>4} {'area':>4} {'rthr':>7} {'fps':>6} "
              f"{'total':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'KB/frame':>8} {'cpu ms/f':>8} "
              f"{'still ms':>8} {'rss MB':>12}")
    print(header)
    for r in results:
        rss = f"{min(r.server_rss_mb):.0f}-{max(r.server_rss_mb):.0f}" if r.server_rss_mb else ""
        print(f"{r.scenario:16} {r.encoder:7} {r.size:9} {r.viewers:4d} {r.areas:4d} {r.render_threads:>7} "
              f"{r.fps:6.1f} {r.total_fps:6.1f} {r.latency_p50_ms:7.1f} {r.latency_p95_ms:7.1f} "
              f"{r.latency_max_ms:7.1f} {r.bytes_per_frame / 1024:8.1f} {r.server_cpu_ms_per_frame:8.1f} "
              f"{r.still_ms:8.1f} {rss:>12}")
    print_areas_summary(results)


def print_areas_summary(results: list[Result]) -> None:
    """4 busy areas' frames per second together against one area's, for each way of rendering
    (medians over the rounds), with the cores the service used meanwhile."""
    areas: dict[tuple[str, int], list[Result]] = {}
    for r in results:
        if r.scenario == "areas":
            areas.setdefault((r.render_threads, r.areas), []).append(r)

    def median(key: tuple[str, int], figure) -> float:
        return statistics.median(figure(r) for r in areas[key])

    def cores(r: Result) -> float:  # CPU seconds per second of orbit
        return r.server_cpu_ms_per_frame * r.frames_rendered / 1000.0 / SECONDS

    for threads in dict.fromkeys(t for t, _ in areas):
        if (threads, 1) in areas and (threads, 4) in areas:
            one, four = median((threads, 1), lambda r: r.total_fps), median((threads, 4), lambda r: r.total_fps)
            print(f"render threads {threads}: 4 busy areas {four:.1f} frames/s together "
                  f"({median((threads, 4), cores):.2f} cores), one area {one:.1f} "
                  f"({median((threads, 1), cores):.2f} cores): {four / one:.2f}x "
                  f"(medians of {len(areas[threads, 4])})")


def main(argv: list[str] | None = None) -> None:
    """Run the scenarios asked for and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="orbit time per scenario (default 4)")
    parser.add_argument("--only", default="codecs,viewers,areas,throttled",
                        help="comma-separated groups: codecs, viewers, areas, throttled")
    parser.add_argument("--max-fps", type=int, default=None,
                        help="ask HelloCone for this frame rate cap (default: its own, 60)")
    parser.add_argument("--rounds", type=int, default=1, help="times to measure the areas group (default 1)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    global MAX_FPS, SECONDS
    MAX_FPS, SECONDS = args.max_fps, args.seconds
    results = []
    for scenario in scenarios(set(args.only.split(",")), args.rounds):
        result = asyncio.run(run_scenario(*scenario[:6], args.seconds, *scenario[6:]))
        results.append(result)
        print(f"  done: {result.scenario} {result.encoder} {result.size} x{result.viewers}/{result.areas}",
              file=sys.stderr)
    print_table(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "when": datetime.now(UTC).isoformat(), "machine": platform.platform(),
        "cpus": psutil.cpu_count(), "seconds": args.seconds, "max_fps": args.max_fps, "results": [asdict(r) for r in results]},
        indent=2))
    print(f"results written to {args.output}")


if __name__ == "__main__":
    main()
