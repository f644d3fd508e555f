"""trame's ``VtkLocalView`` as a peer of client-side rendering (issue #22), in headless Chromium.

For each mesh (the tori of ``benchmarks.csr``, built by its ``torus``), two pages in one run, one
after the other, each with its server in a subprocess of its own (its CPU is its own):

- trame: a trame app (trame, trame-vtk, VTK) whose page holds one ``VtkLocalView`` of the mesh
  (points as float32, triangles, no normals: the least a user sends; vtk.js draws it with WebGL);
- remoteviz: ``benchmarks.csr``'s service, its built-in viewer page opened with ``?render=client``.

Each page is opened in Debian's Chromium (Playwright, WebGL2 through SwiftShader), its view
1280x636, and measured from the same script:

- bytes: what the server's WebSockets sent, counted on the wire by a TCP relay between page and
  server (``WireCounter``: after trame's per-message deflate, which remoteviz's server does not
  use since its buffers come deflated), until the first picture, until full detail and in all
  once loaded; beside it the payload as the page's WebSocket hands it over (counted in the page),
  and of that remoteviz's network calibration (padded pings at connection, before anything else);
- first picture: the time from navigation until a canvas of the page first shows more than 1% of
  its pixels off its background (polled in the page every 20 ms; WebGL canvases are made with
  ``preserveDrawingBuffer`` so that they can be read); remoteviz's first picture can be the
  service's frame, which the page shows while the geometry loads;
- full detail: trame's first picture is its only one (vtk.js draws once the whole scene is in);
  remoteviz's is the moment its page draws the model itself (``getRenderMode() === "client"``,
  polled in the page every 20 ms), the bytes sent by then;
- orbit CPU: the server process's CPU time during an orbit (mouse drags in circles in the page,
  back to back) over its length, in % of one core, for this one viewer; each drag waits for the
  page to take it, so SwiftShader's drawing sets how many a second there are (printed).

A page that does not show a picture within ``--timeout`` seconds, crashes, or whose server dies is
reported as failed, with what the page's console and the server said.

    python -m benchmarks.csr_trame [--sizes 20k,200k,1m,5m] [--peers trame,remoteviz]
                                   [--orbit-seconds 10] [--timeout 300]

The browser shares the machine's cores with the servers (SwiftShader draws on the CPU), and other
work on the machine moves every figure: compare within one run only. Needs the ``bench`` extra
(``pip install remoteviz[bench]``: trame, trame-vtk, VTK).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import IO, Any

import psutil

from benchmarks.csr import MODELS, cpu_seconds, start_service

CHROMIUM = "/usr/bin/chromium"
# WebGL2 in headless Chromium needs SwiftShader through ANGLE (tests/browser/test_client_side_rendering.py).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
WIDTH, HEIGHT = 1280, 636
MESHES = [name for name, (kind, _) in MODELS.items() if kind == "mesh"]

TRAME_APP = textwrap.dedent(f"""
    import sys

    import numpy as np
    from trame.app import get_server
    from trame.ui.html import DivLayout
    from trame.widgets import vtk as vtk_widgets
    from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray
    from vtkmodules.vtkCommonCore import vtkPoints
    from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
    from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper, vtkRenderer, vtkRenderWindow
    import vtkmodules.vtkRenderingOpenGL2  # noqa: F401 (the render window's implementation; it never renders here)

    from benchmarks.csr import torus

    count, port = int(sys.argv[1]), int(sys.argv[2])
    del sys.argv[1:]  # trame parses the command line too
    vertices, faces = torus(count)
    points = vtkPoints()
    points.SetData(numpy_to_vtk(vertices.astype(np.float32), deep=True))
    cells = vtkCellArray()
    cells.SetData(numpy_to_vtkIdTypeArray(np.arange(0, faces.size + 1, 3, dtype=np.int64), deep=True),
                  numpy_to_vtkIdTypeArray(faces.reshape(-1).astype(np.int64), deep=True))
    mesh = vtkPolyData()
    mesh.SetPoints(points)
    mesh.SetPolys(cells)
    mapper = vtkPolyDataMapper()
    mapper.SetInputData(mesh)
    actor = vtkActor()
    actor.SetMapper(mapper)
    renderer = vtkRenderer()
    renderer.AddActor(actor)
    renderer.ResetCamera()
    window = vtkRenderWindow()
    window.AddRenderer(renderer)
    window.SetOffScreenRendering(1)

    server = get_server(client_type="vue3")
    with DivLayout(server) as layout:
        vtk_widgets.VtkLocalView(window, style="position: fixed; left: 0; top: 0; width: {WIDTH}px; height: {HEIGHT}px;")
    print("READY", flush=True)
    server.start(host="127.0.0.1", port=port, open_browser=False, show_connection_info=False)
