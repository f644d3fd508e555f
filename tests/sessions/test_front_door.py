"""The manager's front door, tried as an attacker would (issue #19), with real processes on loopback.

Other loopback addresses (127.0.0.2 ...) play other machines, so "per address" is real.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import websockets

from remoteviz import client
from remoteviz.limits import TrustedProxies
from remoteviz.sessions import issue_start_token

from ..integration.harness import running_service
from .harness import ROOT, ManagerProcess, wait_for

SECRET = "the-application-backend-secret-0123"
HELLO = json.dumps({"type": "hello", "version": 1, "width": 32, "height": 24, "decoders": ["png", "jpeg"]})


def _source_socket(source: str, port: int) -> socket.socket:
    """A TCP socket from the loopback address ``source`` connected to the manager."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


async def _until_closed(ws: websockets.ClientConnection) -> list[dict]:
    """Every control message until the connection closes (answering calibration pings)."""
    messages = []
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            data = await ws.recv()
            if isinstance(data, str):
                messages.append(json.loads(data))
                if messages[-1]["type"] == "ping":
                    await ws.send(data.replace('"ping"', '"pong"'))
    return messages


async def _refusal(url: str) -> str:
    """The REFUSED detail a proxied connection to ``url`` gets (close code 4002)."""
    async with websockets.connect(url) as ws:
        await ws.send(HELLO)
        messages = await _until_closed(ws)
    assert ws.close_code == 4002, (ws.close_code, messages)
    assert messages[-1]["type"] == "disconnect" and messages[-1]["reason"] == "REFUSED"
    return str(messages[-1]["detail"])


async def _accepted(url: str, source: str | None = None, port: int = 0,
                    headers: dict[str, str] | None = None) -> websockets.ClientConnection:
    """A viewer (from ``source``, with ``headers``) once the service accepted it (calibration answered)."""
    ws = await websockets.connect(url, sock=_source_socket(source, port) if source else None,
                                  additional_headers=headers)
    await ws.send(HELLO)
    while True:
        data = await ws.recv()
        if isinstance(data, str):
            message = json.loads(data)
            if message["type"] == "accept":
                return ws
            if message["type"] == "ping":
                await ws.send(data.replace('"ping"', '"pong"'))
            assert message["type"] != "disconnect", message


# ---------------------------------------------------------------------- 1. the secret covers the proxy


def test_with_a_secret_the_proxy_starts_an_instance_only_for_a_start_token_of_that_app(tmp_path: Path):
    with ManagerProcess(tmp_path, api_secret=SECRET) as manager:
        base = f"ws://127.0.0.1:{manager.port}/pattern/A"

        async def scenario() -> None:
            assert (await _refusal(base)).startswith("missing start token")
            forged = issue_start_token("another-secret-of-16-chars-or-more", "pattern")
            assert await _refusal(f"{base}?start={forged}") == "invalid start token"
            other_app = issue_start_token(SECRET, "fake")
            assert await _refusal(f"{base}?start={other_app}") == "invalid start token"
            expired = issue_start_token(SECRET, "pattern", now=time.time() - 120)
            assert await _refusal(f"{base}?start={expired}") == "expired start token"
            assert manager.status()["instances"] == 0  # none of them started anything
            token = issue_start_token(SECRET, "pattern")
            async with client.connect(f"{base}?start={token}", width=64, height=48, timeout=30) as remote:
                frame = await remote.next_frame(timeout=30)
                assert frame.image.shape == (48, 64, 3)
                assert await _refusal(f"{base}?start={token}") == "start token already used"

        asyncio.run(scenario())
        # The REST API, its listing and deleting want the secret too.
        for method, path in (("POST", "/api/sessions"), ("GET", "/api/sessions"), ("DELETE", "/api/sessions/x")):
            assert manager.request(method, path, {"app": "fake"}, {"Authorization": None})[0] == 401
        assert manager.metric('remoteviz_sessions_refused_total{reason="spawn"}') == 5


# ---------------------------------------------------------------------- 2. per address and per user


