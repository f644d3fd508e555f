"""Browser benchmark: HelloCone in headless Chromium under a continuous orbit.

Starts the HelloCone service in a subprocess, opens its page in Debian's Chromium (Playwright),
drags in circles on the canvas for a fixed time, and prints (and writes as JSON) what the page
itself measured: frames painted per second, input-to-picture latency (from the input's send to the
decoded picture that shows it, p50/p95), bytes per frame, and how long after the mouse is released
the sharp still is painted. The browser shares the machine's cores with the service, as a user's
would not: this is the pessimistic figure.

    python -m benchmarks.browser [--seconds 5] [--encoders jpeg,h264] [--sizes 1280x720,1920x1080]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from playwright.sync_api import sync_playwright

from benchmarks.streaming import ServiceProcess

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
      value.addReceivedFrameListener((f) => record.received.push(f.byteLength));
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


def run(encoder: str, width: int, height: int, seconds: float) -> BrowserResult:
    """One encoder and size: open the page, orbit, read the page's figures."""
    service = ServiceProcess(encoder)
    try:
        return measure(f"http://127.0.0.1:{service.port}/", encoder, width, height, seconds)
    finally:
        service.stop()


def measure(base_url: str, encoder: str, width: int, height: int, seconds: float,
            **context_options: object) -> BrowserResult:
    """Open the HelloCone page at ``base_url`` in a fresh Chromium, orbit, read the page's figures.

    ``context_options`` go to Playwright's context (``ignore_https_errors=True`` for a
    self-signed certificate).
    """
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS,
            viewport={"width": width + 100, "height": height + 300}, **context_options)
        try:
            page = context.new_page()
            page.add_init_script(RECORD)
            page.goto(f"{base_url}?encoder={encoder}&width={width}&height={height}")
            # The page asks for 640x480; ask for the size being measured, like a resized view.
            page.wait_for_function("window.__bench.decoded.length > 0", timeout=30_000)
            page.evaluate(f"""() => {{ const view = document.getElementById('TheDiv');
                view.style.width = '{width}px'; view.style.height = '{height}px';
                theRenderArea.resizeRenderAreaContainer({width}, {height});
                theRenderArea.requestRenderAreaSize({width}, {height}); }}""")
            page.wait_for_function(f"theRenderArea.getRenderAreaWidth() === {width}", timeout=30_000)
            page.wait_for_timeout(500)
            box = page.locator(".remoteviz-view canvas").bounding_box()
            cx, cy, radius = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["height"] / 4
            start_count = page.evaluate("window.__bench.decoded.length")
            page.mouse.move(cx + radius, cy)
            page.mouse.down()
            started = time.monotonic()
            angle = 0.0
            while time.monotonic() - started < seconds:
                angle += 0.05
                page.mouse.move(cx + radius * math.cos(angle), cy + radius * math.sin(angle))
            elapsed = time.monotonic() - started
            released = page.evaluate("performance.now()")
            page.mouse.up()
            page.wait_for_timeout(1000)
            record = page.evaluate("window.__bench")
        finally:
            context.close()
    during = [d for d in record["decoded"][start_count:] if d["t"] <= released]
    latencies = sorted(d["latency"] for d in during if d["latency"] is not None)
    stills = [d["t"] for d in record["decoded"] if d["t"] > released and d["still"]]
    sizes = record["received"][start_count:start_count + len(during)]
    quantile = (lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]) if latencies else (
        lambda q: float("nan"))
    return BrowserResult(encoder, f"{width}x{height}", len(during) / elapsed, quantile(0.5), quantile(0.95),
                         statistics.fmean(sizes) if sizes else 0.0,
                         stills[0] - released if stills else float("nan"),
                         statistics.fmean(d["decode"] for d in during) if during else float("nan"))


def main(argv: list[str] | None = None) -> None:
    """Run every encoder at every size and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--encoders", default="jpeg,h264")
    parser.add_argument("--sizes", default="1280x720,1920x1080")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    results = []
    print(f"{'encoder':8} {'size':10} {'fps':>6} {'p50 ms':>7} {'p95 ms':>7} {'KB/frame':>8} {'still ms':>8} "
          f"{'decode ms':>9}")
    for size in args.sizes.split(","):
        width, height = map(int, size.split("x"))
        for encoder in args.encoders.split(","):
            r = run(encoder, width, height, args.seconds)
            results.append(r)
            print(f"{r.encoder:8} {r.size:10} {r.fps:6.1f} {r.latency_p50_ms:7.1f} {r.latency_p95_ms:7.1f} "
                  f"{r.bytes_per_frame / 1024:8.1f} {r.still_ms:8.1f} {r.decode_ms:9.1f}", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps([asdict(r) for r in results], indent=2))
    print(f"results written to {args.output}")


if __name__ == "__main__":
    main()
