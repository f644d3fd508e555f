"""Client-side against server-side rendering (issue #22): bytes and time to the first picture and
to full detail, and the service's CPU per viewer during an orbit, for meshes of 20k, 200k, 1M and
5M triangles and a 2M-point cloud.

The service runs in a subprocess (its CPU is its own), with client-side rendering allowed. For
each model, on one service:

- server-side: a viewer connects at 1280x636; the first frame's bytes and time; then a 10 s orbit
  (mouse drags at 60 moves a second) and the service's CPU seconds per second meanwhile;
- client-side, first viewer (the service encodes the scene: quantize, deflate, hash) and second
  viewer (the buffers are cached): the bytes and time until the page has a picture of the whole
  scene (every record drawable, a big mesh as its coarse copy, a big point set by its first part:
  when the page switches to drawing itself) and until the full detail has arrived, buffers
  inflated (the browser's WebGL upload and draw are not included); then the same orbit as the
  page makes it: it navigates itself and sends the service its camera 8 times a second
  (``CAMERA_INTERVAL_MS`` in ``client-js/src/client-rendering.js``), with the press and the
  release; and, for comparison in the same run, the orbit as the service navigates it (every move
  sent, the camera back in a scene update: how a page navigates in selection mode, or did before
  it navigated itself). The page holds its frames unacknowledged, so the service renders none for
  it. Each is measured
  twice, on services of their own: ``coarse`` as the service is, and ``whole`` with no coarse
  copies and a page that draws only once everything arrived (as before progressive loading). The
  second viewer of ``coarse`` comes once the first saw the coarse copy (made by vertex clustering
  just before the full detail is encoded: the first viewer of a big mesh gets it first);
- with ``--many N`` (20k triangles only): N client-side viewers of one area, one of which
  navigates as the page does (its camera sent 8 times a second): the time from each camera it
  sends to each other viewer's scene update with that camera, p50 and p95; and, as before, the
  camera round trip of one dragging in selection mode (a move sent, the camera update back).

    python -m benchmarks.csr [--sizes 20k,200k,1m,5m,2m-points] [--orbit-seconds 10] [--many 100]
                             [--no-server-side] [--link-mbit 20]

Figures compare within one run only; other work on the machine moves them. trame's
``VtkLocalView``, the peer, is measured beside remoteviz's page in headless Chromium by
``python -m benchmarks.csr_trame`` (the ``bench`` extra), on the same meshes (``torus``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import statistics
import subprocess
import sys
import textwrap
import time
import zlib

import numpy as np
import psutil

from remoteviz import client
from remoteviz.events import MouseAction, MouseButton
from remoteviz.protocol import CameraState, RenderMode, SceneChunk, SceneUpdate
from remoteviz.scene_sync.coarse import COARSE_MIN_TRIANGLES

SERVICE = textwrap.dedent("""
    import sys
    import numpy as np
    import remoteviz as rv

    kind, count = sys.argv[1], int(sys.argv[2])
    if sys.argv[3] == "whole":  # no coarse copies: as before progressive loading
        import remoteviz.scene_sync.coarse
        remoteviz.scene_sync.coarse.COARSE_MIN_TRIANGLES = sys.maxsize
    if kind == "points":
        rng = np.random.default_rng(0)
        model = rv.PointSet(rng.normal(size=(count, 3)).astype(np.float32), size=2.0)
    else:
        from benchmarks.csr import torus

        model = rv.Mesh(*torus(count))

    class Scene(rv.ServiceListener):
        def on_instantiated_render_area(self, render_area):
            render_area.client_rendering = True
            examiner = rv.SceneExaminer()
            examiner.add_child(model)
            render_area.scene_manager.scene_graph = examiner
            examiner.view_all(render_area.viewport)

    service = rv.Service()
    service.add_listener(Scene())
    # Loopback only, and many viewers from one address for the round-trip test: the limits opened up.
    assert service.open(rv.ServiceSettings(host="127.0.0.1", port=0, run_mode=rv.RunMode.INVENTOR_SERVICE,
                                           max_connections=1024, max_connections_per_address=1024))
    print("PORT", service.port, flush=True)
    while True:
        service.dispatch(timeout=1.0)