def test_one_address_cannot_take_every_instance_nor_block_the_spawns_of_others(tmp_path: Path):
    with ManagerProcess(tmp_path, max_instances=4, max_pending=2, max_instances_per_address=2,
                        max_pending_per_address=1, start_timeout=8.0) as manager:
        def post(source: str, mode: str = "ready") -> tuple[int, dict, dict]:
            return manager.request("POST", "/api/sessions", {"app": "fake", "parameters": {"mode": mode}},
                                   source=source)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = sorted(s for s, _, _ in pool.map(lambda _: post("127.0.0.2"), range(8)))
        assert statuses.count(201) <= 2 and set(statuses) <= {201, 429}, statuses
        while post("127.0.0.2")[0] == 201:
            pass
        status, answer, headers = post("127.0.0.2")
        assert status == 429 and answer["error"] == "this address has 2 viewer instances already (at most 2)"
        assert int(headers["Retry-After"]) > 0
        assert manager.status()["instances"] == 2  # the stranger holds its share, not the cap
        # A spawn that never gets ready holds its address's one pending slot, not everyone's.
        stuck = concurrent.futures.ThreadPoolExecutor(1).submit(post, "127.0.0.3", "never-ready")
        wait_for(lambda: manager.status()["pending"] == 1)
        assert post("127.0.0.3")[1]["error"] == "this address has 1 viewer instances starting already"
        started = time.monotonic()
        assert post("127.0.0.1")[0] == 201  # another address spawns at once
        assert time.monotonic() - started < 5
        assert stuck.result(timeout=30)[0] == 502  # stopped at start_timeout


def test_a_user_named_by_the_application_has_a_limit_of_its_own(tmp_path: Path):
    with ManagerProcess(tmp_path, api_secret=SECRET, max_instances_per_user=2, max_instances_per_address=1,
                        rest_endpoint="proxy") as manager:
        # The application's backend (the secret, one address) starts sessions for its users.
        alices = [manager.create("fake", user="alice") for _ in range(2)]
        status, answer, _ = manager.request("POST", "/api/sessions", {"app": "fake", "user": "alice"})
        assert (status, answer["error"]) == (429, "this user has 2 viewer instances already (at most 2)")
        # A page with a start token minted for alice counts against alice too.
        url = f"ws://127.0.0.1:{manager.port}/pattern/A?start={issue_start_token(SECRET, 'pattern', user='alice')}"
        assert asyncio.run(_refusal(url)) == "this user has 2 viewer instances already (at most 2)"
        # Refused at a limit, the token started nothing: once alice has room, the page's retry works.
        assert manager.request("DELETE", f"/api/sessions/{alices[0]['id']}")[0] == 204

        async def retry() -> None:
            async with client.connect(url, timeout=30) as remote:
                await remote.next_frame(timeout=30)

        asyncio.run(retry())
        assert manager.request("POST", "/api/sessions", {"app": "fake", "user": "bob"})[0] == 201
        # Without the secret nobody may name a user (it would escape the per-address limit).
        assert manager.request("POST", "/api/sessions", {"app": "fake", "user": "carol"},
                               {"Authorization": None})[0] == 401


def test_listing_and_deleting_need_the_secret_or_the_sessions_own_token(tmp_path: Path):
    with ManagerProcess(tmp_path) as manager:  # the default: no secret
        mine, theirs = manager.create("fake"), manager.create("fake")
        stranger = {"Authorization": None}
        status, answer, _ = manager.request("GET", "/api/sessions", headers=stranger)
        assert status == 403 and "sessions" not in answer
        counts = manager.request("GET", "/api/status", headers=stranger)[1]
        assert counts["instances"] == 2 and "sessions" not in counts and mine["id"] not in json.dumps(counts)
        for method in ("GET", "DELETE"):
            path = f"/api/sessions/{theirs['id']}"
            assert manager.request(method, path, headers=stranger)[0] == 403
            assert manager.request(method, path, headers={"Authorization": f"Bearer {mine['token']}"})[0] == 403
        shown = manager.request("GET", f"/api/sessions/{mine['id']}",
                                headers={"Authorization": f"Bearer {mine['token']}"})[1]
        assert shown["id"] == mine["id"] and shown["pid"] > 0
        assert manager.request("DELETE", f"/api/sessions/{mine['id']}",
                               headers={"Authorization": f"Bearer {mine['token']}"})[0] == 204
        assert manager.status()["instances"] == 1


# ---------------------------------------------------------------------- 3. DNS rebinding


