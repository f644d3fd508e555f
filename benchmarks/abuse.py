"""Abuse benchmark (issue #9): what an attacker costs a bystander, and what the service keeps.

Starts a service in a subprocess (so its memory, descriptors and threads are its own) that
renders numpy frames continuously; a bystander views one render area while an attacker, in turn:

- fuzzes the protocol (``remoteviz.testing.fuzz``, every message type, over as many connections as the
  service closes),
- floods one connection with 100,000 mouse moves,
- churns connections (TCP only, WebSocket without hello, hello then gone, and whole sessions),
- downloads a 100 MiB file four times at once.

It prints, in one run: messages fuzzed and connections churned, crashes, close codes seen, the
bystander's frames per second before, during and after each phase (target: during >= 80% of
before), the service's RSS, descriptors and threads before and after, and the largest RSS one
client could add (the bound the limits set, and what one hostile client measured).

Then the pixels (issue 19, item 9), against a service that renders a cone with OpenGL at the
default limits: one client asks for four render areas at 3840x2160 (what it gets, and the RSS its
areas pin), a client from another address (127.0.0.2) opens one meanwhile, and the RSS once the
attacker's areas are closed is compared with before (what stays).

    python -m benchmarks.abuse [--messages 50000] [--churn 1000] [--phase-seconds 3] [--output FILE]
                               [--only-pixels]

(JSON goes to ``benchmarks/results/abuse.json`` by default.)

Figures compare within one run only; other work on the machine moves them.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import psutil
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

import remoteviz as rv
from remoteviz import client, protocol
from remoteviz.testing.abuse import HELLO, Bystander, churn, download, flood, fuzz

SERVICE = textwrap.dedent("""
    import sys, time
    import numpy as np
    import remoteviz as rv

    class Source(rv.RenderAreaListener):
        def on_requested_frame(self, render_area, connection):
            render_area.request_redraw()
            y, x = np.mgrid[0:render_area.height, 0:render_area.width]
            image = np.empty((render_area.height, render_area.width, 3), np.uint8)
            image[..., 0] = (x + int(time.monotonic() * 200)) % 256
            image[..., 1] = y % 256
            image[..., 2] = 128
            return image, True

        def on_received_message(self, render_area, connection, message):
            if message == "stall":
                time.sleep(3)  # dispatch busy: what a hostile client can pile up meanwhile

    class Listener(rv.ServiceListener):
        def on_instantiated_render_area(self, render_area):
            render_area.add_listener(Source())

    service = rv.Service.instance()
    service.add_listener(Listener())
    settings = rv.ServiceSettings(host="127.0.0.1", port=0, run_mode=rv.RunMode.INDEPENDENT_SERVICE,
                                  static_dir=sys.argv[1], max_connections_per_address=64)
    assert service.open(settings)
    print("PORT", service.port, flush=True)
    try:
        while True:
            service.dispatch(timeout=1.0)
    finally:
        service.close()
""")

PIXEL_SERVICE = textwrap.dedent("""
    import remoteviz as rv

    class Cone(rv.ServiceListener):
        def on_instantiated_render_area(self, render_area):
            examiner = rv.SceneExaminer()
            examiner.add_child(rv.GradientBackground())
            examiner.add_child(rv.Cone())
            render_area.scene_manager.scene_graph = examiner
            examiner.view_all(render_area.viewport)

    service = rv.Service.instance()
    service.add_listener(Cone())
    assert service.open(rv.ServiceSettings(host="127.0.0.1", port=0))  # the default limits
    print("PORT", service.port, flush=True)
    try:
        while True:
            service.dispatch(timeout=1.0)
    finally:
        service.close()
""")

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "abuse.json"


async def downloads(url: str, count: int) -> list[int]:
    return list(await asyncio.gather(*(download(url) for _ in range(count))))


async def hostile_client(url: str, seconds: float) -> None:
    """One client at its worst: dispatch stalled, it sends 1 MiB messages and never reads."""
    async with ws_connect(url, compression=None, max_size=None, max_queue=1) as ws:
        await ws.send(HELLO)
        await ws.send(json.dumps({"type": "message", "text": "stall"}))
        end = time.monotonic() + seconds
        big = b"\x02" + b"x" * ((1 << 20) - 64)
        try:
            while time.monotonic() < end:
                await asyncio.wait_for(ws.send(big), timeout=max(0.01, end - time.monotonic()))
        except (TimeoutError, ConnectionClosed):
            pass  # reading stopped: the service pushes back


ATTACKS = {"fuzz": fuzz, "flood": flood, "churn": churn, "downloads": downloads, "hostile": hostile_client}


def _attack(name: str, *args: object) -> object:
    """In the attacker's process: run one attack on an event loop of its own."""
    return asyncio.run(ATTACKS[name](*args))


