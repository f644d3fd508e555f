"""Services run as a user runs them: a Python script or the ``remoteviz`` command in a process of its
own, whose log tells where to point the browser."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HEADLESS_GL = {"PYOPENGL_PLATFORM": "egl", "EGL_PLATFORM": "surfaceless"}
"""Headless OpenGL (Mesa's surfaceless EGL), as every test that renders uses it."""

_URL = re.compile(r"open (https?://\S+) in a browser")


class ServiceProcess:
    """A running service process: its first logged page URL and everything it printed."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []  # stdout and stderr, appended by the reader thread
        self._seen = threading.Condition()
        self._ended = False  # the process closed its output: no more lines will come
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()
        with self._seen:
            self._ended = True
            self._seen.notify_all()

    @property
    def output(self) -> str:
        """Everything printed so far."""
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        """The first printed line matching ``pattern``; fails if the process ends or time runs out."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                for line in self.lines:
                    if match := regex.search(line):
                        return match
                if self._ended:
                    raise AssertionError(f"the process ended ({self.process.poll()}):\n{self.output}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no line matching {pattern!r} in {timeout} s:\n{self.output}")
                self._seen.wait(min(left, 0.5))

    @property
    def url(self) -> str:
        """The first page URL the service logged (``open http://... in a browser``)."""
        return self.wait_for(_URL.pattern).group(1)


@contextlib.contextmanager
def service_process(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> Iterator[ServiceProcess]:
    """Run ``python *args`` (a script, ``-m remoteviz ...``); interrupt it (Ctrl-C) afterwards.

    The process must then end by itself, with status 0: the service closed cleanly.
    """
    environment = {**os.environ, **HEADLESS_GL, "PYTHONUNBUFFERED": "1", **(env or {})}
    process = subprocess.Popen([sys.executable, *args], cwd=cwd, env=environment, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    running = ServiceProcess(process)
    try:
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert process.returncode == 0, f"the service ended with {process.returncode}:\n{running.output}"