def test_a_page_under_a_rebound_host_name_gets_nothing(tmp_path: Path):
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<p>app</p>")
    apps = {"fake": {"command": ["{python}", str(Path(__file__).parent / "fake_viewer.py")],
                     "static_dir": str(static)}}
    with ManagerProcess(tmp_path, apps=apps) as manager:
        victim = manager.create("fake")
        rebound = f"rebind.example:{manager.port}"
        hostile = {"Host": rebound, "Origin": f"http://{rebound}"}
        for method, path in (("GET", "/api/sessions"), ("GET", "/api/status"), ("POST", "/api/sessions"),
                             ("DELETE", f"/api/sessions/{victim['id']}"), ("GET", "/fake/"),
                             ("GET", "/remoteviz/remoteviz.js")):
            status, _, _ = manager.request(method, path, {"app": "fake"} if method == "POST" else None, hostile)
            assert status == 421, (method, path, status)

        async def upgrade() -> None:
            with pytest.raises(websockets.InvalidStatus) as refused:
                # The rebound name in the URL (so in Host), the manager's address underneath.
                async with websockets.connect(f"ws://{rebound}/fake/A", sock=_source_socket("127.0.0.1", manager.port),
                                              additional_headers={"Origin": hostile["Origin"]}):
                    pass
            assert refused.value.response.status_code == 421

        asyncio.run(upgrade())
        assert manager.status()["instances"] == 1  # the victim's session lives on, nothing else started
        assert manager.request("GET", "/health", headers={"Host": rebound})[0] == 200  # probes ask by any name
        for host in ("127.0.0.1", "localhost"):
            assert manager.request("GET", "/fake/", headers={"Host": f"{host}:{manager.port}"})[0] == 200
        wait_for(lambda: any("is not served (allowed_hosts)" in line for line in manager.log))
    with ManagerProcess(tmp_path, allowed_hosts=["viz.example.com"]) as manager:
        assert manager.request("GET", "/api/status", headers={"Host": "viz.example.com"})[0] == 200
        assert manager.request("GET", "/api/status", headers={"Host": f"127.0.0.1:{manager.port}"})[0] == 421


# ---------------------------------------------------------------------- 4. file descriptors and the log


def _low_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def test_300_slow_sockets_from_one_address_under_ulimit_256_starve_nobody(tmp_path: Path):
    manager = ManagerProcess(tmp_path, max_connections_per_address=32, max_connections_without_request_per_address=8,
                             header_timeout=3.0)
    manager.preexec = _low_fd_limit
    with manager:
        stop = threading.Event()
        sockets: list[socket.socket] = []

        def slow_loris() -> None:
            for _ in range(300):
                try:
                    sock = _source_socket("127.0.0.2", manager.port)
                    sock.sendall(b"GET /health HTTP/1.1\r\n")
                    sockets.append(sock)
                except OSError:
                    pass
            while not stop.wait(2.0):  # a header line every 2 s
                for sock in list(sockets):
                    try:
                        sock.sendall(b"X-Slow: 1\r\n")
                    except OSError:
                        sockets.remove(sock)

        attacker = threading.Thread(target=slow_loris, daemon=True)
        lines_before = len(manager.log)
        attacker.start()
        try:
            time.sleep(2.0)
            for _ in range(3):
                started = time.monotonic()
                assert manager.request("GET", "/health")[0] == 200
                assert manager.request("POST", "/api/sessions", {"app": "fake"})[0] == 201
                assert time.monotonic() - started < 5
                time.sleep(1.0)
            open_fds = psutil.Process(manager.pid).num_fds()
            # Sockets that never finish their headers are closed after header_timeout.
            wait_for(lambda: not sockets, timeout=15)
        finally:
            stop.set()
            attacker.join(10)
            for sock in sockets:
                sock.close()
    assert open_fds < 128, open_fds
    log = manager.log[lines_before:]
    assert not [line for line in log if "out of system resource" in line]
    assert sum(len(line) for line in log) < 64 * 1024, len(log)  # rate-limited, not megabytes


# ---------------------------------------------------------------------- 5 and 6. the body, the log


def test_deeply_nested_json_gets_a_400_and_no_traceback(tmp_path: Path):
    with ManagerProcess(tmp_path) as manager:
        for body in ("[" * 8000, '{"app": ' + "[" * 100 + "]" * 100 + "}", "{" * 16000):
            request = urllib_request(manager, "/api/sessions", body.encode())
            assert request[0] == 400, request
        assert manager.create("fake")
        assert not [line for line in manager.log if "Traceback" in line or "RecursionError" in line]