""")

MODELS = {"20k": ("mesh", 20_000), "200k": ("mesh", 200_000), "1m": ("mesh", 1_000_000), "5m": ("mesh", 5_000_000),
          "2m-points": ("points", 2_000_000)}
WIDTH, HEIGHT = 1280, 636


def torus(count: int) -> tuple[np.ndarray, np.ndarray]:
    """The points and faces of a torus of about ``count`` triangles: the meshes measured here (the
    service script imports it) and by the trame peer, ``benchmarks.csr_trame``."""
    u = max(8, int(np.sqrt(count)))
    return torus_grid(u, max(4, count // (2 * u)))


def torus_grid(u: int, v: int) -> tuple[np.ndarray, np.ndarray]:
    """The points and faces of a torus of ``2 * u * v`` triangles around the y axis: ring radius 1,
    tube radius 0.35, its ``u * v`` vertices shared by the triangles (so it can be decimated)."""
    a, b = np.meshgrid(np.linspace(0, 2 * np.pi, u, endpoint=False), np.linspace(0, 2 * np.pi, v, endpoint=False))
    points = np.stack([(1 + 0.35 * np.cos(b)) * np.cos(a), 0.35 * np.sin(b), (1 + 0.35 * np.cos(b)) * np.sin(a)],
                      axis=-1).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(u), np.arange(v))
    p, q = j * u + i, j * u + (i + 1) % u
    r, s = ((j + 1) % v) * u + i, ((j + 1) % v) * u + (i + 1) % u
    faces = np.concatenate([np.stack([p, r, q], -1).reshape(-1, 3), np.stack([q, r, s], -1).reshape(-1, 3)])
    return points, faces


async def orbit(view, seconds: float) -> int:
    """Drags in circles for ``seconds`` at 60 moves a second; returns the moves sent."""
    await view.mouse(MouseAction.DOWN, 640, 318, MouseButton.LEFT, 1)
    moves = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        moves += 1
        await view.mouse(MouseAction.MOVE, 640 + (moves % 40), 318, MouseButton.LEFT, 1)
        await asyncio.sleep(1 / 60)
    await view.mouse(MouseAction.UP, 640, 318, MouseButton.LEFT, 0)
    return moves


CAMERA_INTERVAL_S = 0.125
"""How often a page navigating itself sends the service its camera during a drag (client-rendering.js)."""


async def page_orbit(view, seconds: float, updates: list[SceneUpdate]) -> int:
    """The orbit of :func:`orbit` as a page navigating itself makes it: the press, then its camera
    turning around the focal point, sent every ``CAMERA_INTERVAL_S``, then the release; returns
    the cameras sent."""
    camera = updates[0].extra["camera"]
    x, y, z = camera["position"]
    distance = camera["focal_distance"]
    focal = (x, y, z - distance)  # view_all keeps the default orientation: looking down -z
    await view.mouse(MouseAction.DOWN, 640, 318, MouseButton.LEFT, 1)
    sent = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        await asyncio.sleep(CAMERA_INTERVAL_S)
        sent += 1
        angle = 0.05 * sent
        position = (focal[0] + distance * math.sin(angle), focal[1], focal[2] + distance * math.cos(angle))
        await view.send_camera(CameraState(position, (0.0, math.sin(angle / 2), 0.0, math.cos(angle / 2)),
                                           distance, camera["height"], False, updates[-1].seq))
    await view.mouse(MouseAction.UP, 640, 318, MouseButton.LEFT, 0)
    return sent


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


async def quiet(process: psutil.Process, limit_s: float = 60.0) -> None:
    """Waits until the service's CPU falls under 10% of a core for half a second (a render or an
    encode started before the orbit would count against it), or ``limit_s`` passes."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = cpu_seconds(process)
        await asyncio.sleep(0.5)
        if cpu_seconds(process) - before < 0.05:
            return


async def server_side(url: str, process: psutil.Process, seconds: float) -> dict[str, float]:
    started = time.monotonic()
    async with client.connect(url, timeout=300) as view:
        first = await view.next_frame(timeout=300)
        first_s = time.monotonic() - started
        still = first if first.is_still else await view.frame_where(lambda f: f.is_still, timeout=300)
        await quiet(process)
        cpu = cpu_seconds(process)
        await orbit(view, seconds)
        cpu = (cpu_seconds(process) - cpu) / seconds
        return {"first_s": first_s, "first_bytes": first.frame.payload.nbytes if isinstance(first.frame.payload, memoryview)
                else len(first.frame.payload), "full_s": time.monotonic() - started if still is not first else first_s,
                "still_bytes": len(bytes(still.frame.payload)), "cpu": cpu}


