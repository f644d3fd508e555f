"""Session manager benchmark: spawn time, what the proxy costs, memory per connection, spawn/kill churn.

Starts ``remoteviz-sessions`` in a subprocess (its CPU and memory are its own) and prints:

- spawn to first frame, HelloCone, p50/p95: through the REST handshake (POST, then connect to the
  answer's url) and through the proxy (connect to ``ws://manager/hello_cone/TheCone``);
- the round trip the proxy adds, p50/p95, against a direct connection to the same instance in
  the same run, interleaved: a ``ping`` (answered by the service's network thread) and a 64 KiB
  message echoed by the application (the size of a frame); once for a direct REST session's
  instance (TCP) and once for one the proxy started (its Unix socket, connected to directly too);
- proxied throughput: MB relayed per second of the manager's CPU time (MB/s per core);
- the manager's RSS per idle proxied connection (``--connections`` of them on one instance);
- ``--cycles`` spawn/kill cycles (4 at a time) of a minimal viewer: port collisions (a port handed
  out while a live instance holds it, or an instance that found its port taken) and the
  manager's RSS at the start, middle and end of the loop;
- the time from an instance's crash to its port being free in the manager, p50/p95;
- with ``--soak SECONDS``, serial spawn/kill cycles (and a proxied connection every tenth) for that
  long, with the manager's RSS every 30 s;
- the abuse phase (``--abuse SECONDS`` of attack, 0 to skip; ``--only-abuse`` runs nothing else):
  a manager with the default limits under ``ulimit -n 256``; from 127.0.0.3, a spawn flood (REST
  and proxy), 300 slow sockets (a header line every 2 s) and a WebSocket flood, while a legitimate
  viewer from 127.0.0.2 spawns through the proxy and streams: its spawn-to-first-frame and
  frames per second before, during and after, and the manager's fds, RSS and log bytes.

    python -m benchmarks.sessions [--spawns 10] [--pings 2000] [--connections 100] [--cycles 1000]
                                  [--crashes 20] [--soak 600] [--abuse 20] [--only-abuse] [--output FILE]

The proxy and echo instances are ``tests/sessions/pattern_viewer.py`` (numpy frames, no OpenGL),
the churn one ``tests/sessions/fake_viewer.py``. Figures compare only within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import json
import platform
import resource
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import websockets

from remoteviz import client

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.sessions.harness import FAKE, HELLO_CONE, PATTERN, ManagerProcess, alive  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "sessions.json"


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def figures(values_ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(values_ms, 0.5), 3), "p95_ms": round(percentile(values_ms, 0.95), 3),
            "n": len(values_ms)}


async def first_frame(url: str) -> None:
    async with client.connect(url, width=640, height=480, timeout=60) as view:
        await view.next_frame(timeout=60)


def spawn_times(manager: ManagerProcess, spawns: int) -> dict[str, dict[str, float]]:
    rest, proxy = [], []
    for _ in range(spawns):
        started = time.perf_counter()
        answer = manager.create("hello_cone", render_area="TheCone")
        asyncio.run(first_frame(answer["url"]))
        rest.append((time.perf_counter() - started) * 1000)
        manager.request("DELETE", f"/api/sessions/{answer['id']}")
        started = time.perf_counter()
        asyncio.run(first_frame(manager.ws_url("hello_cone", "TheCone")))
        proxy.append((time.perf_counter() - started) * 1000)
        while manager.status()["instances"]:  # its reconnect grace (0.2 s here) ends it
            time.sleep(0.05)
    return {"rest": figures(rest), "proxy": figures(proxy)}


class RawView:
    """A protocol connection read by hand, so a round trip is timed to the message that answers it."""

    def __init__(self, websocket: websockets.ClientConnection) -> None:
        self.ws = websocket
        self.session: tuple[str, str] | None = None  # the proxy's (session, token), if it started one

    @classmethod
    async def open(cls, url: str, unix_path: str | None = None) -> RawView:
        """Connect to ``url``, or to the instance's Unix socket ``unix_path`` (``url`` then names the area)."""
        options = {"compression": None, "max_size": None}
        view = cls(await (websockets.unix_connect(unix_path, url, **options) if unix_path
                          else websockets.connect(url, **options)))
        await view.ws.send(json.dumps({"type": "hello", "version": 1, "client_id": "", "width": 64, "height": 48,
                                       "decoders": ["png", "jpeg"]}))
        await view.until(lambda m: m.get("type") == "accept")
        return view

    async def until(self, wanted) -> dict:
        """Read (answering the service's pings) until a text message ``wanted`` accepts."""
        while True:
            data = await self.ws.recv()
            if isinstance(data, bytes):
                if data[0] == 1:  # a frame: acknowledge it as a browser would
                    frame_id = int.from_bytes(data[4:8], "little")
                    await self.ws.send(json.dumps({"type": "ack", "frame": frame_id, "decode_ms": 1}))
                continue
            message = json.loads(data)
            if message.get("type") == "notify" and message.get("session"):
                self.session = (message["session"], message["token"])
            if message.get("type") == "ping":
                await self.ws.send(json.dumps({"type": "pong", "t": message["t"]}))
            if wanted(message):
                return message

    async def close(self) -> None:
        await self.ws.close()