def urllib_request(manager: ManagerProcess, path: str, raw: bytes) -> tuple[int, bytes]:
    """POST ``raw`` as it is (not JSON-encoded by the harness)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", manager.port, timeout=30)
    try:
        connection.request("POST", path, body=raw, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_what_a_client_sends_cannot_forge_a_line_of_the_log(tmp_path: Path):
    with ManagerProcess(tmp_path) as manager:
        manager.request("GET", "/fake/a%0AFORGED%20access%20line%0D%0AFORGED-2")
        manager.request("GET", "/api/sessions/x%0AFORGED-3")

        async def proxied() -> None:
            await _refusal(f"ws://127.0.0.1:{manager.port}/nope%0AFORGED-4/A")

        asyncio.run(proxied())
        wait_for(lambda: sum("FORGED" in line for line in manager.log) >= 3)
        time.sleep(0.5)
    forged = [line for line in manager.log if "FORGED" in line]
    # Each mention is inside a line of the manager's own, never a line of its own.
    assert forged and all(" remoteviz." in line for line in forged), forged
    assert all("\\x0a" in line or "%0A" in line for line in forged), forged


# ---------------------------------------------------------------------- 7. close reasons, forwarded addresses


def test_a_killed_instances_viewer_is_told_it_ended(tmp_path: Path):
    with ManagerProcess(tmp_path) as manager:
        async def view() -> None:
            async with client.connect(manager.ws_url("pattern"), timeout=30) as remote:
                await remote.next_frame(timeout=30)
                ready = next(n for n in remote.notifications if n.data.get("session"))
                pid = manager.session(ready.data["session"], ready.data["token"])["pid"]
                os.kill(pid, signal.SIGKILL)
                await remote.wait_closed(20)
                assert remote.close_code == 4001
                assert remote.disconnect is not None and remote.disconnect.reason.value == "DISPOSED"
                assert remote.disconnect.detail == "the viewer instance ended (crashed)"

        asyncio.run(view())


def test_the_instance_counts_each_viewer_by_its_own_address_not_the_proxys(tmp_path: Path):
    with ManagerProcess(tmp_path, reconnect_grace=5.0) as manager:
        async def crowd() -> None:
            async with client.connect(manager.ws_url("pattern"), timeout=30) as first:
                ready = next(n for n in first.notifications if n.data.get("session"))
                join = manager.ws_url("pattern", query=f"session={ready.data['session']}&token={ready.data['token']}")
                # 33 more viewers of one session, each from an address of its own: the instance's
                # per-address limit (32) sees 33 addresses, not the manager's one.
                viewers = [await _accepted(join, f"127.0.1.{i + 1}", manager.port) for i in range(33)]
                # From one address, the instance's limit still holds (the 33rd of that address is refused).
                same = [await _accepted(join, "127.0.2.1", manager.port) for _ in range(32)]
                refused = await websockets.connect(join, sock=_source_socket("127.0.2.1", manager.port))
                await refused.send(HELLO)
                messages = await _until_closed(refused)
                assert refused.close_code == 4002 and messages[-1]["detail"] == \
                    "the viewer instance refused the connection: too many connections from this address"
                for ws in viewers + same:
                    await ws.close()

        asyncio.run(crowd())


def test_a_manager_behind_a_trusted_proxy_limits_the_addresses_it_forwards(tmp_path: Path):
    with ManagerProcess(tmp_path, trusted_proxies=["127.0.0.1"], max_instances_per_address=1) as manager:
        def post(client_address: str, source: str = "127.0.0.1") -> int:
            return manager.request("POST", "/api/sessions", {"app": "fake"}, source=source,
                                   headers={"X-Forwarded-For": f"198.51.100.1, {client_address}"})[0]

        assert [post("203.0.113.1"), post("203.0.113.1"), post("203.0.113.2")] == [201, 429, 201]
        # A peer that is not a trusted proxy is its own address, whatever it forwards.
        assert [post("203.0.113.3", source="127.0.0.2"), post("203.0.113.4", source="127.0.0.2")] == [201, 429]
        wait_for(lambda: any(line.split()[4:6] == ["203.0.113.2", "POST"] for line in manager.log))


@pytest.mark.parametrize("trusted", [True, False])
def test_a_service_behind_a_trusted_proxy_counts_the_address_it_forwards(trusted: bool):
    """nginx in front of a service (deploy/nginx): every socket comes from nginx's address."""
    settings = {"trusted_proxies": ["127.0.0.1"]} if trusted else {}
    with running_service(max_connections_per_address=2, **settings) as running:
        async def scenario() -> None:
            def behind_proxy(client_address: str) -> dict[str, str]:
                return {"X-Forwarded-For": f"198.51.100.1, {client_address}"}  # the left-most is made up

            async def view(client_address: str) -> websockets.ClientConnection:
                return await _accepted(running.url("A"), headers=behind_proxy(client_address))

            viewers = [await view("203.0.113.1"), await view("203.0.113.1")]
            if not trusted:  # the proxy's own address is full: nobody else gets in
                with pytest.raises((websockets.InvalidMessage, websockets.InvalidStatus, OSError)):
                    await view("203.0.113.2")
                return
            viewers += [await view(f"203.0.113.{i}") for i in range(2, 6)]  # 6 sockets from 127.0.0.1
            with pytest.raises(websockets.InvalidStatus) as refused:  # a 3rd of one client's
                await view("203.0.113.1")
            assert refused.value.response.status_code == 503
            assert b"too many connections from this address" in refused.value.response.body
            for ws in viewers:
                await ws.close()

        asyncio.run(scenario())


