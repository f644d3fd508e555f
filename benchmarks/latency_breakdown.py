"""Where the time of one isolated input goes, from the browser's event to the painted picture.

Runs HelloCone in a subprocess with timestamps taken on the service's threads, opens its page in
headless Chromium at one size and encoder, and makes ``--moves`` small drags, one a second, the
pipeline idle in between (the isolated moves of :mod:`benchmarks.browser`). For each move it
lines up, on one clock:

- browser: Playwright asks for the move; the pointer event is dispatched (``pointerrawupdate``);
  the input message is handed to the WebSocket;
- service: the network thread has the message; the dispatch thread routes it (the examiner takes
  it); rendering starts and ends; the encode is handed to an encoder thread; the encode is back on
  the dispatch thread and the frame is handed to the network thread;
- browser: the frame arrives (``onmessage``); the picture is decoded (``drawImage`` starts); it is
  drawn on the canvas (the page's latency stops there); the next animation frame after that.

Service and browser run on this machine, so both read the wall clock: the service stamps
``time.time()``, the page ``performance.timeOrigin + performance.now()``, and the offset between
the two (the page's clock is set at navigation) is measured around ``page.evaluate`` calls, to
about a millisecond. The median of each step over the moves is printed.

``--idle`` measures, in this process, what the biggest step costs warm and after idle: an
interactive HelloCone frame rendered right after another, and one rendered after a pause, the
two taking turns.

    python -m benchmarks.latency_breakdown [--moves 10] [--encoder jpeg] [--size 1280x636]
                                           [--render-threads N] [--idle]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from playwright.sync_api import sync_playwright

from benchmarks.browser import launch, open_view
from benchmarks.streaming import ServiceProcess

SERVICE_STAGES = ("received", "routed", "render_start", "render_end", "encode_start", "encoded")
"""The service's timestamps of one move, in order (see :class:`Trace`)."""

STEPS = (
    ("asked", "event", "Playwright's move to the pointer event (browser input)"),
    ("event", "ws_send", "pointer event to the WebSocket send (page's input path)"),
    ("ws_send", "received", "WebSocket send to the service's network thread (transport)"),
    ("received", "routed", "network thread to the dispatch thread taking the move"),
    ("routed", "render_start", "the move taken to rendering starting (scheduling)"),
    ("render_start", "render_end", "render and readback"),
    ("render_end", "encode_start", "rendered to the encode handed over"),
    ("encode_start", "encoded", "encode, back on the dispatch thread"),
    ("encoded", "arrived", "handed to the network thread to the page's onmessage"),
    ("arrived", "decoded", "decode (createImageBitmap)"),
    ("decoded", "drawn", "drawImage on the canvas"),
    ("drawn", "frame", "to the next animation frame"),
)

PAGE_TRACE = r"""
(() => {
  const t = () => performance.timeOrigin + performance.now();
  const trace = { events: [], sends: [], arrived: [], decoded: [], drawn: [], frames: [] };
  window.__trace = trace;
  addEventListener("pointerrawupdate", () => trace.events.push(t()), { capture: true });
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (typeof data === "string" && data.includes('"mouse"')) trace.sends.push(t());
    return send.call(this, data);
  };
  const draw = CanvasRenderingContext2D.prototype.drawImage;
  CanvasRenderingContext2D.prototype.drawImage = function (...args) {
    trace.decoded.push(t());
    const result = draw.apply(this, args);
    trace.drawn.push(t());
    requestAnimationFrame(() => trace.frames.push(t()));
    return result;
  };
  const onmessage = Object.getOwnPropertyDescriptor(WebSocket.prototype, "onmessage");
  Object.defineProperty(WebSocket.prototype, "onmessage", {
    configurable: true,
    get() { return onmessage.get.call(this); },
    set(handler) {
      onmessage.set.call(this, (event) => {
        if (typeof event.data !== "string") trace.arrived.push(t());
        return handler(event);
      });
    },
  });
})();
"""


