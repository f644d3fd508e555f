"""The local backend: each instance a child process of the manager, in a process group of its own.

- The control channel is a socket pair; the child's end is passed as ``REMOTEVIZ_CONTROL_FD``.
  When the manager dies, however it dies, the child reads end of file and stops
  (:mod:`remoteviz.launch`).
- The exit is watched by asyncio's child watcher (``await process.wait()``), not polled. Once the
  child has exited, what is left of its process group (grandchildren) is killed, so nothing it
  started outlives it.
- In proxy mode (``LaunchSpec.unix_socket``) the child listens on no TCP port: it gets a Unix
  socket path (``REMOTEVIZ_UNIX_SOCKET``) in a folder of its own that only the manager's user
  may enter (``mkdtemp``, mode 0700, under a root no other user can tamper with), and reports
  ``ready unix=PATH``. The folder goes when the child exits, however it exits; a manager started
  again removes those of a previous run's orphans.
- Each instance is recorded in the state folder (``<session>.json``: pid, process start time,
  process group, the manager's pid). A manager started again finds the records of a manager that
  is gone and stops those processes (SIGTERM, then SIGKILL), so their ports are free again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from .. import launch
from .backend import Address, Backend, InstanceHandle, LaunchSpec, UnixAddress

log = logging.getLogger("remoteviz.sessions")

MAX_CONTROL_LINE = 4096


def _start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks since boot): a pid reused later differs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None  # a zombie holds no port and runs nothing
    return int(fields[19])


def _rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _kill_group(pgid: int, sig: int) -> bool:
    """Signal a process group; False if none of it is left."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        log.warning("not allowed to signal process group %d", pgid)
        return False


def _group_alive(pgid: int) -> bool:
    """True while a process of group ``pgid`` still runs (zombies do not count: they hold nothing)."""
    for status_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status_file.read_text()
        except OSError:
            continue
        state = fields[fields.rindex(")") + 2:].split()
        if state[0] != "Z" and int(state[2]) == pgid:
            return True
    return False


def _private_folder(root: Path) -> Path:
    """A new folder under ``root`` that only this user can enter (for one instance's socket).

    ``root`` itself must be this user's (or root's), and writable by others only with the sticky
    bit (``/tmp``), so nobody else can rename the folder away and put one of theirs in its place.
    """
    info = root.stat()
    if info.st_uid not in (0, os.getuid()) or (info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX):
        raise OSError(f"{root} may be written by other users: no instance socket goes there")
    folder = Path(tempfile.mkdtemp(prefix="remoteviz-", dir=root))  # mode 0700, created, never reused
    info = folder.lstat()
    if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) != 0o700:
        raise OSError(f"{folder} is not a private folder")
    return folder


def _remove_socket_folder(folder: Path) -> None:
    """Remove a previous run's socket folder: only one :func:`_private_folder` made (ours, named so)."""
    try:
        ours = folder.name.startswith("remoteviz-") and folder.lstat().st_uid == os.getuid()
    except OSError:
        return  # gone already
    if ours:
        shutil.rmtree(folder, ignore_errors=True)