def test_trusted_proxies_name_the_right_most_address_that_is_not_a_proxy():
    trusted = TrustedProxies(["127.0.0.1", "10.0.0.0/8", "unix"])
    assert trusted.client("127.0.0.1", "203.0.113.7") == "203.0.113.7"
    assert trusted.client("127.0.0.1", "198.51.100.1, 203.0.113.7, 10.1.2.3") == "203.0.113.7"  # left: made up
    assert trusted.client("unix", "203.0.113.7") == "203.0.113.7"
    assert trusted.client("192.0.2.9", "203.0.113.7") == "192.0.2.9"  # not a proxy: its own address
    assert trusted.client("127.0.0.1", "not an address") == "127.0.0.1"
    assert trusted.client("127.0.0.1", None) == "127.0.0.1"
    assert not TrustedProxies() and not TrustedProxies().trusts("unix")


# ---------------------------------------------------------------------- issue #21: as documented


def _documented_command() -> list[str]:
    script = shutil.which("remoteviz-sessions") or str(Path(sys.executable).parent / "remoteviz-sessions")
    return [script] if Path(script).exists() else [sys.executable, "-m", "remoteviz.sessions"]


def test_the_example_configuration_runs_from_the_repository_root_as_documented(tmp_path: Path):
    """docs/sessions.md: ``remoteviz-sessions --config examples/sessions/sessions.toml``, from the
    repository root, with the example's own relative command path; only the port and the state
    folder are moved out of the way (environment overrides, as documented)."""
    manager = ManagerProcess(tmp_path)
    manager.arguments = [*_documented_command(), "--config", "examples/sessions/sessions.toml"]
    manager.cwd = ROOT
    manager.environ = {"REMOTEVIZ_SESSIONS_PORT": "0", "REMOTEVIZ_SESSIONS_STATE_DIR": str(tmp_path / "state"),
                       "PYOPENGL_PLATFORM": "egl", "EGL_PLATFORM": "surfaceless"}
    with manager:
        answer = manager.create("hello_cone", render_area="TheCone")

        async def view() -> None:
            async with client.connect(answer["url"], width=120, height=90, timeout=60) as remote:
                frame = await remote.next_frame(timeout=60)
                assert frame.image.shape == (90, 120, 3) and frame.image.std() > 10

        asyncio.run(view())
    assert not [line for line in manager.log if "can't open file" in line]


def test_a_busy_port_ends_with_one_clear_line_and_a_clean_exit(tmp_path: Path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = tmp_path / "sessions.toml"
        config.write_text(f'port = {port}\nstate_dir = "{tmp_path / "state"}"\n'
                          '[apps.x]\ncommand = ["{python}", "-c", "pass"]\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("REMOTEVIZ_")}
        done = subprocess.run([sys.executable, "-m", "remoteviz.sessions", "--config", str(config)], env=env,
                              capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"remoteviz-sessions: cannot listen on 127.0.0.1:{port}: the port is in use by another program "
        "(set port in the configuration, or REMOTEVIZ_SESSIONS_PORT)"], done.stderr
    assert "Unclosed" not in done.stdout + done.stderr


def test_the_new_settings_are_validated_with_one_line_each():
    from remoteviz.sessions.config import ConfigError, parse

    base = {"apps": {"x": {"command": ["{python}", "x.py"]}}}
    for key, value in (("allowed_hosts", ["viz.example.com:443"]), ("trusted_proxies", ["nginx"]),
                       ("max_instances_per_address", 0), ("max_connections_without_request_per_address", -1),
                       ("header_timeout", 0)):
        with pytest.raises(ConfigError, match=f"\n  {key}: "):
            parse({**base, key: value})
    config = parse({**base, "allowed_hosts": ["Viz.Example.com"], "trusted_proxies": ["10.0.0.0/8", "::1"]})
    assert config.allowed_hosts == ("viz.example.com",) and config.max_instances_per_address == 2