class Attacker:
    """Runs attacks in a process of its own, so that its busy loops do not slow the bystander's."""

    def __init__(self) -> None:
        self._pool = concurrent.futures.ProcessPoolExecutor(1)
        self._pool.submit(int).result()  # started before anything is measured

    async def __call__(self, name: str, *args: object) -> object:
        return await asyncio.wrap_future(self._pool.submit(_attack, name, *args))

    def close(self) -> None:
        self._pool.shutdown()


class Sampler:
    """The service process's resident memory, sampled in the background."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def reset(self) -> None:
        self.peak = 0

    def stop(self) -> None:
        self._stop.set()


def resources(process: psutil.Process) -> dict[str, int]:
    return {"rss_mib": process.memory_info().rss >> 20, "fds": process.num_fds(), "threads": process.num_threads()}


async def run(args: argparse.Namespace, port: int, process: psutil.Process, attacker: Attacker) -> dict:
    base = f"ws://127.0.0.1:{port}"
    attack = f"{base}/Attacked?width=64&height=48"
    results: dict = {"phases": {}}
    async with client.connect(f"{base}/Bystander?width=640&height=480") as view:
        bystander = Bystander(view)
        while bystander.frames < 10:
            await asyncio.sleep(0.1)
        # Warm up what is made once and kept: threads that read files, encoders, and the heap's
        # high-water mark (RSS reaches a plateau within the first few thousand fuzzed messages).
        await attacker("downloads", f"http://127.0.0.1:{port}/big.bin", 4)
        await attacker("fuzz", attack, 5000, 1)
        await attacker("churn", attack, port, 200)
        await asyncio.sleep(2)
        results["before"] = resources(process)
        codes: dict[int, int] = {}
        phases = {
            "fuzz": lambda: attacker("fuzz", attack, args.messages, 2026),
            "move flood": lambda: attacker("flood", attack, 100_000),
            "churn": lambda: attacker("churn", attack, port, args.churn),
            "100 MiB download x4": lambda: attacker("downloads", f"http://127.0.0.1:{port}/big.bin", 4),
        }
        for name, make in phases.items():
            before = await bystander.fps_for(args.phase_seconds)
            frames, seconds, outcome = await bystander.frames_during(make())
            during = frames / seconds
            after = await bystander.fps_for(args.phase_seconds)
            results["phases"][name] = {"before": before, "during": during, "after": after,
                                       "rss_mib": process.memory_info().rss >> 20}
            if name == "fuzz":
                results["messages_fuzzed"], results["fuzz_connections"], fuzz_codes = outcome
                for code, n in fuzz_codes.items():
                    codes[code] = codes.get(code, 0) + n
            elif name == "move flood":
                codes[outcome] = codes.get(outcome, 0) + 1
            elif name == "churn":
                results["connections_churned"] = outcome
            else:
                results["downloaded_mib"] = [size >> 20 for size in outcome]
        results["close_codes"] = dict(sorted(codes.items()))
        await asyncio.sleep(2)
        results["after"] = resources(process)
        sampler = Sampler(process)
        rss = process.memory_info().rss
        await attacker("hostile", f"{base}/Hostile", 3.0)
        await asyncio.sleep(3.5)  # the stall ends, the queued messages are taken
        sampler.stop()
        results["one_client_rss_mib"] = max(0, sampler.peak - rss) / (1 << 20)
        results["bystander_open"] = not view.is_closed
        bystander.stop()
    return results


async def first_frame_from(url: str, local_address: str) -> str:
    """Connect from ``local_address`` (another loopback address: another address to the service), answer
    the calibration's pings, and wait for the first frame: "accepted", or the reason it was refused."""
    async with ws_connect(url, compression=None, max_size=None, local_addr=(local_address, 0)) as ws:
        await ws.send(HELLO)
        async for data in ws:
            if isinstance(data, bytes):
                return "accepted"
            message = protocol.parse_service_text(data)
            if isinstance(message, protocol.Ping):
                await ws.send(protocol.serialize(protocol.Pong(message.t)))
            elif isinstance(message, protocol.Disconnect):
                return message.detail
    return "closed"


async def pixels(port: int, process: psutil.Process) -> dict:
    """One client asks for four 3840x2160 areas; another address opens one; the RSS then and after."""
    base = f"ws://127.0.0.1:{port}"
    results: dict = {"attacker": []}
    async with client.connect(f"{base}/Warm?width=640&height=480") as view:  # shaders, contexts, encoders
        await view.next_frame(timeout=120)
    await asyncio.sleep(2)
    results["before_mib"] = process.memory_info().rss >> 20
    async with contextlib.AsyncExitStack() as attacker:
        for i in range(4):
            try:
                view = await attacker.enter_async_context(
                    client.connect(f"{base}/Big{i}?width=3840&height=2160", client_id="one-page", timeout=120,
                                   decode=False))  # its loop stays free: a 4K PNG decodes for seconds
                await view.next_frame(timeout=300)  # a 4x multisampled 3840x2160 still, PNG: slow on a loaded CPU
                results["attacker"].append("accepted")
            except client.ServiceClosed as closed:
                results["attacker"].append(f"{closed.detail or closed.reason} (close code {closed.code})")
            except TimeoutError as error:
                results["attacker"].append(f"accepted, then {error}")
        results["attacker_open_mib"] = process.memory_info().rss >> 20
        results["other_address"] = await asyncio.wait_for(
            first_frame_from(f"{base}/Other?width=1280&height=720", "127.0.0.2"), 120)
    await asyncio.sleep(3)  # the attacker's areas are disposed
    results["after_mib"] = process.memory_info().rss >> 20
    return results