class ClientSide:
    """A client-side page as the browser's is: acknowledges chunks, inflates buffers, holds frames,
    and notes when it could first draw the whole scene (``pictured``, the browser's switch rule)
    and when it holds the full detail (``complete``): their times and the bytes received by then."""

    def __init__(self, view, link_mbit: float = 0.0) -> None:
        """``link_mbit``: a link of that many megabits a second, as seen by the page: each chunk
        arrives (and is acknowledged) its size's worth of time after the one before; 0 for the
        loopback as it is."""
        self.view = view
        self.link_mbit = link_mbit
        self.bytes = 0
        self.updates: list[SceneUpdate] = []
        self.records: dict[str, dict] = {}
        self.buffers: dict[str, bytearray] = {}
        self.arrived: dict[str, int] = {}
        self.whole: set[str] = set()
        self.camera_at: list[float] = []
        self.pictured_at: tuple[float, int] | None = None
        self.complete_at: tuple[float, int] | None = None
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            message = await self.view.next_scene_message(timeout=600)
            if isinstance(message, SceneChunk):
                self.bytes += len(message.payload)
                if self.link_mbit:
                    await asyncio.sleep(len(message.payload) * 8 / (self.link_mbit * 1e6))
                await self.view.scene_ack(message.chunk)
                data = self.buffers.setdefault(message.buffer, bytearray(message.total))
                data[message.offset:message.offset + len(message.payload)] = message.payload
                self.arrived[message.buffer] = self.arrived.get(message.buffer, 0) + len(message.payload)
                if self.arrived[message.buffer] == message.total:
                    zlib.decompress(bytes(self.buffers.pop(message.buffer)))
                    self.whole.add(message.buffer)
            elif isinstance(message, SceneUpdate):
                self.bytes += len(str(message.records)) + 200
                self.updates.append(message)
                self.camera_at.append(time.monotonic())
                if message.full:
                    self.records.clear()
                for record_id in message.removed:
                    self.records.pop(record_id, None)
                self.records.update((r["id"], r) for r in message.records)
            now = (time.monotonic(), self.bytes)
            if self.pictured_at is None and self.updates and all(
                    self._has(r) or self._has(r.get("coarse")) for r in self.records.values() if r.get("part", 0) == 0):
                self.pictured_at = now
            if self.complete_at is None and self.updates and all(
                    self._has(r) and not r.get("provisional") for r in self.records.values()):
                self.complete_at = now

    def _has(self, record: dict | None) -> bool:
        names = [record[k] for k in ("positions", "normals", "indices", "colors", "sizes") if record.get(k)] \
            if record else None
        return names is not None and set(names) <= self.whole

    def complete(self) -> bool:
        return self.complete_at is not None

    def coarse(self) -> bool:
        """Whether a record names a coarse copy."""
        return any("coarse" in r for r in self.records.values())

    async def close(self) -> None:
        self._reader.cancel()


async def client_side(url: str, process: psutil.Process, seconds: float, copy_s: float = 0.0,
                      link_mbit: float = 0.0) -> dict[str, float]:
    """One client-side viewer (on a link of ``link_mbit``, see :class:`ClientSide`); with
    ``copy_s``, it then waits up to that long for the service's coarse copy of the model (for the
    viewers after it)."""
    started = time.monotonic()
    async with client.connect(url, auto_ack=False, timeout=300) as view:
        await view.request_rendering(RenderMode.CLIENT)
        decision = await view.next_scene_message(timeout=300)
        assert decision.mode is RenderMode.CLIENT, decision
        page = ClientSide(view, link_mbit)
        while not page.complete():
            await asyncio.sleep(0.005)
        assert page.pictured_at is not None and page.complete_at is not None
        first_s, first_bytes = page.pictured_at[0] - started, page.pictured_at[1]
        full_s, loaded_bytes = page.complete_at[0] - started, page.complete_at[1]
        await quiet(process)
        cpu = cpu_seconds(process)
        await page_orbit(view, seconds, page.updates)
        cpu = (cpu_seconds(process) - cpu) / seconds
        await quiet(process)
        cpu_service = cpu_seconds(process)
        await orbit(view, seconds)
        cpu_service = (cpu_seconds(process) - cpu_service) / seconds
        deadline = time.monotonic() + copy_s
        while not page.coarse() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await page.close()
        return {"first_s": first_s, "first_bytes": first_bytes, "full_s": full_s, "bytes": loaded_bytes, "cpu": cpu,
                "cpu_service": cpu_service}


