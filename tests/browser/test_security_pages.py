"""Issue #9 in a real browser: pages of other origins are refused, a token-protected service
lets a page with a valid token in and shows the others REFUSED with the reason, and the pages
the service serves work under its Content-Security-Policy."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from remoteviz import tokens

from ..integration.harness import Recorder
from .conftest import hello_cone
from .helpers import record, wait_first_frame

SECRET = "browser-test-secret-0123456789"


def service_events(page, name: str, timeout: float = 20.0) -> list:
    """The page's service events called ``name``, once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = [e for e in record(page)["service"] if e[0] == name]
        if events:
            return events
        time.sleep(0.05)
    raise AssertionError(f"no {name!r} event; the page heard {record(page)['service']}")


def test_a_page_of_another_origin_is_refused_unless_allowed(independent_service, new_page) -> None:
    target = independent_service(Recorder())
    elsewhere = independent_service(Recorder())  # another port: another origin
    page = new_page(f"http://127.0.0.1:{elsewhere.service.port}/remote.html"
                    f"?service=http://127.0.0.1:{target.service.port}")
    reason, detail = service_events(page, "disconnected")[0][1:]
    assert reason == "REFUSED" and "may not connect to this service" in detail
    assert f"127.0.0.1:{elsewhere.service.port}" in detail
    assert page.text_content("#status").startswith("REFUSED")
    assert not target.service.render_areas

    allowing = independent_service(Recorder(), allowed_origins=[f"http://127.0.0.1:{elsewhere.service.port}"])
    page = new_page(f"http://127.0.0.1:{elsewhere.service.port}/remote.html"
                    f"?service=http://127.0.0.1:{allowing.service.port}")
    wait_first_frame(page)  # the module loaded across origins (CORS) and the connection was accepted


@pytest.mark.parametrize("case", ["valid", "missing", "wrong", "expired", "other area"])
def test_a_token_protected_service_lets_a_valid_token_in_and_shows_the_reason_otherwise(
        case, independent_service, new_page) -> None:
    now = time.time()
    token = {
        "valid": tokens.issue_token(SECRET, "TheCone", ttl=600, now=now),
        "missing": None,
        "wrong": tokens.issue_token("not-the-services-secret!", "TheCone", ttl=600, now=now),
        "expired": tokens.issue_token(SECRET, "TheCone", ttl=60, now=now - 3600),
        "other area": tokens.issue_token(SECRET, "AnotherArea", ttl=600, now=now),
    }[case]
    runner = independent_service(Recorder(), access=SECRET, static_dir=str(hello_cone.STATIC_DIR))
    query = f"?token={token}" if token else ""
    page = new_page(f"http://127.0.0.1:{runner.service.port}/{query}")  # the HelloCone page
    if case == "valid":
        wait_first_frame(page)
        assert page.text_content("#status") == "connected"
        return
    reason = {"missing": "missing access token", "wrong": "invalid access token",
              "expired": "expired access token", "other area": "access token is for another render area"}[case]
    assert service_events(page, "disconnected")[0][1:] == ["REFUSED", reason]
    assert page.text_content("#status") == f"disconnected: REFUSED {reason}"


def test_the_hello_cone_page_works_under_the_services_content_security_policy(cone, new_page) -> None:
    cone.wait_cone_disposed()
    violations: list[str] = []
    page = new_page(f"{cone.base}/", bypass_csp=False)
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    deadline = time.monotonic() + 30
    while not page.evaluate("window.__rv.decoded.length") and time.monotonic() < deadline:
        time.sleep(0.1)  # polled from here: wait_for_function would need eval in the page
    assert page.evaluate("window.__rv.decoded.length") > 0
    assert page.text_content("#status") == "connected"
    assert not violations


@pytest.mark.parametrize("allowed", [False, True], ids=["default", "null allowed"])
def test_a_page_opened_from_a_file_loads_the_client_and_connects_once_null_is_allowed(
        allowed, independent_service, new_page, tmp_path) -> None:
    options = {"allowed_origins": ["null"]} if allowed else {}
    runner = independent_service(Recorder(), **options)
    page_file = tmp_path / "index.html"
    page_file.write_text((Path(__file__).parent / "pages" / "remote.html").read_text())
    page = new_page(f"{page_file.as_uri()}?service=http://127.0.0.1:{runner.service.port}")
    if allowed:
        wait_first_frame(page)
    else:
        reason, detail = service_events(page, "disconnected")[0][1:]
        assert reason == "REFUSED" and "'null'" in detail