async def round_trips(direct_url: str, proxied_url: str, count: int) -> dict[str, dict[str, float]]:
    """Interleaved round trips on a direct and a proxied connection to one instance (TCP: a direct
    REST session, relayed by the proxy too)."""
    return await timed_round_trips({"direct": await RawView.open(direct_url),
                                    "proxied": await RawView.open(proxied_url)}, count)


async def unix_round_trips(manager: ManagerProcess, count: int) -> dict[str, dict[str, float]]:
    """The same for an instance the proxy started (proxy mode: its Unix socket, no port), against a
    direct connection to that socket."""
    proxied = await RawView.open(manager.ws_url("pattern", "A"))
    assert proxied.session is not None
    session, token = proxied.session
    pid = manager.session(session, token)["pid"]
    path = next(c.laddr for c in psutil.Process(pid).net_connections(kind="unix") if c.laddr)
    direct = await RawView.open(f"ws://localhost/A?token={token}", unix_path=path)
    return await timed_round_trips({"direct": direct, "proxied": proxied}, count)


async def timed_round_trips(views: dict[str, RawView], count: int) -> dict[str, dict[str, float]]:
    """Interleaved ping and echo round trips on the ``direct`` and ``proxied`` views; closes them."""
    results: dict[str, list[float]] = {"ping_direct": [], "ping_proxied": [], "echo_direct": [], "echo_proxied": []}
    payload = "x" * 65536
    await asyncio.sleep(0.5)  # the first frames and stills have gone
    try:
        for index in range(count):
            for name, view in views.items():
                t = 1e6 + index  # the service answers a protocol ping on its network thread
                started = time.perf_counter()
                await view.ws.send(json.dumps({"type": "ping", "t": t}))
                await view.until(lambda m, t=t: m.get("type") == "pong" and m.get("t") == t)
                results[f"ping_{name}"].append((time.perf_counter() - started) * 1000)
                if index % 10 == 0:  # the application echoes a frame-sized message
                    started = time.perf_counter()
                    await view.ws.send(json.dumps({"type": "message", "text": payload}))
                    await view.until(lambda m: m.get("type") == "message")
                    results[f"echo_{name}"].append((time.perf_counter() - started) * 1000)
    finally:
        for view in views.values():
            await view.close()
    out = {name: figures(values) for name, values in results.items()}
    for kind in ("ping", "echo"):
        out[f"{kind}_added"] = {q: round(out[f"{kind}_proxied"][q] - out[f"{kind}_direct"][q], 3)
                                for q in ("p50_ms", "p95_ms")}
    return out