""")

# Run before the page's scripts: counts what every WebSocket of the page receives, with the time;
# notes when a canvas of the page first shows a picture (WebGL canvases keep their drawing buffer,
# so that it can be read back) and when remoteviz's page first draws the model itself.
RECORD = r"""
(() => {
  const record = { log: [], pictureAt: null, clientAt: null };
  window.__bench = record;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        const data = event.data;
        const bytes = typeof data === "string" ? data.length : (data.byteLength ?? data.size);
        // remoteviz's network calibration: padded pings, before anything else
        const calibration = typeof data === "string" && data.startsWith('{"type":"ping"');
        record.log.push([Date.now(), bytes, calibration]);
      });
    }
  };
  const getContext = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (type, options) {
    const webgl = type === "webgl" || type === "webgl2";
    return getContext.call(this, type, webgl ? { ...options, preserveDrawingBuffer: true } : options);
  };
  // More than 1% of a canvas's pixels (sampled at 128x64) off its corner's colour: a picture.
  const sample = document.createElement("canvas");
  sample.width = 128;
  sample.height = 64;
  const context = sample.getContext("2d", { willReadFrequently: true });
  const shows = (canvas) => {
    if (canvas === sample || canvas.width < 16 || canvas.height < 16) return false;
    context.clearRect(0, 0, 128, 64);
    context.drawImage(canvas, 0, 0, 128, 64);
    const pixels = context.getImageData(0, 0, 128, 64).data;
    let off = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      const d = Math.abs(pixels[i] - pixels[0]) + Math.abs(pixels[i + 1] - pixels[1]) + Math.abs(pixels[i + 2] - pixels[2])
        + Math.abs(pixels[i + 3] - pixels[3]);
      if (d > 30) off += 1;
    }
    return off > 0.01 * 128 * 64;
  };
  const poll = setInterval(() => {
    if (record.pictureAt === null && [...document.querySelectorAll("canvas")].some(shows)) record.pictureAt = Date.now();
    if (record.clientAt === null && window.theRenderArea?.getRenderMode?.() === "client") record.clientAt = Date.now();
    if (record.pictureAt !== null && (record.clientAt !== null || !window.theRenderArea)) clearInterval(poll);
  }, 20);
})();
"""


@dataclass
class PeerResult:
    """What one page measured for one mesh."""

    peer: str
    mesh: str
    loaded: bool = False
    first_s: float = math.nan  # navigation to the first picture
    first_bytes: int = 0  # WebSocket bytes on the wire by then
    full_s: float = math.nan  # navigation to full detail
    full_bytes: int = 0
    total_bytes: int = 0  # WebSocket bytes on the wire once loaded (a second after full detail)
    payload_bytes: int = 0  # the same as the page's WebSocket handed them over (inflated, unframed)
    calibration_bytes: int = 0  # of the payload, remoteviz's network calibration (padded pings, sent first)
    http_bytes: int = 0  # the page itself (HTML, scripts) over HTTP
    orbit_cpu: float = math.nan  # server CPU seconds per second of orbit
    orbit_moves: int = 0
    view: str = ""  # the view's size as drawn, width x height
    failure: str = ""  # why it did not load
    notes: list[str] = field(default_factory=list)


class WireCounter:
    """A TCP relay on loopback between the page and a server that counts the bytes the server sends,
    as they go on the wire: after the WebSocket's own compression (trame's server deflates each
    message, remoteviz's does not), with framing. ``log`` holds ``(time.time(), bytes, websocket)``
    per read, ``websocket`` telling a WebSocket's connection from the page's HTTP requests."""

    def __init__(self, upstream_port: int) -> None:
        self.log: list[tuple[float, int, bool]] = []
        self._relays: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._upstream = upstream_port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wire-counter", daemon=True)
        self._thread.start()
        self._ready.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._relay, "127.0.0.1", 0))
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._ready.set()
        self._loop.run_forever()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        relay = asyncio.current_task()
        assert relay is not None
        self._relays.add(relay)
        relay.add_done_callback(self._relays.discard)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, upstream_writer))
        request = await reader.read(65536)
        websocket = b"upgrade: websocket" in request.lower()
        upstream_writer.write(request)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, count: bool) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(1 << 20):
                    if count:
                        self.log.append((time.time(), len(data), websocket))
                    sink.write(data)
                    await sink.drain()
            sink.close()

        try:
            await asyncio.gather(pipe(reader, upstream_writer, False), pipe(upstream_reader, writer, True))
        finally:
            writer.close()
            upstream_writer.close()

    def websocket_bytes(self, until: float = math.inf) -> int:
        """What the server's WebSockets sent by ``until`` (``time.time()``)."""
        return sum(size for at, size, websocket in list(self.log) if websocket and at <= until)

    def http_bytes(self) -> int:
        """What the server sent as the page's HTTP responses."""
        return sum(size for _, size, websocket in list(self.log) if not websocket)

    def close(self) -> None:
        """Stops relaying: every connection through it is closed."""

        async def stop() -> None:
            self._server.close()
            for writer in self._writers:
                writer.close()  # each relay's reads then end
            if self._relays:
                await asyncio.wait(list(self._relays), timeout=5)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_trame(count: int, timeout: float, output: IO[str]) -> tuple[subprocess.Popen[str], int]:
    """The trame app of a ``count``-triangle torus, its page answering on the port returned; what
    it prints goes to ``output`` (a file: a pipe nobody reads could fill and stop it)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", TRAME_APP, str(count), str(port)], stdout=output,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the trame app exited")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5):
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    process.wait()
    raise RuntimeError("the trame app did not answer")


def wait_quiet(process: psutil.Process, limit_s: float = 60.0) -> None:
    """Until the server's CPU falls under 10% of a core for half a second (work left from the load
    must not count against the orbit), or ``limit_s`` passes."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = cpu_seconds(process)
        time.sleep(0.5)
        if cpu_seconds(process) - before < 0.05:
            return


