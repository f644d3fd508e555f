"""Browser benchmark: HelloCone in headless Chromium, measured the way a peer is measured.

Starts the HelloCone service in a subprocess, opens its page in Debian's Chromium (Playwright)
with a render area of exactly the size asked for, shown one to one (one canvas pixel per CSS
pixel, checked and reported), and prints (and writes as JSON):

- fps: frames painted per second during a continuous orbit (drag in circles);
- drag p50/p95: input-to-picture latency during that orbit (from the input's send to the decoded
  picture that shows it, as the page measures it);
- isolated p50: the same for one small move a second, the pipeline idle in between;
- server CPU per frame: the service process's CPU time over the orbit / frames it rendered;
- browser CPU per frame: Chromium's processes' CPU time over the orbit / frames painted (decode,
  paint, compositing, and the page's handling of the input events);
- bytes per frame, and how long after the mouse is released the sharp still is painted;
- with cost-aware scaling off and on (``ConnectionSettings.cost_aware_scaling``, the page's
  ``cost_aware`` parameter), at one target rate (``--fps``, the page's ``fps``): the scale column
  is the mean width of the pictures painted during the orbit over the render area's.

The browser shares the machine's cores with the service, as a user's would not: this is the
pessimistic figure.

    python -m benchmarks.browser [--seconds 5] [--isolated 5] [--encoders jpeg,h264]
                                 [--sizes 1280x636,1920x996] [--cost-aware off,on] [--fps 60]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import math
import statistics
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psutil
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from benchmarks.streaming import ServiceProcess, _rendered

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DEFAULT_OUTPUT = Path(__file__).parent / "results" / "browser.json"

RECORD = r"""
(() => {
  const record = { decoded: [], received: [] };
  window.__bench = record;
  let area = null;
  Object.defineProperty(window, "theRenderArea", {
    configurable: true,
    get() { return area; },
    set(value) {
      area = value;
      value.addDecodedFrameListener((f) => record.decoded.push({ t: performance.now(), still: f.still, decode: f.decodeMs,
                                                                   latency: f.inputLatencyMs }));
      value.addReceivedFrameListener((f) => record.received.push({ bytes: f.byteLength, width: f.width }));
    },
  });
})();
"""


@dataclass
class BrowserResult:
    """What the page measured for one encoder and size."""

    encoder: str
    size: str
    fps: float
    latency_p50_ms: float
    latency_p95_ms: float
    bytes_per_frame: float
    still_ms: float
    decode_ms: float  # the page's decode and paint time, mean
    isolated_latency_p50_ms: float = float("nan")  # one small move a second, pipeline idle
    server_cpu_ms_per_frame: float = float("nan")  # service CPU over the orbit / frames rendered
    one_to_one: bool = False  # the canvas has exactly the size asked for, in canvas and CSS pixels
    cost_aware: bool | None = None  # cost-aware scaling asked for (None: the page's default)
    interactive_scale: float = float("nan")  # mean picture width over the area's during the orbit
    browser_cpu_ms_per_frame: float = float("nan")  # Chromium's CPU over the orbit / frames painted


def run(encoder: str, width: int, height: int, seconds: float, isolated: int = 5,
        cost_aware: bool | None = None, fps: int | None = None) -> BrowserResult:
    """One encoder and size: open the page, orbit, read the page's figures and the service's CPU.

    ``cost_aware`` and ``fps`` (the target rate) go to the page as its connection parameters.
    """
    service = ServiceProcess(encoder)
    parameters = {} if fps is None else {"fps": fps}
    if cost_aware is not None:
        parameters["cost_aware"] = int(cost_aware)
    try:
        result = measure(f"http://127.0.0.1:{service.port}/", encoder, width, height, seconds,
                         service=service, isolated=isolated, parameters=parameters)
        result.cost_aware = cost_aware
        return result
    finally:
        service.stop()


def measure(base_url: str, encoder: str, width: int, height: int, seconds: float,
            service: ServiceProcess | None = None, isolated: int = 0,
            parameters: Mapping[str, object] | None = None, **context_options: object) -> BrowserResult:
    """Open the HelloCone page at ``base_url`` in a fresh Chromium, orbit, read the page's figures.

    With ``service`` (the process behind ``base_url``) its CPU per rendered frame is measured over
    the orbit; ``isolated`` small moves, one a second, measure the idle pipeline's latency;
    ``parameters`` are more connection parameters for the page's query.
    ``context_options`` go to Playwright's context (``ignore_https_errors=True`` for a
    self-signed certificate).
    """
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS,
            viewport={"width": width + 100, "height": height + 300},
            # Playwright's wait_for_function evaluates its predicate in the page, which the
            # service's Content-Security-Policy (no 'unsafe-eval') forbids: as the browser tests do.
            **{"bypass_csp": True, **context_options})
        try:
            page = context.new_page()
            page.add_init_script(RECORD)
            query = urlencode({"encoder": encoder, "width": width, "height": height, **(parameters or {})})
            page.goto(f"{base_url}?{query}")
            # The page asks for 640x480; ask for the size being measured, like a resized view.
            page.wait_for_function("window.__bench.decoded.length > 0", timeout=30_000)
            page.evaluate(f"""() => {{ const view = document.getElementById('TheDiv');
                view.style.width = '{width}px'; view.style.height = '{height}px';
                theRenderArea.resizeRenderAreaContainer({width}, {height});
                theRenderArea.requestRenderAreaSize({width}, {height}); }}""")
            page.wait_for_function(f"theRenderArea.getRenderAreaWidth() === {width}", timeout=30_000)
            page.wait_for_timeout(500)
            canvas = page.locator(".remoteviz-view canvas").first
            box = canvas.bounding_box()
            pixels = canvas.evaluate("(c) => [c.width, c.height, window.devicePixelRatio]")
            one_to_one = (pixels == [width, height, 1] and round(box["width"]) == width
                          and round(box["height"]) == height)
            cx, cy, radius = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["height"] / 4
            isolated_latencies = _isolated_latencies(page, cx, cy, isolated)
            start_count = page.evaluate("window.__bench.decoded.length")
            page.mouse.move(cx + radius, cy)
            page.mouse.down()
            if service is not None:
                cpu_before, rendered_before = service.cpu_seconds(), _frames_rendered(service.port)
            browser_before = _browser_cpu_seconds(profile)
            started = time.monotonic()
            angle = 0.0
            while time.monotonic() - started < seconds:
                angle += 0.05
                page.mouse.move(cx + radius * math.cos(angle), cy + radius * math.sin(angle))
            elapsed = time.monotonic() - started
            cpu = service.cpu_seconds() - cpu_before if service is not None else float("nan")
            browser_cpu = _browser_cpu_seconds(profile) - browser_before
            # Release at once: reading the service's frame count takes long enough for the still of
            # the last move to come before the mouse-up, which would flatter the time to the still.
            released = page.evaluate("performance.now()")
            page.mouse.up()
            cpu_ms = float("nan")
            if service is not None:
                cpu_ms = cpu * 1000.0 / max(1, _frames_rendered(service.port) - rendered_before)
            page.wait_for_timeout(1000)
            record = page.evaluate("window.__bench")
        finally:
            context.close()
    during = [d for d in record["decoded"][start_count:] if d["t"] <= released]
    latencies = sorted(d["latency"] for d in during if d["latency"] is not None)
    stills = [d["t"] for d in record["decoded"] if d["t"] > released and d["still"]]
    received = record["received"][start_count:start_count + len(during)]
    sizes = [r["bytes"] for r in received]
    quantile = (lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]) if latencies else (
        lambda q: float("nan"))
    return BrowserResult(encoder, f"{width}x{height}", len(during) / elapsed, quantile(0.5), quantile(0.95),
                         statistics.fmean(sizes) if sizes else 0.0,
                         stills[0] - released if stills else float("nan"),
                         statistics.fmean(d["decode"] for d in during) if during else float("nan"),
                         statistics.median(isolated_latencies) if isolated_latencies else float("nan"),
                         cpu_ms, one_to_one,
                         interactive_scale=statistics.fmean(r["width"] / width for r in received) if received
                         else float("nan"),
                         browser_cpu_ms_per_frame=browser_cpu * 1000.0 / max(1, len(during)))


def _browser_cpu_seconds(profile: str) -> float:
    """CPU time so far of the Chromium started with ``profile`` and of its child processes."""
    total = 0.0
    for process in psutil.process_iter(["cmdline"]):
        if any(profile in part for part in process.info["cmdline"] or ()):
            with contextlib.suppress(psutil.Error):
                for each in [process, *process.children(recursive=True)]:
                    times = each.cpu_times()
                    total += times.user + times.system
            break
    return total


def _frames_rendered(port: int) -> int:
    """The service's count of rendered frames, read on a thread of its own: Playwright's sync API
    runs an event loop on this one."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _rendered(port)).result()