async def throughput(proxied_url: str, manager_pid: int, seconds: float = 5.0) -> dict[str, float]:
    """Echo 512 KiB messages through the proxy, 4 in flight; MB relayed per manager CPU second."""
    process = psutil.Process(manager_pid)
    payload = "y" * (512 * 1024)
    relayed = 0
    async with client.connect(proxied_url, timeout=30) as view:
        await view.latest_frame(timeout=30, settle=0.3)
        cpu_before, started = sum(process.cpu_times()[:2]), time.perf_counter()
        for _ in range(4):
            await view.send_message(payload)
        while time.perf_counter() - started < seconds:
            await view.next_message(timeout=30)
            relayed += 2 * len(payload)  # to the instance and back
            await view.send_message(payload)
        for _ in range(4):
            await view.next_message(timeout=30)
            relayed += 2 * len(payload)
        wall, cpu = time.perf_counter() - started, sum(process.cpu_times()[:2]) - cpu_before
    return {"mb_per_s_wall": round(relayed / wall / 1e6, 1), "mb_per_cpu_s": round(relayed / cpu / 1e6, 1),
            "manager_cpu_share": round(cpu / wall, 2)}


async def idle_memory(manager: ManagerProcess, session_query: str, connections: int) -> dict[str, float]:
    process = psutil.Process(manager.pid)
    views, stack = [], []
    before = process.memory_info().rss
    for _index in range(connections):
        context = client.connect(manager.ws_url("pattern", "M", session_query), timeout=30, width=32, height=24)
        stack.append(context)
        views.append(await context.__aenter__())
    await asyncio.sleep(1.0)
    after = process.memory_info().rss
    for context in reversed(stack):
        await context.__aexit__(None, None, None)
    return {"connections": connections, "rss_before_mb": round(before / 2**20, 1),
            "rss_after_mb": round(after / 2**20, 1), "kb_per_connection": round((after - before) / connections / 1024, 1)}


def churn(manager: ManagerProcess, cycles: int) -> dict[str, object]:
    process = psutil.Process(manager.pid)
    live: set[int] = set()
    lock = threading.Lock()
    collisions, failures = 0, 0
    rss = {"start_mb": round(process.memory_info().rss / 2**20, 1)}
    failed_before = manager.ended("start_failed")
    done = 0

    def cycle(_: int) -> None:
        nonlocal collisions, failures, done
        status, answer, _headers = manager.request("POST", "/api/sessions", {"app": "fake"})
        if status != 201:
            failures += 1
            return
        port = int(answer["url"].split(":")[2].split("/")[0])
        with lock:
            collisions += port in live
            live.add(port)
        deleted = manager.request("DELETE", f"/api/sessions/{answer['id']}")[0] == 204
        with lock:
            if deleted:  # answered once the instance has exited
                live.discard(port)
            done += 1
        if done == cycles // 2:
            rss["middle_mb"] = round(process.memory_info().rss / 2**20, 1)

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(cycle, range(cycles)))
    rss["end_mb"] = round(process.memory_info().rss / 2**20, 1)
    busy = manager.ended("start_failed") - failed_before
    return {"cycles": cycles, "seconds": round(time.perf_counter() - started, 1), "port_collisions": collisions,
            "port_found_taken": busy, "failed_requests": failures, "manager_rss": rss}


def crash_reclaim(manager: ManagerProcess, crashes: int) -> dict[str, float]:
    """Milliseconds from an instance's crash (its process gone) to its port being free in the manager."""
    full = manager.status()["free_ports"]
    times = []
    for _ in range(crashes):
        answer = manager.create("fake", parameters={"mode": "crash"})
        pid = manager.session(answer["id"])["pid"]
        while alive(pid):
            time.sleep(0.0005)
        gone = time.perf_counter()
        while manager.status()["free_ports"] != full:
            pass
        times.append((time.perf_counter() - gone) * 1000)
    return figures(times)