def bytes_until(log: list[list[Any]], until_ms: float, calibration: bool | None = None) -> int:
    """The bytes of the page's ``log`` received by ``until_ms``: all, or only those of the network
    calibration or only the others."""
    return int(sum(size for at, size, ping in log if at <= until_ms and calibration in (None, ping)))


def measure(browser: Any, peer: str, mesh: str, url: str, view: str, process: psutil.Process,
            wire: WireCounter, orbit_seconds: float, timeout: float) -> PeerResult:
    """Open ``url``, wait for the first picture and full detail, then orbit in ``view`` (a CSS selector)."""
    from playwright.sync_api import Error as PlaywrightError

    result = PeerResult(peer, mesh)
    # remoteviz's viewer page has a status line of 25 px under the view.
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT + (25 if peer == "remoteviz" else 0)},
                                  device_scale_factor=1, bypass_csp=True)
    try:
        context.add_init_script(RECORD)
        page = context.new_page()
        page.on("console", lambda m: result.notes.append(f"console {m.type}: {m.text[:300]}")
                if m.type == "error" else None)
        page.on("pageerror", lambda error: result.notes.append(f"page error: {str(error)[:300]}"))
        page.on("crash", lambda _: result.notes.append("the page crashed"))
        started = time.time()
        waited = "window.__bench.pictureAt !== null" + (" && window.__bench.clientAt !== null"
                                                        if peer == "remoteviz" else "")
        try:
            page.goto(url)
            deadline = time.monotonic() + timeout
            while not page.evaluate(waited):
                if time.monotonic() > deadline:
                    result.failure = f"no picture in {timeout:.0f} s"
                    break
                if process.status() == psutil.STATUS_ZOMBIE:
                    result.failure = "the server exited"
                    break
                page.wait_for_timeout(200)
            record = page.evaluate("window.__bench")
        except PlaywrightError as error:
            result.failure = f"the page failed: {str(error).splitlines()[0]}"
            return result
        result.total_bytes, result.payload_bytes = wire.websocket_bytes(), bytes_until(record["log"], math.inf)
        if result.failure:
            return result
        result.first_s = record["pictureAt"] / 1000 - started
        result.first_bytes = wire.websocket_bytes(record["pictureAt"] / 1000)
        # vtk.js draws once the whole scene is in: trame's first picture has full detail.
        full_at = record["clientAt"] if peer == "remoteviz" else record["pictureAt"]
        result.full_s, result.full_bytes = full_at / 1000 - started, wire.websocket_bytes(full_at / 1000)
        box = page.locator(view).first.bounding_box()
        result.view = f"{box['width']:.0f}x{box['height']:.0f}"
        result.loaded = True
        page.wait_for_timeout(1000)
        result.notes.append(f"page JS heap {page.evaluate('performance.memory.usedJSHeapSize') / 2**20:.0f} MiB, "
                            f"Chromium USS {browser_rss() / 2**20:.0f} MiB")
        log = page.evaluate("window.__bench.log")
        result.total_bytes, result.payload_bytes = wire.websocket_bytes(), bytes_until(log, math.inf)
        result.calibration_bytes, result.http_bytes = bytes_until(log, math.inf, True), wire.http_bytes()
        result.orbit_cpu, result.orbit_moves = orbit(page, box, process, orbit_seconds)
        return result
    finally:
        context.close()


