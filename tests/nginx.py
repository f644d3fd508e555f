"""Debian's real nginx on loopback for the tests and benchmarks, from ``deploy/nginx/``.

nginx runs in the foreground (``daemon off``) as the current user, with its prefix, pid file,
logs and temporary folders in a folder of its own, on a free loopback port, and is stopped by the
PID it was started with.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .certificates import Certificate

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "nginx" / "remoteviz.conf.template"
CLIENT_DIR = ROOT / "client-js" / "src"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

_PLACEHOLDER = re.compile(r"\$\{(REMOTEVIZ_[A-Z_]+)\}")

MAIN_CONFIG = """\
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
{user}
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    include {prefix}/remoteviz.conf;
}}
"""
"""The main configuration around the template, for an nginx of the tests' own (not the system's)."""


def fill_template(text: str, values: dict[str, str]) -> str:
    """``text`` with each ``${REMOTEVIZ_...}`` replaced from ``values``, as envsubst would; nginx's
    own ``$variables`` are left alone. Raises KeyError naming a placeholder without a value."""
    missing = sorted(set(_PLACEHOLDER.findall(text)) - values.keys())
    if missing:
        raise KeyError(f"no value for {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def free_port() -> int:
    """A loopback port free at the time of asking (nginx cannot listen on port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Nginx:
    """A running nginx: where it listens and where its logs are."""

    port: int
    prefix: Path
    process: subprocess.Popen

    @property
    def origin(self) -> str:
        """The origin of the pages it serves: ``https://127.0.0.1:<port>``."""
        return f"https://127.0.0.1:{self.port}"

    def access_log(self) -> str:
        """What nginx logged about the requests so far."""
        path = self.prefix / "access.log"
        return path.read_text() if path.exists() else ""

    def error_log(self) -> str:
        """What nginx logged about itself so far."""
        path = self.prefix / "error.log"
        return path.read_text() if path.exists() else ""


def _user_line() -> str:
    # Started by root, nginx would run its workers as "nobody", who may not read the test's files.
    if os.geteuid() != 0:
        return ""
    return f"user {pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name};"


@contextlib.contextmanager
def running_nginx(prefix: Path, certificate: Certificate, static_root: Path, service_port: int,
                  sessions_port: int, port: int | None = None, timeout: float = 20.0) -> Iterator[Nginx]:
    """nginx with ``deploy/nginx/remoteviz.conf.template`` on ``127.0.0.1:port`` (a free one if
    None), forwarding to a service and a session manager on loopback; stopped afterwards."""
    if not os.access(NGINX, os.X_OK):
        raise RuntimeError(f"{NGINX} is missing: .ci/install installs Debian's nginx package")
    port = port or free_port()
    (prefix / "temp").mkdir(parents=True, exist_ok=True)
    (prefix / "remoteviz.conf").write_text(fill_template(TEMPLATE.read_text(), {
        "REMOTEVIZ_LISTEN": f"127.0.0.1:{port}",
        "REMOTEVIZ_SERVER_NAME": "localhost",
        "REMOTEVIZ_CERTIFICATE": str(certificate.certificate_path),
        "REMOTEVIZ_CERTIFICATE_KEY": str(certificate.private_key_path),
        "REMOTEVIZ_STATIC_ROOT": str(static_root),
        "REMOTEVIZ_CLIENT_DIR": str(CLIENT_DIR),
        "REMOTEVIZ_SERVICE": f"127.0.0.1:{service_port}",
        "REMOTEVIZ_SESSIONS": f"127.0.0.1:{sessions_port}",
    }))
    config = prefix / "nginx.conf"
    config.write_text(MAIN_CONFIG.format(prefix=prefix, user=_user_line()))
    command = [NGINX, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")]
    checked = subprocess.run([*command, "-t", "-q"], capture_output=True, text=True, timeout=30)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t refused the configuration:\n{checked.stderr}")
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # nginx logs to error.log
    nginx = Nginx(port, prefix, process)
    try:
        _wait_listening(nginx, timeout)
        yield nginx
    finally:
        process.terminate()  # SIGTERM to the master: a fast shutdown that ends its workers too
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_listening(nginx: Nginx, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if nginx.process.poll() is not None:
            raise RuntimeError(f"nginx exited with {nginx.process.returncode}:\n{nginx.error_log()}")
        try:
            with socket.create_connection(("127.0.0.1", nginx.port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not listen on {nginx.port} within {timeout:g} s:\n"
                                   f"{nginx.error_log()}") from None
            time.sleep(0.05)