def soak(manager: ManagerProcess, seconds: float) -> dict[str, object]:
    """Spawn/kill cycles one after the other for ``seconds``, and every tenth a viewer through the
    proxy that waits for its first frame: the manager's RSS sampled every 30 s."""
    process = psutil.Process(manager.pid)
    samples, cycles, collisions, live = [], 0, 0, set()
    started = next_sample = time.perf_counter()
    while time.perf_counter() - started < seconds:
        if time.perf_counter() >= next_sample:
            samples.append(round(process.memory_info().rss / 2**20, 1))
            next_sample += 30.0
        answer = manager.create("fake")
        port = int(answer["url"].split(":")[2].split("/")[0])
        collisions += port in live
        live.add(port)
        if cycles % 10 == 0:
            asyncio.run(first_frame(manager.ws_url("pattern", "A")))
        manager.request("DELETE", f"/api/sessions/{answer['id']}")
        live.discard(port)
        cycles += 1
    samples.append(round(process.memory_info().rss / 2**20, 1))
    return {"seconds": seconds, "cycles": cycles, "port_collisions": collisions, "manager_rss_mb_every_30s": samples}


# ---------------------------------------------------------------------- the abuse phase

ATTACKER, VIEWER = "127.0.0.3", "127.0.0.2"  # two loopback addresses: "per address" is real


def _from(source: str, port: int) -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


async def legit_view(manager: ManagerProcess, seconds: float) -> dict[str, float]:
    """A viewer from ``VIEWER`` that starts its instance through the proxy, then asks for frames one
    after the other (a redraw per frame, each acknowledged) for ``seconds``; its instance is then ended."""
    started = time.perf_counter()
    ws = await websockets.connect(manager.ws_url("pattern", "A"), sock=_from(VIEWER, manager.port),
                                  compression=None, max_size=None, open_timeout=60)
    view = RawView(ws)
    await ws.send(json.dumps({"type": "hello", "version": 1, "client_id": "", "width": 320, "height": 240,
                              "decoders": ["png", "jpeg"]}))
    frames = 0

    async def next_frame() -> None:
        while True:
            data = await asyncio.wait_for(ws.recv(), 60)
            if isinstance(data, bytes) and data[0] == 1:
                await ws.send(json.dumps({"type": "ack", "frame": int.from_bytes(data[4:8], "little"), "decode_ms": 1}))
                return
            if isinstance(data, str):
                message = json.loads(data)
                if message.get("type") == "notify" and message.get("session"):
                    view.session = (message["session"], message["token"])
                elif message.get("type") == "ping":
                    await ws.send(json.dumps({"type": "pong", "t": message["t"]}))
                elif message.get("type") == "disconnect":
                    raise RuntimeError(f"the legitimate viewer was refused: {message}")

    await next_frame()
    spawn_ms = (time.perf_counter() - started) * 1000
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        await ws.send(json.dumps({"type": "message", "text": "redraw"}))
        await next_frame()
        frames += 1
    fps = frames / (time.perf_counter() - began)
    await ws.close()
    assert view.session is not None
    session, token = view.session
    manager.request("DELETE", f"/api/sessions/{session}", headers={"Authorization": f"Bearer {token}"})
    return {"spawn_to_first_frame_ms": round(spawn_ms, 1), "fps": round(fps, 1)}