async def loaded_pages(stack: contextlib.AsyncExitStack, url: str, viewers: int) -> list[ClientSide]:
    """``viewers`` client-side pages of the area at ``url``, once each holds the whole scene."""
    pages = []
    for _ in range(viewers):
        view = await stack.enter_async_context(client.connect(url, auto_ack=False))
        await view.request_rendering(RenderMode.CLIENT)
        await view.next_scene_message(timeout=60)
        pages.append(ClientSide(view))
    while not all(p.complete() for p in pages):
        await asyncio.sleep(0.01)
    return pages


def percentiles(samples: list[float]) -> tuple[float, float]:
    """The median and the 95th percentile."""
    samples = sorted(samples)
    return statistics.median(samples), samples[max(0, math.ceil(len(samples) * 0.95) - 1)]


async def followers(url: str, viewers: int, cameras: int = 40) -> tuple[float, float]:
    """One of ``viewers`` client-side pages navigates itself as the browser's does (its camera sent
    every ``CAMERA_INTERVAL_S``, between a press and a release): ms from each camera it sends to
    each other page's scene update bringing that camera, p50 and p95."""
    async with contextlib.AsyncExitStack() as stack:
        pages = await loaded_pages(stack, url, viewers)
        leader, others = pages[0], pages[1:]
        camera = leader.updates[0].extra["camera"]
        x, y, z = camera["position"]
        distance = camera["focal_distance"]
        focal = (x, y, z - distance)  # view_all keeps the default orientation: looking down -z
        seen = [len(p.updates) for p in others]
        await leader.view.mouse(MouseAction.DOWN, 640, 318, MouseButton.LEFT, 1)
        sent_at: dict[int, float] = {}
        for number in range(1, cameras + 1):
            angle = 0.05 * number  # each camera told apart by its angle around the focal point
            position = (focal[0] + distance * math.sin(angle), focal[1], focal[2] + distance * math.cos(angle))
            sent_at[number] = time.monotonic()
            await leader.view.send_camera(CameraState(position, (0.0, math.sin(angle / 2), 0.0, math.cos(angle / 2)),
                                                      distance, camera["height"], False, leader.updates[-1].seq))
            await asyncio.sleep(CAMERA_INTERVAL_S)
        await leader.view.mouse(MouseAction.UP, 640, 318, MouseButton.LEFT, 0)

        def number_of(update: SceneUpdate) -> int | None:
            at = update.extra.get("camera")
            if at is None:
                return None
            px, _, pz = at["position"]
            return round(math.atan2(px - focal[0], pz - focal[2]) / 0.05)

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(
                any(number_of(u) == cameras for u in p.updates[n:]) for p, n in zip(others, seen, strict=True)):
            await asyncio.sleep(0.01)
        samples = [(at - sent_at[k]) * 1000.0 for p, n in zip(others, seen, strict=True)
                   for u, at in zip(p.updates[n:], p.camera_at[n:], strict=True)
                   if (k := number_of(u)) in sent_at]
        for page in pages:
            await page.close()
        return percentiles(samples)


async def round_trips(url: str, viewers: int, moves: int = 100) -> tuple[float, float]:
    """One of ``viewers`` client-side pages drags as a page in selection mode does (every move sent):
    ms from each move to its camera update."""
    async with contextlib.AsyncExitStack() as stack:
        pages = await loaded_pages(stack, url, viewers)
        leader = pages[0]
        await leader.view.mouse(MouseAction.DOWN, 640, 318, MouseButton.LEFT, 1)
        samples = []
        for move in range(1, moves + 1):
            before = len(leader.camera_at)
            sent = time.monotonic()
            await leader.view.mouse(MouseAction.MOVE, 640 + move, 318, MouseButton.LEFT, 1)
            while len(leader.camera_at) == before:
                await asyncio.sleep(0.0005)
            samples.append((leader.camera_at[before] - sent) * 1000.0)
            await asyncio.sleep(1 / 60)
        await leader.view.mouse(MouseAction.UP, 640, 318, MouseButton.LEFT, 0)
        for page in pages:
            await page.close()
        return percentiles(samples)


