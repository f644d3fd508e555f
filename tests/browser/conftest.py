"""Fixtures of the browser tests: one headless Chromium, the HelloCone service, test services.

- ``browser``: Debian's Chromium through Playwright, launched once for the whole browser suite
  (package scope: it is closed before the other test folders run in the same pytest process).
- ``new_page``: a fresh browser context and page per call, instrumented (``helpers.INSTRUMENT``);
  at teardown, uncaught page errors and the client's own warnings fail the test.
- ``cone``: the HelloCone example's service (OpenGL) in a child process (``cone_server.py``),
  started once; ``cone_page`` opens its page once the previous test's render area is gone.
- ``independent_service``: INDEPENDENT_SERVICE services (numpy frames, no OpenGL) on loopback,
  dispatched on a thread each, serving ``pages/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from ..integration.harness import ServiceThread, running_service
from .cone_server import RENDER_AREAS_PATH
from .helpers import INSTRUMENT, wait_first_frame

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

VIEWPORT = {"width": 800, "height": 700}


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Headless Chromium, one for the whole browser suite."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: .ci/install installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """``new_page(url, **context_options)``: a page in a context of its own, loaded from ``url``.

    One CSS pixel is one device pixel (device_scale_factor 1), so render areas have the view's
    size. Fails the test at teardown on an uncaught error in a page or a warning of the client.
    """
    contexts = []
    problems: list[str] = []

    def open_page(url: str, **options) -> Page:
        context = browser.new_context(**{"viewport": VIEWPORT, "device_scale_factor": 1, **options})
        contexts.append(context)
        context.add_init_script(INSTRUMENT)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"{url}: uncaught {error}"))
        page.on("console", lambda message: problems.append(f"{url}: console {message.type}: {message.text}")
                if message.text.startswith("remoteviz") and message.type in ("warning", "error") else None)
        page.goto(url)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ the HelloCone service

class ConeService:
    """The HelloCone service running in a child process."""

    def __init__(self, process: subprocess.Popen, port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path

    def render_areas(self) -> list[str]:
        """The ids of the render areas that exist now."""
        with urllib.request.urlopen(self.base + RENDER_AREAS_PATH, timeout=5) as answer:
            return json.loads(answer.read())

    def wait_no_render_areas(self, timeout: float = 10.0) -> None:
        """Wait until every render area is disposed (their last page closed)."""
        deadline = time.monotonic() + timeout
        while (areas := self.render_areas()):
            if time.monotonic() > deadline:
                raise AssertionError(f"render areas still open: {areas}")
            time.sleep(0.02)

    def log_tail(self) -> str:
        """The end of the service's log (its stderr)."""
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="package")
def cone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConeService]:
    """The HelloCone example's service in a child process, for the whole browser suite."""
    log_path = tmp_path_factory.mktemp("cone") / "cone_server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, str(HERE / "cone_server.py")], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=log)
    try:
        line = _read_line(process, timeout=30.0)
        if not line:
            raise AssertionError(f"the HelloCone service did not start:\n{log_path.read_text(errors='replace')}")
        service = ConeService(process, json.loads(line)["port"], log_path)
        yield service
    finally:
        assert process.stdin is not None
        process.stdin.close()  # the service closes when its stdin does
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, f"the HelloCone service failed ({process.returncode}):\n" + \
        log_path.read_text(errors="replace")[-4000:]


def _read_line(process: subprocess.Popen, timeout: float) -> bytes:
    """The first line the process prints, or b"" if it prints none in time or exits."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return b""
    return process.stdout.readline()


@pytest.fixture
def cone_page(cone: ConeService, new_page: Callable[..., Page]) -> Iterator[Callable[..., Page]]:
    """``cone_page(query="")``: the HelloCone page (``/`` + ``query``), once it has painted a frame.

    Every HelloCone page shows the render area ``TheCone``; the fixture first waits until the
    previous test's one is disposed, so that each test starts from a fresh camera.
    """
    cone.wait_no_render_areas()

    def open_page(query: str = "", **options) -> Page:
        page = new_page(f"{cone.base}/{query}", **options)
        wait_first_frame(page)
        return page

    yield open_page
    if cone.process.poll() is not None:
        pytest.fail(f"the HelloCone service died ({cone.process.returncode}):\n{cone.log_tail()}")


# ------------------------------------------------------------------ INDEPENDENT_SERVICE services

@pytest.fixture
def independent_service() -> Iterator[Callable[..., ServiceThread]]:
    """``independent_service(*listeners, **settings)``: an INDEPENDENT_SERVICE service serving ``pages/``."""
    with contextlib.ExitStack() as stack:
        def start(*listeners, **settings) -> ServiceThread:
            return stack.enter_context(running_service(*listeners, **{"static_dir": str(PAGES), **settings}))

        yield start

