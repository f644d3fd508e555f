"""Defect 9 of issue #9: the built-in HTTP server answers GET and HEAD only, streams large files,
never serves dotfiles, and sends security, cache and CORS headers."""

from __future__ import annotations

import hashlib
import http.client
import os
import threading

import pytest

from .harness import running_service


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    static = tmp_path_factory.mktemp("site")
    (static / "index.html").write_text("<!DOCTYPE html><title>page</title>")
    (static / ".env").write_text("PASSWORD=hunter2\n")
    (static / ".git").mkdir()
    (static / ".git" / "config").write_text("[remote]\n")
    (static / "visible").mkdir()
    os.symlink(static / ".env", static / "visible" / "env.txt")  # a link to a dotfile
    big = os.urandom(1 << 20) * 9 + b"end"  # several chunks
    (static / "big.bin").write_bytes(big)
    with running_service(static_dir=str(static)) as runner:
        yield runner.service.port, hashlib.sha256(big).hexdigest(), len(big)


def request(port: int, method: str, target: str, headers: dict[str, str] | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, target, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("method", ["DELETE", "PUT", "TRACE", "OPTIONS", "PATCH", "POST"])
def test_only_get_and_head_are_answered(served, method) -> None:
    port, _, _ = served
    status, headers, body = request(port, method, "/index.html")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert b"page" not in body


def test_head_sends_the_headers_of_get_without_a_body(served) -> None:
    port, _, size = served
    status, headers, body = request(port, "HEAD", "/big.bin")
    assert status == 200 and body == b"" and int(headers["content-length"]) == size


@pytest.mark.parametrize("target", ["/.env", "/.git/config", "/visible/env.txt", "/visible/../.env"])
def test_dotfiles_are_never_served(served, target) -> None:
    port, _, _ = served
    status, _, body = request(port, "GET", target)
    assert status in (403, 404) and b"hunter2" not in body


def test_every_answer_has_security_headers_and_pages_a_content_security_policy(served) -> None:
    port, _, _ = served
    for target in ("/index.html", "/health", "/nothing-here", "/remoteviz/remoteviz.js"):
        _, headers, _ = request(port, "GET", target)
        assert headers["x-content-type-options"] == "nosniff", target
        assert headers["referrer-policy"] == "no-referrer", target
    _, page, _ = request(port, "GET", "/")
    assert "frame-ancestors 'self'" in page["content-security-policy"]
    assert "object-src 'none'" in page["content-security-policy"]


def test_the_client_module_can_be_loaded_by_any_page_and_is_revalidated(served) -> None:
    port, _, _ = served
    status, headers, body = request(port, "GET", "/remoteviz/remoteviz.js", {"Origin": "null"})
    assert status == 200 and b"RemoteVizRenderArea" in body
    assert headers["access-control-allow-origin"] == "*"
    assert headers["cache-control"] == "no-cache" and headers["etag"]
    again, _, body = request(port, "GET", "/remoteviz/remoteviz.js", {"If-None-Match": headers["etag"]})
    assert again == 304 and body == b""


def test_a_large_file_streams_whole_to_several_readers_at_once(served) -> None:
    port, digest, size = served
    results: list[tuple[int, str, int]] = []

    def fetch():
        status, _, body = request(port, "GET", "/big.bin")
        results.append((status, hashlib.sha256(body).hexdigest(), len(body)))

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [(200, digest, size)] * 4
    assert request(port, "GET", "/health")[0] == 200  # and the service answers on