class Attack:
    """From ``ATTACKER``: a spawn flood (REST and proxy), 300 slow sockets and a WebSocket flood."""

    def __init__(self, manager: ManagerProcess) -> None:
        self.manager = manager
        self.stop = threading.Event()
        self.counts = {"rest_spawns": 0, "rest_refused": 0, "slow_sockets_opened": 0, "ws_connections": 0}
        self._threads = [threading.Thread(target=self._spawn_flood, args=(mode,), daemon=True)
                         for mode in ("never-ready", "hang")]
        self._threads += [threading.Thread(target=self._slow_sockets, daemon=True),
                          threading.Thread(target=lambda: asyncio.run(self._ws_flood()), daemon=True)]

    def __enter__(self) -> Attack:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(30)

    def _spawn_flood(self, mode: str) -> None:
        """Spawns that never get ready, or hang once ready, as fast as the manager answers."""
        while not self.stop.is_set():
            try:
                status = self.manager.request("POST", "/api/sessions", {"app": "fake", "parameters": {"mode": mode}},
                                              source=ATTACKER)[0]
            except OSError:
                time.sleep(0.01)  # refused at the accept
                continue
            self.counts["rest_spawns" if status == 201 else "rest_refused"] += 1

    def _slow_sockets(self) -> None:
        sockets: list[socket.socket] = []
        while not self.stop.is_set():
            while len(sockets) < 300 and not self.stop.is_set():
                try:
                    sock = _from(ATTACKER, self.manager.port)
                    sock.sendall(b"POST /api/sessions HTTP/1.1\r\n")
                    sockets.append(sock)
                    self.counts["slow_sockets_opened"] += 1
                except OSError:
                    break
            self.stop.wait(2.0)
            for sock in list(sockets):  # a header line every 2 s; closed ones are opened again
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    sock.close()
                    sockets.remove(sock)
        for sock in sockets:
            sock.close()

    async def _ws_flood(self) -> None:
        async def one() -> None:
            while not self.stop.is_set():
                try:
                    async with websockets.connect(self.manager.ws_url("pattern", "A"),
                                                  sock=_from(ATTACKER, self.manager.port), open_timeout=5) as ws:
                        self.counts["ws_connections"] += 1
                        await ws.send(json.dumps({"type": "hello", "version": 1}))
                        for _ in range(200):  # a message flood while it lasts
                            await ws.send(json.dumps({"type": "message", "text": "x" * 1000}))
                except (OSError, websockets.WebSocketException, TimeoutError):
                    await asyncio.sleep(0.01)

        await asyncio.gather(*(one() for _ in range(20)))


def manager_footprint(manager: ManagerProcess) -> dict[str, float]:
    process = psutil.Process(manager.pid)
    return {"fds": process.num_fds(), "rss_mb": round(process.memory_info().rss / 2**20, 1),
            "log_bytes": sum(len(line) + 1 for line in manager.log)}