class LocalProcess(InstanceHandle):
    """A child process, its control socket and, in proxy mode, the folder of its Unix socket."""

    def __init__(self, process: asyncio.subprocess.Process, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, host: str, socket_path: Path | None = None) -> None:
        self._process = process
        self._host = host
        self._socket_path = socket_path
        self._reader = reader
        self._writer = writer
        self._exit: asyncio.Task[int] = asyncio.ensure_future(self._watch())

    @property
    def pid(self) -> int:
        """The child's pid, also its process group id."""
        return self._process.pid

    @property
    def host(self) -> str:
        """Where the manager connects: loopback when the child listens on every address."""
        return "127.0.0.1" if self._host in ("", "0.0.0.0", "::") else self._host

    def address(self, ready: Mapping[str, str]) -> Address | None:
        """The Unix socket the child was given, once it says it listens there; else its TCP port."""
        if self._socket_path is not None and ready.get("unix") == str(self._socket_path):
            return UnixAddress(str(self._socket_path))
        if self._socket_path is not None:
            log.warning("pid %d was given a Unix socket but reports %s: a TCP port", self.pid, ready)
        return super().address(ready)

    async def read_line(self) -> str | None:
        """The next control line, None at end of file (or a line too long to be ours)."""
        try:
            line = await self._reader.readline()
        except (ConnectionError, ValueError, asyncio.LimitOverrunError):
            return None
        if not line:
            return None
        return line.decode("utf-8", "replace").strip()

    def send_line(self, line: str) -> None:
        """Queue one line to the child (the socket buffer holds far more than heartbeats need)."""
        if not self._writer.is_closing():
            try:
                self._writer.write(line.encode() + b"\n")
            except (ConnectionError, RuntimeError):
                pass

    async def _watch(self) -> int:
        status = await self._process.wait()
        # The leader is gone; anything left in its group (a grandchild) goes with it.
        _kill_group(self._process.pid, signal.SIGKILL)
        self._writer.close()
        if self._socket_path is not None:
            shutil.rmtree(self._socket_path.parent, ignore_errors=True)
        return status

    async def wait(self) -> int:
        """The exit status, once the child has exited."""
        return await asyncio.shield(self._exit)

    def terminate(self) -> None:
        """SIGTERM to the child's process group."""
        if self._process.returncode is None:
            _kill_group(self._process.pid, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to the child's process group."""
        if self._process.returncode is None:
            _kill_group(self._process.pid, signal.SIGKILL)

    def memory(self) -> int | None:
        """The child's resident memory in bytes."""
        return _rss(self._process.pid) if self._process.returncode is None else None


class LocalProcessBackend(Backend):
    """Starts each instance as ``app.command`` on this machine."""

    def __init__(self, state_dir: Path) -> None:
        self._state_dir = state_dir
        # Unix socket paths are short (108 bytes): under the temporary folder ($TMPDIR), not the state folder.
        self._socket_root = Path(tempfile.gettempdir())
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Its records name processes to signal: a folder someone else owns or may write to (a
        # shared /tmp) could make the manager kill anything of ours.
        info = state_dir.stat()
        if info.st_uid != os.getuid() or info.st_mode & 0o022:
            raise OSError(f"the state folder {state_dir} must belong to this user and be writable by it alone")
        self._manager = {"pid": os.getpid(), "start": _start_time(os.getpid())}

    def _argv(self, spec: LaunchSpec) -> list[str]:
        values = {"python": sys.executable, "session_id": spec.session_id, "app": spec.app.name,
                  "port": str(spec.port), "host": spec.host}
        return [argument.format(**values) for argument in spec.app.command]

    def _environment(self, spec: LaunchSpec, control_fd: int, socket_path: Path | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REMOTEVIZ_")}
        env.update(spec.app.env)
        env.update({
            launch.ENV_HOST: spec.host, launch.ENV_PORT: str(spec.port),
            launch.ENV_SESSION_ID: spec.session_id, launch.ENV_ACCESS_SECRET: spec.access_secret,
            launch.ENV_CONTROL_FD: str(control_fd),
        })
        if socket_path is not None:
            env[launch.ENV_UNIX_SOCKET] = str(socket_path)
            # Only the manager reaches that socket: the viewer's address it forwards is believed.
            env[launch.ENV_TRUSTED_PROXIES] = "unix"
        for name, value in spec.parameters.items():
            env[f"REMOTEVIZ_PARAM_{name.upper()}"] = value
        return env

    async def start(self, spec: LaunchSpec) -> LocalProcess:
        """Spawn the child in a new session (its own process group) with its control socket."""
        socket_path = _private_folder(self._socket_root) / "viewer.sock" if spec.unix_socket else None
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                *self._argv(spec), cwd=spec.app.cwd, env=self._environment(spec, theirs.fileno(), socket_path),
                stdin=asyncio.subprocess.DEVNULL, pass_fds=(theirs.fileno(),), start_new_session=True)
        except BaseException:
            ours.close()
            if socket_path is not None:
                shutil.rmtree(socket_path.parent, ignore_errors=True)
            raise
        finally:
            theirs.close()  # the child has its copy; ours must go so its exit reads as end of file
        record = self._state_dir / f"{spec.session_id}.json"
        record.write_text(json.dumps({"session": spec.session_id, "pid": process.pid,
                                      "start": _start_time(process.pid), "manager": self._manager,
                                      "socket": str(socket_path) if socket_path else None}))
        reader, writer = await asyncio.open_connection(sock=ours, limit=MAX_CONTROL_LINE)
        return LocalProcess(process, reader, writer, spec.host, socket_path)

    def forget(self, session_id: str) -> None:
        """Remove the instance's record."""
        (self._state_dir / f"{session_id}.json").unlink(missing_ok=True)

    async def reclaim(self, kill_grace: float) -> list[str]:
        """Stop every recorded process whose manager is gone; remove the records."""
        stopped = []
        for record in sorted(self._state_dir.glob("*.json")):
            try:
                entry = json.loads(record.read_text())
                pid, start, manager = int(entry["pid"]), entry["start"], entry["manager"]
                session = str(entry["session"])
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("ignoring unreadable instance record %s", record)
                record.unlink(missing_ok=True)
                continue
            if manager != self._manager and _start_time(int(manager["pid"])) == manager["start"]:
                continue  # another live manager's instance: not ours to stop
            if _start_time(pid) == start or _group_alive(pid):
                log.warning("session %s: stopping orphan pid %d of a previous manager run", session, pid)
                await _stop_group(pid, kill_grace)
                stopped.append(session)
            if entry.get("socket"):
                _remove_socket_folder(Path(str(entry["socket"])).parent)
            record.unlink(missing_ok=True)
        return stopped


async def _stop_group(pgid: int, kill_grace: float) -> None:
    """SIGTERM a group that is not our child, SIGKILL it after ``kill_grace``, until it is gone."""
    _kill_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + kill_grace
    # Not our child: no exit to watch, so look every 50 ms (only at start-up, for orphans).
    while _group_alive(pgid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    while _group_alive(pgid):
        _kill_group(pgid, signal.SIGKILL)
        await asyncio.sleep(0.05)
