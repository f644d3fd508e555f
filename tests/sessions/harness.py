"""A real session manager process on loopback, and what the tests ask it, for tests/sessions/."""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FAKE = HERE / "fake_viewer.py"
PATTERN = HERE / "pattern_viewer.py"
HELLO_CONE = ROOT / "examples" / "hello_cone" / "hello_cone.py"


def free_range(size: int) -> tuple[int, int]:
    """A run of ``size`` ports that nobody listens on now (a random start, so runs rarely overlap).

    Below Linux's ephemeral range (32768 and up), where outgoing connections take their ports.
    """
    while True:
        first = random.randrange(20000, 32000 - size)
        if all(port_free(p) for p in range(first, first + size)):
            return first, first + size - 1


def port_free(port: int) -> bool:
    """True if a server could bind ``port`` on 127.0.0.1 now (SO_REUSEADDR, as servers bind)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.02):
    """Poll ``predicate`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)


def toml_value(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


class ManagerProcess:
    """``python -m remoteviz.sessions`` with a generated config; stop() ends it with SIGTERM.

    The per-address limits are lifted unless a test sets them (test clients share 127.0.0.1);
    with ``api_secret`` set, :meth:`request` sends it and :meth:`ws_url` mints a start token.
    """

    def __init__(self, tmp: Path, apps: dict[str, dict] | None = None, **settings: object) -> None:
        self.tmp = tmp
        self.pid_dir = tmp / "pids"
        self.pid_dir.mkdir(exist_ok=True)
        self.tokens: dict[str, str] = {}  # session id -> its token, from create()
        self.secret = str(settings.get("api_secret", ""))
        self.environ: dict[str, str] = {}
        self.arguments: list[str] | None = None  # the command, when not python -m remoteviz.sessions
        self.cwd = ROOT
        self.preexec: Callable[[], None] | None = None  # run in the child before it starts (resource limits)
        settings.setdefault("max_instances_per_address", 64)
        settings.setdefault("max_pending_per_address", 64)
        settings.setdefault("max_connections_per_address", 256)
        settings.setdefault("max_connections_without_request_per_address", 64)
        settings.setdefault("port_range", list(free_range(int(settings.get("max_instances", 8)) + 4)))
        settings.setdefault("state_dir", str(tmp / "state"))
        settings.setdefault("port", 0)
        settings.setdefault("heartbeat", 0.5)
        settings.setdefault("kill_grace", 1.0)
        self.settings = settings
        if apps is None:
            apps = {"fake": {"command": ["{python}", str(FAKE)], "parameters": ["mode"]},
                    "pattern": {"command": ["{python}", str(PATTERN)]}}
        lines = [f"{k} = {toml_value(v)}" for k, v in settings.items()]
        for name, table in apps.items():
            table = {**table, "env": {"FAKE_PID_DIR": str(self.pid_dir), **table.get("env", {})}}
            lines.append(f"[apps.{name}]")
            for key, value in table.items():
                if key == "env":
                    lines.append("env = {" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}")
                else:
                    lines.append(f"{key} = {toml_value(value)}")
        self.config = tmp / "sessions.toml"
        self.config.write_text("\n".join(lines) + "\n")
        self.log: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> ManagerProcess:
        """Start it and wait until it listens."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("REMOTEVIZ_")}
        env.update(self.environ)
        arguments = self.arguments or [sys.executable, "-m", "remoteviz.sessions", "--config", str(self.config)]
        self.process = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                        cwd=self.cwd, preexec_fn=self.preexec)
        ready = threading.Event()

        def read() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.log.append(line.rstrip())
                if line.startswith("remoteviz-sessions listening on port"):
                    self.port = int(line.split()[-1])
                    ready.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + 30
        while not ready.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                if self.process.poll() is None:
                    self.kill()
                reader.join(5)
                raise AssertionError("the manager did not start:\n" + "\n".join(self.log))
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait for its exit (it stops every instance first); its exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL: its instances are left behind, as after a crash of the manager."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def __enter__(self) -> ManagerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()

    # ---- HTTP
    def request(self, method: str, path: str, body: object = None, headers: dict[str, str | None] | None = None,
                source: str | None = None) -> tuple[int, dict, dict[str, str]]:
        """One HTTP request (from the loopback address ``source``, e.g. 127.0.0.2, when given);
        (status, JSON body or {}, headers). A header given as None is not sent."""
        data = json.dumps(body).encode() if body is not None else None
        # The API secret if there is one; else, for one session's route, that session's token (its page's right).
        credential = self.secret or self.tokens.get(path.removeprefix("/api/sessions/"), "")
        sent = {"Content-Type": "application/json", **({"Authorization": f"Bearer {credential}"} if credential else {}),
                **(headers or {})}
        sent = {k: v for k, v in sent.items() if v is not None}
        if source is not None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60, source_address=(source, 0))
            try:
                connection.request(method, path, body=data, headers=sent)
                response = connection.getresponse()
                raw, status, answer_headers = response.read(), response.status, dict(response.headers)
            finally:
                connection.close()
        else:
            request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                             headers=sent)
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    raw, status, answer_headers = response.read(), response.status, dict(response.headers)
            except urllib.error.HTTPError as error:
                raw, status, answer_headers = error.read(), error.code, dict(error.headers)
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"text": raw.decode(errors="replace")}
        if method == "POST" and path == "/api/sessions" and status == 201:
            self.tokens[parsed["id"]] = parsed["token"]  # what the asker may see and end its session with
        return status, parsed, answer_headers

    def create(self, app: str = "fake", **body: object) -> dict:
        """POST /api/sessions; the answer, which must be 201."""
        status, answer, _ = self.request("POST", "/api/sessions", {"app": app, **body})
        assert status == 201, (status, answer)
        return answer

    def status(self) -> dict:
        """GET /api/status (each session listed only with the API secret)."""
        return self.request("GET", "/api/status")[1]

    def session(self, session_id: str, token: str | None = None) -> dict | None:
        """GET /api/sessions/{id} with the API secret or the session's token (given, or from create());
        None once it is gone."""
        headers = {"Authorization": f"Bearer {token}"} if token and not self.secret else None
        status, answer, _ = self.request("GET", f"/api/sessions/{session_id}", headers=headers)
        return answer if status == 200 else None

    def metric(self, name: str) -> float:
        """One sample of /metrics (``name`` with its labels, as printed); 0 if absent."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=30) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[-1])
        return 0.0

    def ended(self, reason: str) -> float:
        """How many instances ended for ``reason``."""
        return self.metric(f'remoteviz_sessions_ended_total{{reason="{reason}"}}')

    def ws_url(self, app: str, area: str = "A", query: str = "") -> str:
        """The proxy URL of ``app``'s render area ``area`` (with a fresh start token when a secret is
        set and the query joins no session, as the application's backend would give its page)."""
        if self.secret and "session=" not in query:
            from remoteviz.sessions import issue_start_token

            query = "&".join(filter(None, [query, f"start={issue_start_token(self.secret, app)}"]))
        return f"ws://127.0.0.1:{self.port}/{app}/{area}" + (f"?{query}" if query else "")