def _low_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def abuse(tmp: Path, seconds: float, view_seconds: float = 5.0) -> dict[str, object]:
    """The legitimate viewer before, during and after the attack; the manager's footprint around it."""
    apps = {"pattern": {"command": ["{python}", str(PATTERN)]},
            "fake": {"command": ["{python}", str(FAKE)], "parameters": ["mode"]}}
    # The defaults users get, not the harness's lifted per-address limits.
    defaults = {"max_instances_per_address": 2, "max_pending_per_address": 1, "max_connections_per_address": 32,
                "max_connections_without_request_per_address": 8}
    manager = ManagerProcess(tmp, apps=apps, max_instances=8, reconnect_grace=0.2, start_timeout=20.0, **defaults)
    manager.preexec = _low_fd_limit
    results: dict[str, object] = {"attack_seconds": seconds}
    with manager:
        results["before"] = asyncio.run(legit_view(manager, view_seconds))
        time.sleep(1.0)
        results["manager_before"] = manager_footprint(manager)
        with Attack(manager) as attack:
            time.sleep(max(2.0, seconds - view_seconds - 3))  # the attack at full strength first
            results["during"] = asyncio.run(legit_view(manager, view_seconds))
            results["manager_during"] = manager_footprint(manager)
        results["attack"] = dict(attack.counts)
        time.sleep(12.0)  # slow sockets time out, hung spawns stop (start_timeout), the log settles
        results["after"] = asyncio.run(legit_view(manager, view_seconds))
        time.sleep(1.0)
        results["manager_after"] = manager_footprint(manager)
        results["accept_errors_logged"] = sum("out of system resource" in line for line in manager.log)
        # Whose lines the log grew by during the attack (logger names; the rest is the instances' output).
        results["log_lines_by_logger"] = dict(collections.Counter(
            line.split()[2] if len(line.split()) > 2 and line.split()[2].startswith(("remoteviz", "aiohttp", "asyncio"))
            else "other" for line in manager.log))
    before, during = results["before"], results["during"]
    assert isinstance(before, dict) and isinstance(during, dict)
    results["fps_during_over_before"] = round(during["fps"] / before["fps"], 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spawns", type=int, default=10)
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--crashes", type=int, default=20)
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of serial spawn/kill cycles (RSS over time)")
    parser.add_argument("--abuse", type=float, default=20.0, help="seconds of attack in the abuse phase (0: none)")
    parser.add_argument("--only-abuse", action="store_true", help="run the abuse phase only")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    if args.only_abuse:
        results = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "load_average": psutil.getloadavg()}
        with tempfile.TemporaryDirectory() as tmp:
            results["abuse"] = abuse(Path(tmp), args.abuse)
        print("abuse:", json.dumps(results["abuse"]))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n")
        return
    apps = {"hello_cone": {"command": ["{python}", str(HELLO_CONE)],
                           "env": {"PYOPENGL_PLATFORM": "egl", "EGL_PLATFORM": "surfaceless"}},
            "pattern": {"command": ["{python}", str(PATTERN)]},
            "fake": {"command": ["{python}", str(FAKE)], "parameters": ["mode"]}}
    results: dict[str, object] = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                                  "machine": f"{platform.processor() or platform.machine()}, {psutil.cpu_count()} cores",
                                  "load_average": psutil.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        with ManagerProcess(Path(tmp), apps=apps, max_instances=8, reconnect_grace=0.2,
                            idle_timeout=3600.0) as manager:
            results["spawn_to_first_frame"] = spawn_times(manager, args.spawns)
            print("spawn to first frame (HelloCone):", json.dumps(results["spawn_to_first_frame"]))
            answer = manager.create("pattern", render_area="A")
            query = f"session={answer['id']}&token={answer['token']}"
            results["proxy_round_trip"] = asyncio.run(round_trips(answer["url"], manager.ws_url("pattern", "A", query),
                                                                  args.pings))
            print("round trips, direct vs proxied:", json.dumps(results["proxy_round_trip"]))
            results["proxied_throughput"] = asyncio.run(throughput(manager.ws_url("pattern", "B", query), manager.pid))
            print("proxied throughput:", json.dumps(results["proxied_throughput"]))
            results["idle_connection_memory"] = asyncio.run(idle_memory(manager, query, args.connections))
            print("manager memory per idle proxied connection:", json.dumps(results["idle_connection_memory"]))
            manager.request("DELETE", f"/api/sessions/{answer['id']}")
            results["proxy_round_trip_unix"] = asyncio.run(unix_round_trips(manager, args.pings))
            print("round trips, direct vs proxied, proxy-mode instance (Unix socket):",
                  json.dumps(results["proxy_round_trip_unix"]))
            results["spawn_kill_cycles"] = churn(manager, args.cycles)
            print("spawn/kill cycles:", json.dumps(results["spawn_kill_cycles"]))
            results["crash_to_port_free"] = crash_reclaim(manager, args.crashes)
            print("crash to port free in the manager:", json.dumps(results["crash_to_port_free"]))
            if args.soak:
                results["soak"] = soak(manager, args.soak)
                print("soak:", json.dumps(results["soak"]))
            problems = [line for line in manager.log if " WARNING: " in line or " ERROR: " in line]
            results["manager_warnings"] = problems[:50]
            print(f"manager warnings: {len(problems)}", *problems[:10], sep="\n  ")
    if args.abuse:
        with tempfile.TemporaryDirectory() as tmp:
            results["abuse"] = abuse(Path(tmp), args.abuse)
        print("abuse:", json.dumps(results["abuse"]))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