def run_pixels() -> dict:
    """The pixel phase, against a service process of its own (OpenGL, the default limits)."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "pixels.py"
        script.write_text(PIXEL_SERVICE)
        service = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        try:
            line = service.stdout.readline()
            assert line.startswith("PORT"), service.stderr.read()
            return asyncio.run(pixels(int(line.split()[1]), psutil.Process(service.pid)))
        finally:
            service.terminate()
            service.communicate(timeout=30)


def report_pixels(results: dict) -> None:
    settings = rv.ServiceSettings()
    print(f"pixel budgets: {settings.max_pixels_per_client / 1e6:.1f} Mpx per client, "
          f"{settings.max_pixels_per_address / 1e6:.1f} per address, {settings.max_total_pixels / 1e6:.1f} in all")
    print("one client asks for 4 areas at 3840x2160: " + "; ".join(results["attacker"]))
    print(f"RSS: {results['before_mib']} MiB before, {results['attacker_open_mib']} MiB with its areas open, "
          f"{results['after_mib']} MiB after they closed ({results['after_mib'] - results['before_mib']:+} MiB stays)")
    print(f"another address opens a 1280x720 area meanwhile: {results['other_address']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=50_000, help="messages to fuzz")
    parser.add_argument("--churn", type=int, default=1000, help="connections to churn")
    parser.add_argument("--phase-seconds", type=float, default=3.0, help="before and after each phase")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the results as JSON")
    parser.add_argument("--only-pixels", action="store_true", help="run the pixel phase alone")
    args = parser.parse_args()
    if args.only_pixels:
        report_pixels(run_pixels())
        return
    attacker = Attacker()
    with tempfile.TemporaryDirectory() as folder:
        static = Path(folder) / "static"
        static.mkdir()
        (static / "big.bin").write_bytes(os.urandom(1 << 20) * 100)
        script = Path(folder) / "service.py"
        script.write_text(SERVICE)
        service = subprocess.Popen([sys.executable, str(script), str(static)], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            line = service.stdout.readline()
            assert line.startswith("PORT"), service.stderr.read()
            results = asyncio.run(run(args, int(line.split()[1]), psutil.Process(service.pid), attacker))
            alive = service.poll() is None
        finally:
            attacker.close()
            service.terminate()
            _, errors = service.communicate(timeout=30)
    results["crashes"] = int(not alive) + errors.count("Traceback")
    settings = rv.ServiceSettings()
    bound = settings.max_pending_bytes + 4 * settings.max_message_size + settings.max_outgoing_bytes
    results["one_client_rss_bound_mib"] = bound / (1 << 20)
    report(results)
    results["pixels"] = run_pixels()
    report_pixels(results["pixels"])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))


def report(results: dict) -> None:
    print(f"messages fuzzed: {results['messages_fuzzed']} over {results['fuzz_connections']} connections; "
          f"connections churned: {results['connections_churned']}")
    print(f"crashes: {results['crashes']}; bystander still connected: {results['bystander_open']}")
    print("close codes seen: " + ", ".join(f"{code} x{n}" for code, n in results["close_codes"].items()))
    print(f"{'phase':22} {'fps before':>10} {'during':>8} {'after':>8} {'during/before':>14} {'RSS after':>10}")
    for name, fps in results["phases"].items():
        ratio = fps["during"] / fps["before"] if fps["before"] else 0.0
        print(f"{name:22} {fps['before']:10.1f} {fps['during']:8.1f} {fps['after']:8.1f} {ratio:13.0%} "
              f"{fps['rss_mib']:7} MiB")
    before, after = results["before"], results["after"]
    for key in ("rss_mib", "fds", "threads"):
        change = (after[key] - before[key]) / before[key] if before[key] else 0.0
        print(f"{key:8} before {before[key]:6}  after {after[key]:6}  ({change:+.0%})")
    print(f"largest RSS one client could add: bound {results['one_client_rss_bound_mib']:.0f} MiB "
          f"(inbox share + websockets buffer + outbound queue), measured {results['one_client_rss_mib']:.1f} MiB")


if __name__ == "__main__":
    main()