def start_service(kind: str, count: int, copies: str = "coarse") -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen([sys.executable, "-c", SERVICE, kind, str(count), copies], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("PORT"):
        process.kill()
        raise RuntimeError(f"the service did not start: {line!r}")
    return process, int(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(MODELS), help="models to measure: " + ", ".join(MODELS))
    parser.add_argument("--orbit-seconds", type=float, default=10.0)
    parser.add_argument("--many", type=int, default=0, help="client-side viewers for the round-trip test (20k)")
    parser.add_argument("--no-server-side", action="store_true", help="measure client-side rendering only")
    parser.add_argument("--link-mbit", type=float, default=0.0,
                        help="client-side pages read the scene as through a link of this many Mbit/s (0: loopback)")
    args = parser.parse_args()
    print(f"{'model':>10} | {'mode':<16} | {'first picture':>16} | {'full detail':>16} | {'CPU/viewer (orbit)':>18}")
    for name in args.sizes.split(","):
        kind, count = MODELS[name]
        # Each mode on a service of its own: what one leaves running (a level-of-detail copy being
        # made, a render) must not count against the other.
        if not args.no_server_side:
            service, port = start_service(kind, count)
            try:
                process = psutil.Process(service.pid)
                url = f"ws://127.0.0.1:{port}/Bench?width={WIDTH}&height={HEIGHT}"
                ssr = asyncio.run(server_side(url, process, args.orbit_seconds))
                print(f"{name:>10} | {'server-side':<16} | {ssr['first_s']:6.2f} s {ssr['first_bytes'] / 1024:6.0f} KiB"
                      f" | {ssr['full_s']:6.2f} s {ssr['still_bytes'] / 1024:6.0f} KiB | {ssr['cpu'] * 100:16.1f} %",
                      flush=True)
            finally:
                service.kill()
                service.wait()
        for copies in ("whole", "coarse"):
            service, port = start_service(kind, count, copies)
            try:
                process = psutil.Process(service.pid)
                url = f"ws://127.0.0.1:{port}/Bench?width={WIDTH}&height={HEIGHT}"
                # The first viewer of a big mesh waits for its coarse copy, for the second to get it.
                big = kind == "mesh" and count > COARSE_MIN_TRIANGLES and copies == "coarse"
                for label, copy_s in (("1st", 300.0 if big else 0.0), ("2nd", 0.0)):
                    csr = asyncio.run(client_side(url, process, args.orbit_seconds, copy_s, args.link_mbit))
                    if copies == "whole":  # the page drew only once everything had arrived
                        csr["first_s"], csr["first_bytes"] = csr["full_s"], csr["bytes"]
                    print(f"{name:>10} | {f'CSR {copies} {label}':<16} | {csr['first_s']:6.2f} s"
                          f" {csr['first_bytes'] / 1048576:6.1f} MiB | {csr['full_s']:6.2f} s"
                          f" {csr['bytes'] / 1048576:6.1f} MiB | {csr['cpu'] * 100:16.1f} %", flush=True)
                    print(f"{'':>10} | {'  (the service navigating, as before)':<54} | "
                          f"{csr['cpu_service'] * 100:16.1f} %", flush=True)
                if args.many and name == "20k" and copies == "coarse":
                    p50, p95 = asyncio.run(followers(url, args.many))
                    print(f"{args.many} client-side viewers, one navigating (its camera 8 times a second): from its "
                          f"camera to each other viewer's update p50 {p50:.1f} ms, p95 {p95:.1f} ms", flush=True)
                    p50, p95 = asyncio.run(round_trips(url, args.many))
                    print(f"  (the old figure: one dragging in selection mode, a move sent, the camera back: "
                          f"p50 {p50:.1f} ms, p95 {p95:.1f} ms)", flush=True)
            finally:
                service.kill()
                service.wait()


if __name__ == "__main__":
    main()