def browser_rss() -> int:
    """The memory this script's Chromium processes hold alone (unique set sizes), summed."""
    total = 0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "chrom" in child.name():
                total += child.memory_full_info().uss
    return total


def orbit(page: Any, box: dict[str, float], process: psutil.Process, seconds: float) -> tuple[float, int]:
    """Drags in circles in the view for ``seconds``; the server's CPU seconds per second meanwhile."""
    cx, cy, radius = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["height"] / 4
    wait_quiet(process)
    page.mouse.move(cx + radius, cy)
    page.mouse.down()
    before, started, moves, angle = cpu_seconds(process), time.monotonic(), 0, 0.0
    while time.monotonic() - started < seconds:
        angle += 0.05
        moves += 1
        page.mouse.move(cx + radius * math.cos(angle), cy + radius * math.sin(angle))
    cpu = (cpu_seconds(process) - before) / (time.monotonic() - started)
    page.mouse.up()
    return cpu, moves


def triangles(mesh: str) -> int:
    """The triangles of a mesh named as ``benchmarks.csr`` names them (``1m``), or of any size so
    written (``10m``, ``500k``), to look for where a peer stops loading."""
    if mesh in MODELS:
        return MODELS[mesh][1]
    scale = {"k": 1_000, "m": 1_000_000}.get(mesh[-1:].lower())
    if scale is None or not mesh[:-1].isdigit():
        raise argparse.ArgumentTypeError(f"a mesh is one of {', '.join(MESHES)} or a size such as 10m, not {mesh!r}")
    return int(mesh[:-1]) * scale