class Trace:
    """The service side: writes ``stage time`` lines, the time being ``time.time()``.

    ``received`` is stamped on the network thread as a mouse move is posted to the dispatch thread,
    the others on the dispatch thread by listeners: ``routed`` (``on_mouse_move``), ``render_start``
    and ``render_end`` (``on_pre_render``, ``on_post_render``), ``encode_start``
    (``on_sending_frame``) and ``encoded`` (``on_measured_encoding_time``, just before the frame is
    handed to the network thread).
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def stamp(self, stage: str) -> None:
        """Write one timestamp of ``stage``, now."""
        now = time.time()
        with self._lock:
            self._out.write(f"{stage} {now:.6f}\n")
            self._out.flush()


def serve(argv: list[str]) -> None:
    """The traced HelloCone service (run in the subprocess): ``--trace FILE`` then HelloCone's options."""
    import remoteviz as rv
    from examples.hello_cone import hello_cone
    from remoteviz.protocol import Input
    from remoteviz.transport import Link, Pending

    parser = argparse.ArgumentParser()
    parser.add_argument("--trace", type=Path, required=True)
    parser.add_argument("--render-threads", type=int)
    ours, rest = parser.parse_known_args(argv)
    trace = Trace(ours.trace.open("w"))

    class TracedService(rv.Service):
        """Stamps each input as the network thread posts it."""

        def link_message(self, link: Link, pending: Pending) -> None:
            if isinstance(pending.message, Input):
                trace.stamp("received")
            super().link_message(link, pending)

    class Stamps(rv.RenderAreaListener, rv.MetricsListener):
        def on_mouse_move(self, render_area: rv.RenderArea, connection: rv.Connection, x: int, y: int,
                          *, event: rv.MouseEvent) -> bool:
            trace.stamp("routed")
            return True

        def on_pre_render(self, render_area: rv.RenderArea) -> bool:
            trace.stamp("render_start")
            return True

        def on_post_render(self, render_area: rv.RenderArea) -> None:
            trace.stamp("render_end")

        def on_sending_frame(self, render_area: rv.RenderArea, connection: rv.Connection) -> str | None:
            trace.stamp("encode_start")
            return None

        def on_measured_encoding_time(self, milliseconds: float, connection: rv.Connection) -> None:
            trace.stamp("encoded")

    class Listener(hello_cone.HelloConeServiceListener):
        def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
            super().on_instantiated_render_area(render_area)
            render_area.add_listener(stamps)

    stamps = Stamps()
    args = hello_cone.parse_args(rest)
    service = TracedService.instance()
    service.add_listener(Listener(args.encoder))
    service.get_monitoring().add_listener(stamps)
    settings = hello_cone.settings_from(args)
    if ours.render_threads is not None:
        settings.render_threads = ours.render_threads
    service.run(settings)


def clock_offset(page: Any, samples: int = 20) -> float:
    """Seconds to add to the page's clock (``timeOrigin + now()``, ms) to get ``time.time()``."""
    best = (float("inf"), 0.0)
    for _ in range(samples):
        before = time.time()
        page_ms = page.evaluate("performance.timeOrigin + performance.now()")
        after = time.time()
        best = min(best, (after - before, (before + after) / 2 - page_ms / 1000.0))
    return best[1]