def _isolated_latencies(page: Any, cx: float, cy: float, moves: int) -> list[float]:
    """Input-to-picture latency of ``moves`` small drags, one a second: each starts with the
    pipeline idle (the still of the one before painted long ago)."""
    latencies = []
    page.mouse.move(cx, cy)
    page.mouse.down()
    try:
        for index in range(moves):
            page.wait_for_timeout(1000)
            count = page.evaluate("window.__bench.decoded.length")
            page.mouse.move(cx + 3 * (1 if index % 2 else -1), cy)
            try:
                page.wait_for_function(
                    f"window.__bench.decoded.slice({count}).some((d) => d.latency !== null)", timeout=10_000)
            except PlaywrightTimeout:
                continue  # no picture showed that move: counted as missing, not as a time
            shown = page.evaluate(f"window.__bench.decoded.slice({count}).find((d) => d.latency !== null)")
            latencies.append(shown["latency"])
    finally:
        page.mouse.up()
    page.wait_for_timeout(1000)
    return latencies


def main(argv: list[str] | None = None) -> None:
    """Run every encoder at every size and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="orbit time per case")
    parser.add_argument("--isolated", type=int, default=5, help="isolated moves (one a second) per case")
    parser.add_argument("--encoders", default="jpeg,h264")
    parser.add_argument("--sizes", default="1280x636,1920x996")
    parser.add_argument("--cost-aware", default="off,on", help="cost-aware scaling off, on, or both in turn")
    parser.add_argument("--fps", type=int, default=60, help="the target rate the page asks for (1..60)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    results = []
    print(f"{'encoder':8} {'size':10} {'cost':>4} {'1:1':>3} {'fps':>6} {'scale':>5} {'iso p50':>7} {'drag p50':>8} {'drag p95':>8} "
          f"{'cpu ms/f':>8} {'KB/frame':>8} {'still ms':>8} {'decode ms':>9} {'browser ms/f':>12}")
    for size in args.sizes.split(","):
        width, height = map(int, size.split("x"))
        for encoder in args.encoders.split(","):
            for cost_aware in args.cost_aware.split(","):
                r = run(encoder, width, height, args.seconds, args.isolated, cost_aware == "on", args.fps)
                results.append(r)
                print(f"{r.encoder:8} {r.size:10} {cost_aware:>4} {'yes' if r.one_to_one else 'NO':>3} {r.fps:6.1f} "
                      f"{r.interactive_scale:5.2f} "
                      f"{r.isolated_latency_p50_ms:7.1f} {r.latency_p50_ms:8.1f} {r.latency_p95_ms:8.1f} "
                      f"{r.server_cpu_ms_per_frame:8.1f} {r.bytes_per_frame / 1024:8.1f} {r.still_ms:8.1f} "
                      f"{r.decode_ms:9.1f} {r.browser_cpu_ms_per_frame:12.1f}", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps([asdict(r) for r in results], indent=2))
    print(f"results written to {args.output}")


if __name__ == "__main__":
    main()
