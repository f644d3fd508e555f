"""Proxy mode: each instance listens on a Unix socket in a private folder, and on no TCP port."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from remoteviz import client

from .harness import ManagerProcess, alive, wait_for
from .pattern_viewer import drawn_as_received


@pytest.fixture
def socket_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short temporary root for the manager's socket folders (its TMPDIR): Unix paths are short."""
    root = Path(tempfile.mkdtemp(prefix="rvsock-"))
    monkeypatch.setenv("TMPDIR", str(root))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _socket_of(pid: int) -> Path:
    """The one Unix socket ``pid`` listens on; asserts it listens on no TCP/UDP port at all."""
    process = psutil.Process(pid)
    inet = process.net_connections(kind="inet")
    assert not [c for c in inet if c.status == psutil.CONN_LISTEN], inet
    # The listening socket and every connection it accepted are named by the one path.
    paths = {c.laddr for c in process.net_connections(kind="unix") if c.laddr}
    assert len(paths) == 1, paths
    return Path(paths.pop())


SECRET = "operator-secret-0123456789"


def _proxied_session(manager: ManagerProcess) -> dict:
    sessions = manager.request("GET", "/api/sessions")[1]["sessions"]
    assert len(sessions) == 1, sessions
    return sessions[0]


def test_a_proxied_instance_listens_on_a_private_unix_socket_only(tmp_path: Path, socket_root: Path):
    # The operator's secret lists sessions (and the proxy then wants a start token: ws_url mints one).
    with ManagerProcess(tmp_path, reconnect_grace=0.5, api_secret=SECRET) as manager:
        seen: dict[str, object] = {}

        async def view() -> None:
            async with client.connect(manager.ws_url("pattern"), width=160, height=120,
                                      timeout=30) as remote:
                for _ in range(3):  # exactly as drawn through the manager's Unix connection
                    frame = await remote.next_frame(timeout=20)
                    assert drawn_as_received(frame), frame.frame.text
                    await remote.send_message("redraw")
                session = _proxied_session(manager)
                assert session["port"] is None
                path = _socket_of(session["pid"])
                folder = path.parent
                assert folder.parent == socket_root and folder.name.startswith("remoteviz-")
                info = folder.lstat()
                assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
                assert info.st_uid == os.getuid()
                assert stat.S_ISSOCK(path.lstat().st_mode)
                seen.update(pid=session["pid"], folder=folder)

        asyncio.run(view())
        # The last viewer left: after the grace the instance ends, and its folder with it.
        wait_for(lambda: not alive(seen["pid"]), timeout=30)
        wait_for(lambda: not Path(seen["folder"]).exists(), timeout=10)
        assert list(socket_root.iterdir()) == []


def test_the_socket_folder_goes_when_the_instance_is_killed(tmp_path: Path, socket_root: Path):
    with ManagerProcess(tmp_path, rest_endpoint="proxy") as manager:
        answer = manager.create("fake")  # a REST session in proxy mode: also a Unix socket
        pid = manager.session(answer["id"])["pid"]
        folder = _socket_of(pid).parent
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: manager.session(answer["id"]) is None, timeout=20)
        assert not folder.exists()
        assert list(socket_root.iterdir()) == []


def test_a_restarted_manager_removes_the_socket_folders_of_its_orphans(tmp_path: Path, socket_root: Path):
    manager = ManagerProcess(tmp_path, rest_endpoint="proxy").start()
    try:
        answer = manager.create("fake", parameters={"mode": "ignore-term"})  # outlives the manager's end of file
        pid = manager.session(answer["id"])["pid"]
        folder = _socket_of(pid).parent
    finally:
        manager.kill()
    assert alive(pid) and folder.exists()
    with ManagerProcess(tmp_path, rest_endpoint="proxy"):  # the same state folder
        assert not alive(pid)
        assert not folder.exists()
    assert list(socket_root.iterdir()) == []


def test_a_socket_root_other_users_may_write_to_is_not_used(tmp_path: Path, socket_root: Path):
    socket_root.chmod(0o777)  # world-writable without the sticky bit: anyone could swap a folder in
    with ManagerProcess(tmp_path, rest_endpoint="proxy") as manager:
        status, answer, _ = manager.request("POST", "/api/sessions", {"app": "fake"})
        assert status == 502 and "may be written by other users" in answer["error"], answer
        assert list(socket_root.iterdir()) == []
        assert manager.status()["instances"] == 0
    socket_root.chmod(0o1777)  # as /tmp: the sticky bit keeps others from renaming our folder away
    with ManagerProcess(tmp_path, rest_endpoint="proxy") as manager:
        answer = manager.create("fake")
        folder = _socket_of(manager.session(answer["id"])["pid"]).parent
        assert folder.parent == socket_root
    assert list(socket_root.iterdir()) == []  # the manager stopped, and its instances with their folders


def test_direct_mode_keeps_a_tcp_port_from_the_range(tmp_path: Path, socket_root: Path):
    with ManagerProcess(tmp_path, rest_endpoint="direct") as manager:
        first, last = manager.settings["port_range"]
        answer = manager.create("fake")
        session = manager.session(answer["id"])
        assert first <= session["port"] <= last
        listening = [c.laddr.port for c in psutil.Process(session["pid"]).net_connections(kind="inet")
                     if c.status == psutil.CONN_LISTEN]
        assert listening == [session["port"]]
        assert list(socket_root.iterdir()) == []