def breakdown(encoder: str, width: int, height: int, moves: int,
              render_threads: int | None = None) -> list[dict[str, float]]:
    """One timeline per isolated move: stage -> milliseconds since Playwright asked for the move.

    ``render_threads``: the service's ``ServiceSettings.render_threads`` (None: its default)."""
    with tempfile.TemporaryDirectory() as scratch:
        trace_file = Path(scratch) / "trace.txt"
        service = ServiceProcess(encoder, [sys.executable, "-m", "benchmarks.latency_breakdown",
                                           "--serve", "--trace", str(trace_file),
                                           *([] if render_threads is None else
                                             ["--render-threads", str(render_threads)])])
        try:
            with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
                context = launch(playwright, profile, width, height)
                try:
                    page, box, _ = open_view(context, f"http://127.0.0.1:{service.port}/", encoder, width, height,
                                             init_script=PAGE_TRACE)
                    asked = _move(page, box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, moves)
                    offset = clock_offset(page)
                    page_trace = page.evaluate("window.__trace")
                finally:
                    context.close()
        finally:
            service.stop()
        served: dict[str, list[float]] = {stage: [] for stage in SERVICE_STAGES}
        for line in trace_file.read_text().splitlines():
            stage, stamp = line.split()
            served[stage].append(float(stamp))
    on_server_clock = {name: [ms / 1000.0 + offset for ms in page_trace[key]]
                       for name, key in (("event", "events"), ("ws_send", "sends"), ("arrived", "arrived"),
                                         ("decoded", "decoded"), ("drawn", "drawn"), ("frame", "frames"))}
    timelines = []
    for start in asked:
        timeline = {"asked": start}
        for name in ("event", "ws_send", *SERVICE_STAGES, "arrived", "decoded", "drawn", "frame"):
            stamps = on_server_clock.get(name) or served[name]
            # Each stage's first stamp after the one before: the clocks agree to about a
            # millisecond, so a stamp may be that much early.
            later = [s for s in stamps if s >= max(timeline.values()) - 0.002]
            if not later:
                break
            timeline[name] = later[0]
        else:
            timelines.append({name: (stamp - start) * 1000.0 for name, stamp in timeline.items()})
    return timelines


def render_after_idle(width: int, height: int, rounds: int = 15,
                      pauses: tuple[float, ...] = (0.0, 0.02, 0.1, 0.3, 1.0)) -> dict[float, float]:
    """Median ms of an interactive HelloCone frame (``SceneManager.render``) after each pause in
    seconds, the pauses taking turns (0: right after another frame)."""
    from benchmarks.render import hello_cone
    from remoteviz.rendering import SceneManager

    scene = SceneManager()
    scene.scene_graph = hello_cone()
    for _ in range(5):
        scene.render(width, height, interactive=True)
    times: dict[float, list[float]] = {pause: [] for pause in pauses}
    for _ in range(rounds):
        for pause in pauses:
            if pause:
                time.sleep(pause)
            else:
                scene.render(width, height, interactive=True)
            started = time.perf_counter()
            scene.render(width, height, interactive=True)
            times[pause].append((time.perf_counter() - started) * 1000.0)
    return {pause: statistics.median(ms) for pause, ms in times.items()}


def _move(page: Any, cx: float, cy: float, moves: int) -> list[float]:
    """Press, then ``moves`` small moves a second apart; the times each was asked for (``time.time()``)."""
    asked = []
    page.mouse.move(cx, cy)
    page.mouse.down()
    for index in range(moves):
        page.wait_for_timeout(1000)
        asked.append(time.time())
        page.mouse.move(cx + 3 * (1 if index % 2 else -1), cy)
    page.wait_for_timeout(1000)
    page.mouse.up()
    return asked


def main(argv: list[str] | None = None) -> None:
    """Print the median of each step of an isolated move, and the moves' timelines as JSON."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve"]:
        serve(argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=10)
    parser.add_argument("--encoder", default="jpeg")
    parser.add_argument("--size", default="1280x636")
    parser.add_argument("--render-threads", type=int, help="the service's render threads (default: its own)")
    parser.add_argument("--idle", action="store_true", help="only the in-process render, warm and after idle")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "latency_breakdown.json")
    args = parser.parse_args(argv)
    width, height = map(int, args.size.split("x"))
    if args.idle:
        for pause, ms in render_after_idle(width, height).items():
            print(f"interactive frame {pause * 1000:6.0f} ms after the one before: {ms:6.1f} ms")
        return
    timelines = breakdown(args.encoder, width, height, args.moves, args.render_threads)
    print(f"{len(timelines)} of {args.moves} moves traced end to end; median ms")
    print(f"{'step':64} {'ms':>6} {'at':>6}")
    for before, after, what in STEPS:
        step = statistics.median(t[after] - t[before] for t in timelines) if timelines else float("nan")
        at = statistics.median(t[after] for t in timelines) if timelines else float("nan")
        print(f"{what:64} {step:6.1f} {at:6.1f}")
    if timelines:
        print(f"{'page latency (WebSocket send to drawn)':64} "
              f"{statistics.median(t['drawn'] - t['ws_send'] for t in timelines):6.1f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(timelines, indent=2))


if __name__ == "__main__":
    main()