def run_peer(browser: Any, peer: str, mesh: str, orbit_seconds: float, timeout: float) -> PeerResult:
    """One mesh through one peer, on a server of its own that is stopped after."""
    count = triangles(mesh)
    with tempfile.TemporaryFile("w+") as output:
        try:
            if peer == "trame":
                server, port = start_trame(count, 120.0, output)
                path, view = "/index.html", "canvas"
            else:
                server, port = start_service("mesh", count)
                path, view = "/?area=Bench&render=client", ".remoteviz-view"
        except RuntimeError as error:
            result = PeerResult(peer, mesh, failure=str(error))
        else:
            wire = WireCounter(port)
            try:
                process = psutil.Process(server.pid)
                result = measure(browser, peer, mesh, f"http://127.0.0.1:{wire.port}{path}", view, process, wire,
                                 orbit_seconds, timeout)
                rss = process.memory_info().rss if process.is_running() else 0
                result.notes.append(f"server RSS {rss / 2**20:.0f} MiB")
            finally:
                server.kill()
                server.wait()
                wire.close()
        output.seek(0)
        said = output.read().strip().splitlines()
    if not result.loaded and said:
        result.notes.append("server said: " + " | ".join(said[-5:])[:600])
    return result


def main(argv: list[str] | None = None) -> None:
    """Every mesh through every peer; prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(MESHES), help="meshes: " + ", ".join(MESHES) + " (or any size: 10m)")
    parser.add_argument("--peers", default="trame,remoteviz", help="trame, remoteviz (client-side), or both")
    parser.add_argument("--orbit-seconds", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a page may take to show a picture")
    args = parser.parse_args(argv)
    for mesh in args.sizes.split(","):
        try:
            triangles(mesh)
        except argparse.ArgumentTypeError as error:
            parser.error(str(error))
    from playwright.sync_api import sync_playwright

    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}, {psutil.cpu_count()} cores", flush=True)
    print("WebSocket bytes as sent on the wire; 'payload' as the page's WebSocket handed them over (inflated); "
          "'calibration' remoteviz's network calibration, of the payload", flush=True)
    print(f"{'mesh':>5} | {'peer':<9} | {'view':>8} | {'first picture':>17} | {'full detail':>17} | "
          f"{'all: wire / payload':>21} | {'calibration':>11} | {'page HTTP':>9} | {'orbit CPU':>9} | moves/s",
          flush=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for mesh in args.sizes.split(","):
                for peer in args.peers.split(","):
                    r = run_peer(browser, peer, mesh, args.orbit_seconds, args.timeout)
                    if r.loaded:
                        print(f"{mesh:>5} | {peer:<9} | {r.view:>8} | {r.first_s:6.2f} s {r.first_bytes / 2**20:6.2f} MiB"
                              f" | {r.full_s:6.2f} s {r.full_bytes / 2**20:6.2f} MiB"
                              f" | {r.total_bytes / 2**20:6.2f} / {r.payload_bytes / 2**20:6.2f} MiB"
                              f" | {r.calibration_bytes / 2**20:7.2f} MiB | {r.http_bytes / 2**20:5.2f} MiB"
                              f" | {r.orbit_cpu * 100:7.1f} % | {r.orbit_moves / args.orbit_seconds:5.1f}", flush=True)
                    else:
                        print(f"{mesh:>5} | {peer:<9} | FAILED: {r.failure} "
                              f"({r.total_bytes / 2**20:.1f} MiB received)", flush=True)
                    # A page that loaded: only its server's memory (trame's page logs a 405 it does not mind).
                    for note in r.notes if not r.loaded else [n for n in r.notes if "MiB" in n]:
                        print(f"{'':>5} | {'':<9} | {note}", flush=True)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
