"""The REST handshake and the WebSocket proxy, with real remoteviz services behind the manager."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import websockets

from remoteviz import client
from remoteviz.client import ServiceClosed
from remoteviz.events import MouseAction

from .harness import HELLO_CONE, ManagerProcess, wait_for
from .pattern_viewer import drawn_as_received

PATTERN_APPS = None  # the harness's default apps: fake and pattern


def _notified_session(view: client.RemoteView) -> tuple[str, str]:
    ready = next(n for n in view.notifications if n.event == "pendingNetworkCalibration" and n.data.get("session"))
    return ready.data["session"], ready.data["token"]


@pytest.fixture
def manager(tmp_path: Path):
    with ManagerProcess(tmp_path, max_instances=3, reconnect_grace=3.0) as running:
        yield running


def test_rest_handshake_with_the_real_hello_cone(tmp_path: Path):
    apps = {"hello_cone": {"command": ["{python}", str(HELLO_CONE)],
                           "env": {"PYOPENGL_PLATFORM": "egl", "EGL_PLATFORM": "surfaceless"}}}
    with ManagerProcess(tmp_path, apps=apps) as manager:
        answer = manager.create("hello_cone", render_area="TheCone")
        assert set(answer) == {"id", "url", "token", "expires"}
        assert answer["url"].startswith("ws://127.0.0.1:") and answer["url"].endswith(f"token={answer['token']}")

        async def view() -> None:
            async with client.connect(answer["url"], width=200, height=150, timeout=30) as remote:
                frame = await remote.latest_frame(timeout=30, settle=0.3)
                assert frame.image.shape == (150, 200, 3)
                assert frame.image.std() > 10  # a cone on a gradient, not a blank picture
            # The instance wants the session's token: without one, or with another session's, it refuses.
            with pytest.raises(ServiceClosed, match="REFUSED: missing access token"):
                async with client.connect(answer["url"].split("?")[0], timeout=30):
                    pass

        asyncio.run(view())
        info = manager.session(answer["id"])
        assert info["app"] == "hello_cone" and info["memory"] > 0


def test_a_token_of_one_session_does_not_open_another(manager: ManagerProcess):
    first, second = manager.create("pattern"), manager.create("pattern")
    crossed = second["url"].split("?")[0] + "?token=" + first["token"]

    async def attempt() -> None:
        with pytest.raises(ServiceClosed, match="REFUSED: invalid access token"):
            async with client.connect(crossed, timeout=20):
                pass
        with pytest.raises(ServiceClosed, match="REFUSED: invalid access token"):
            async with client.connect(manager.ws_url("pattern", query=f"session={second['id']}&token={first['token']}")):
                pass

    asyncio.run(attempt())


def test_proxied_frames_arrive_exactly_as_drawn_and_input_reaches_the_instance(manager: ManagerProcess):
    async def view() -> None:
        async with client.connect(manager.ws_url("pattern"), width=160, height=120,
                                  timeout=30) as remote:
            states = [n.data.get("state") for n in remote.notifications if n.event == "pendingNetworkCalibration"]
            assert states[:2] == ["launching", "ready"]  # the page could show a loader meanwhile
            frame = await remote.next_frame(timeout=20)
            assert drawn_as_received(frame), frame.frame.text
            await remote.mouse(MouseAction.DOWN, 17, 23)
            assert await remote.next_message() == "mouse down 17 23 0"
            big = "x" * 300_000  # both directions, larger than any socket buffer
            await remote.send_message(big)
            assert await remote.next_message() == "echo " + big

    asyncio.run(view())
    assert manager.metric('remoteviz_sessions_proxied_bytes_total{direction="to_browser"}') > 300_000


@pytest.mark.parametrize("message, code, reason", [("kick", 4003, "KICKED"), ("dispose", 4001, "DISPOSED")])
def test_the_instance_close_code_and_reason_reach_the_browser(manager: ManagerProcess, message: str, code: int,
                                                              reason: str):
    async def view() -> None:
        async with client.connect(manager.ws_url("pattern"), timeout=30) as remote:
            await remote.send_message(message)
            await remote.wait_closed(20)
            assert remote.close_code == code
            assert remote.disconnect is not None and remote.disconnect.reason.value == reason

    asyncio.run(view())


def test_the_browser_close_reaches_the_instance(manager: ManagerProcess):
    closes = manager.pid_dir / "closes"

    async def view(abort: bool) -> None:
        async with websockets.connect(manager.ws_url("pattern")) as ws:
            await ws.send(json.dumps({"type": "hello", "version": 1, "client_id": "", "width": 64, "height": 48,
                                      "decoders": ["png", "jpeg"]}))
            while True:  # until accepted
                data = await ws.recv()
                if isinstance(data, str) and json.loads(data)["type"] == "accept":
                    break
                if isinstance(data, str) and json.loads(data)["type"] == "ping":
                    await ws.send(data.replace('"ping"', '"pong"'))
            if abort:
                ws.transport.abort()  # no close frame: the instance must see an abort
            else:
                await ws.close(1000, "bye")

    asyncio.run(view(abort=False))
    wait_for(lambda: closes.exists() and "aborted=False" in closes.read_text())
    asyncio.run(view(abort=True))
    wait_for(lambda: "aborted=True" in closes.read_text())


def test_a_reload_within_the_grace_returns_to_the_same_session(manager: ManagerProcess):
    tokens = []

    async def reload() -> None:
        async with client.connect(manager.ws_url("pattern"), timeout=30) as remote:
            session, token = _notified_session(remote)
        tokens.append(token)
        pid = manager.session(session, token)["pid"]  # the page's own token shows its session
        query = f"session={session}&token={token}"
        async with client.connect(manager.ws_url("pattern", query=query), timeout=30) as again:
            assert manager.session(session, token)["pid"] == pid
            await again.next_frame(timeout=20)
        # REST mode: the page keeps its url; reconnecting within the grace finds the same process.
        answer = manager.create("pattern")
        tokens.append(answer["token"])
        async with client.connect(answer["url"], timeout=30):
            pass
        rest_pid = manager.session(answer["id"])["pid"]
        async with client.connect(answer["url"], timeout=30):
            assert manager.session(answer["id"])["pid"] == rest_pid
        # After the grace the session has ended, and its token opens nothing.
        await asyncio.to_thread(wait_for, lambda: manager.session(session, token) is None)
        with pytest.raises(ServiceClosed, match="REFUSED: unknown or ended session"):
            async with client.connect(manager.ws_url("pattern", query=query), timeout=30):
                pass

    asyncio.run(reload())
    assert manager.ended("disconnected") >= 1
    # Every request was logged with its session, and no token was (they are credentials).
    assert any("GET /pattern/A 101" in line and "session=" in line and "session=-" not in line
               for line in manager.log)
    assert not [line for line in manager.log if any(token in line for token in tokens)]


def test_refusals_reach_the_page_with_their_reason(tmp_path: Path):
    with ManagerProcess(tmp_path, max_instances=1) as manager:
        async def refused(url: str, match: str, **headers: str) -> None:
            async with websockets.connect(url, additional_headers=headers) as ws:
                try:
                    await ws.send(json.dumps({"type": "hello", "version": 1}))
                except websockets.ConnectionClosed:
                    pass  # a bad origin is refused before the hello
                messages = []
                with pytest.raises(websockets.ConnectionClosed):
                    while True:
                        messages.append(await ws.recv())
                disconnect = json.loads(messages[-1])
                assert disconnect["type"] == "disconnect" and disconnect["reason"] == "REFUSED"
                assert match in disconnect["detail"]
            assert ws.close_code == 4002

        async def scenario() -> None:
            await refused(manager.ws_url("nope"), "unknown application 'nope'")
            await refused(manager.ws_url("pattern", query="session=abc&token=forged.token"),
                          "unknown or ended session")
            await refused(manager.ws_url("pattern"), "origin not allowed", Origin="http://evil.example")
            async with client.connect(manager.ws_url("pattern"), timeout=30):
                await refused(manager.ws_url("pattern"), "all 1 viewer instances are in use")

        asyncio.run(scenario())
        status, answer, _ = manager.request("POST", "/api/sessions", {"app": "fake"},
                                            headers={"Origin": "http://evil.example"})
        assert (status, answer["error"]) == (403, "origin not allowed")
        assert manager.request("POST", "/api/sessions", {"app": "nope"})[:2] == (404, {"error": "unknown application 'nope'"})
        assert manager.request("POST", "/api/sessions", {"app": "fake", "parameters": {"evil": "1"}})[0] == 400
        assert manager.metric('remoteviz_sessions_refused_total{reason="origin"}') == 2


def test_an_allowed_other_origin_gets_cors_headers_and_others_do_not(tmp_path: Path):
    with ManagerProcess(tmp_path, allowed_origins=["http://viewer.example"]) as manager:
        status, _, headers = manager.request("OPTIONS", "/api/sessions", None, {"Origin": "http://viewer.example"})
        assert status == 204 and "POST" in headers["Access-Control-Allow-Methods"]
        status, _, headers = manager.request("POST", "/api/sessions", {"app": "fake"}, {"Origin": "http://viewer.example"})
        assert status == 201 and headers["Access-Control-Allow-Origin"] == "http://viewer.example"
        status, _, headers = manager.request("OPTIONS", "/api/sessions", None, {"Origin": "http://evil.example"})
        assert status == 403 and "Access-Control-Allow-Origin" not in headers


def test_the_api_secret_guards_every_route(tmp_path: Path):
    secret = "s3cret-for-the-api-0123456789"
    with ManagerProcess(tmp_path, api_secret=secret) as manager:
        for method, path in (("POST", "/api/sessions"), ("GET", "/api/sessions"), ("GET", "/api/status"),
                             ("DELETE", "/api/sessions/x")):
            assert manager.request(method, path, {"app": "fake"} if method == "POST" else None,
                                   {"Authorization": None})[0] == 401
            assert manager.request(method, path, None, {"Authorization": "Bearer wrong"})[0] == 401
        status, answer, _ = manager.request("POST", "/api/sessions", {"app": "fake"},
                                            {"Authorization": f"Bearer {secret}"})
        assert status == 201
        listed = manager.request("GET", "/api/sessions", None, {"Authorization": f"Bearer {secret}"})[1]
        assert [s["id"] for s in listed["sessions"]] == [answer["id"]]
        assert "token" not in json.dumps(listed)  # no credential in listings
        assert manager.request("GET", "/health")[0] == 200  # probes need no secret


def test_dev_server_serves_the_client_and_app_files_and_nothing_else(tmp_path: Path):
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<p>hello</p>")
    (static / ".env").write_text("SECRET=1")
    apps = {"fake": {"command": ["{python}", "x"], "static_dir": str(static)}}
    with ManagerProcess(tmp_path, apps=apps) as manager:
        assert manager.request("GET", "/fake/")[1] == {"text": "<p>hello</p>"}
        assert manager.request("GET", "/remoteviz/remoteviz.js")[0] == 200
        for path in ("/fake/.env", "/fake/../sessions.toml", "/fake/%2e%2e/sessions.toml", "/other/index.html"):
            assert manager.request("GET", path)[0] == 404, path
        assert manager.request("GET", "/ready")[0] == 200
        assert "remoteviz_sessions_free_ports" in manager.request("GET", "/metrics")[1]["text"]


def test_a_browser_that_does_not_read_makes_the_manager_hold_a_bounded_amount(manager: ManagerProcess):
    """50 MiB of echoes toward a page that reads nothing: the relay waits instead of buffering them."""
    import psutil

    process = psutil.Process(manager.pid)
    chunk, count = 512 * 1024, 100

    async def flood() -> tuple[int, int]:
        async with websockets.connect(manager.ws_url("pattern"), max_queue=1, max_size=None) as ws:
            await ws.send(json.dumps({"type": "hello", "version": 1, "width": 32, "height": 24,
                                      "decoders": ["png", "jpeg"]}))
            while True:  # until accepted, answering calibration as a page does
                data = await ws.recv()
                if isinstance(data, str) and json.loads(data)["type"] == "accept":
                    break
                if isinstance(data, str) and json.loads(data)["type"] == "ping":
                    await ws.send(data.replace('"ping"', '"pong"'))
            before = process.memory_info().rss
            for _ in range(count):
                await ws.send(json.dumps({"type": "message", "text": "z" * chunk}))
            # The echoes come back until every buffer on the way is full, then stop.
            def relayed():
                return manager.metric('remoteviz_sessions_proxied_bytes_total{direction="to_browser"}')
            previous = -1.0
            while (now := relayed()) != previous:
                previous = now
                await asyncio.sleep(1.0)
            grown = process.memory_info().rss - before
            ws.transport.abort()
            return int(previous), grown

    relayed, grown = asyncio.run(flood())
    print(f"relayed {relayed / 2**20:.1f} MiB of {count * chunk / 2**20:.0f}; manager RSS grew {grown / 2**20:.1f} MiB")
    assert relayed < count * chunk * 0.8  # the rest waits in the instance, which keeps its own bound
    assert grown < 16 * 2**20


def test_tls_serves_https_and_wss_urls(tmp_path: Path):
    import ssl
    import subprocess
    import urllib.request

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    with ManagerProcess(tmp_path, tls_certificate=str(cert), tls_private_key=str(key), rest_endpoint="proxy") as manager:
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        with urllib.request.urlopen(f"https://127.0.0.1:{manager.port}/health", context=context, timeout=30) as answer:
            assert answer.read() == b"ok\n"
        request = urllib.request.Request(f"https://127.0.0.1:{manager.port}/api/sessions", method="POST",
                                         data=json.dumps({"app": "fake"}).encode())
        with urllib.request.urlopen(request, context=context, timeout=30) as answer:
            assert json.loads(answer.read())["url"].startswith(f"wss://127.0.0.1:{manager.port}/fake/main?session=")


def test_a_page_that_leaves_while_its_instance_starts_does_not_leave_it_running(tmp_path: Path):
    apps = {"slow": {"command": ["{python}", str(Path(__file__).parent / "fake_viewer.py")],
                     "env": {"REMOTEVIZ_PARAM_MODE": "slow"}}}
    with ManagerProcess(tmp_path, apps=apps) as manager:
        async def leave() -> None:
            async with websockets.connect(manager.ws_url("slow")) as ws:
                await ws.send(json.dumps({"type": "hello", "version": 1}))
                assert json.loads(await ws.recv())["event"] == "pendingNetworkCalibration"
                ws.transport.abort()  # the page's tab is closed: its connection is gone
        asyncio.run(leave())
        wait_for(lambda: manager.ended("abandoned") == 1)
        wait_for(lambda: manager.status()["instances"] == 0)
