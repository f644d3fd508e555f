"""Fixtures of the browser tests: one headless Chromium, the HelloCone service, test services.

- ``browser``: Debian's Chromium through Playwright, launched once for the whole browser suite
  (package scope: it is closed before the other test folders run in the same pytest process).
- ``new_page``: a fresh browser context and page per call, instrumented (``helpers.INSTRUMENT``);
  at teardown, uncaught page errors and the client's own warnings fail the test.
- ``cone``: the HelloCone example's service (OpenGL), started once and dispatched on one thread
  for the whole suite; ``cone_page`` opens its page once the previous test's render area is gone.
- ``independent_service``: INDEPENDENT_SERVICE services (numpy frames, no OpenGL) on loopback,
  dispatched on a thread each, serving ``pages/``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

import remoteviz as rv

from ..integration.harness import ServiceThread, running_service, wait_until
from .helpers import INSTRUMENT, wait_first_frame

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"

sys.path.insert(0, str(HERE.parents[1] / "examples" / "hello_cone"))
import hello_cone  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

VIEWPORT = {"width": 800, "height": 700}


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver, one for the whole browser suite: a second one in the same process
    cannot start while the first runs, so every browser of the suite is launched from it."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: .ci/install installs Debian's chromium package")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Chromium, one for the whole browser suite."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """``new_page(url, init_script="", **context_options)``: a page in a context of its own, loaded
    from ``url``, with ``init_script`` run before the page's own scripts.

    One CSS pixel is one device pixel (device_scale_factor 1), so render areas have the view's
    size. Fails the test at teardown on an uncaught error in a page or a warning of the client.
    The page's Content-Security-Policy is bypassed unless ``bypass_csp=False``: Playwright's
    ``wait_for_function`` compiles its predicate in the page, which the service's policy forbids
    (no ``unsafe-eval``); ``test_security_pages.py`` checks the pages under the real policy.
    """
    contexts = []
    problems: list[str] = []

    def open_page(url: str, init_script: str = "", **options) -> Page:
        context = browser.new_context(**{"viewport": VIEWPORT, "device_scale_factor": 1, "bypass_csp": True,
                                         **options})
        contexts.append(context)
        context.add_init_script(INSTRUMENT + init_script)
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

CONE_AREA = "TheCone"
"""The render area every HelloCone page shows."""


class ConeService:
    """The HelloCone example's service, dispatched on a thread of its own."""

    def __init__(self, runner: ServiceThread) -> None:
        self.runner = runner
        self.service = runner.service
        scheme = "https" if self.service.settings.is_secure else "http"
        self.base = f"{scheme}://127.0.0.1:{self.service.port}"

    def wait_cone_disposed(self, timeout: float = 10.0) -> None:
        """Wait until the render area of the HelloCone pages is disposed (its last page closed)."""
        wait_until(lambda: self.service.get_render_area(CONE_AREA) is None, timeout)


@contextlib.contextmanager
def running_cone(*listeners: rv.ServiceListener, **settings: object) -> Iterator[ConeService]:
    """A HelloCone service on a free loopback port with ``settings``, plus ``listeners``; closed after."""
    service = rv.Service()
    service.add_listener(hello_cone.HelloConeServiceListener())
    for listener in listeners:
        service.add_listener(listener)
    assert service.open(rv.ServiceSettings(**{"host": "127.0.0.1", "port": 0,
                                              "static_dir": str(hello_cone.STATIC_DIR), **settings}))
    runner = ServiceThread(service)
    runner.start()
    try:
        yield ConeService(runner)
    finally:
        runner.stop()
        service.close()
    assert not runner.errors, runner.errors


@pytest.fixture(scope="package")
def cone() -> Iterator[ConeService]:
    """The HelloCone example's service (OpenGL), on one dispatch thread for the whole browser suite."""
    with running_cone() as service:
        yield service


@pytest.fixture
def cone_page(cone: ConeService, new_page: Callable[..., Page]) -> Iterator[Callable[..., Page]]:
    """``cone_page(query="", **context_options)``: the HelloCone page (``/`` + ``query``), once it
    has painted a frame.

    Every HelloCone page shows the render area ``TheCone``; the fixture first waits until the
    previous test's one is disposed, so that each test starts from a fresh camera.
    """
    cone.wait_cone_disposed()

    def open_page(query: str = "", **options) -> Page:
        page = new_page(f"{cone.base}/{query}", **options)
        wait_first_frame(page)
        return page

    yield open_page
    assert not cone.runner.errors, cone.runner.errors


# ------------------------------------------------------------------ INDEPENDENT_SERVICE services

@pytest.fixture
def independent_service() -> Iterator[Callable[..., ServiceThread]]:
    """``independent_service(*listeners, **settings)``: an INDEPENDENT_SERVICE service serving ``pages/``."""
    with contextlib.ExitStack() as stack:
        def start(*listeners, **settings) -> ServiceThread:
            return stack.enter_context(running_service(*listeners, **{"static_dir": str(PAGES), **settings}))

        yield start

