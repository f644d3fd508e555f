"""The service's built-in HTTP server, asked in raw HTTP: no way out of the static folder or the
client's folder, the right content types, a health answer.

``http.client`` sends the request target exactly as written: no client library normalises
``..``, decodes ``%2e`` or merges slashes before the service sees it.
"""

from __future__ import annotations

import http.client
import os
from pathlib import Path

import pytest

from ..integration.harness import running_service

SECRET = b"SECRET-OUTSIDE-THE-STATIC-FOLDER"
CLIENT_PACKAGE = Path(__file__).resolve().parents[2] / "client-js" / "package.json"  # next to the served src/


@pytest.fixture(scope="module")
def static_service(tmp_path_factory):
    """A service serving ``root/static``, with secrets beside it and symlinks inside it pointing at them."""
    root = tmp_path_factory.mktemp("http")
    (root / "secret.txt").write_bytes(SECRET)
    (root / "outside").mkdir()
    (root / "outside" / "secret.txt").write_bytes(SECRET)
    static = root / "static"
    (static / "sub").mkdir(parents=True)
    (static / "index.html").write_text("<!DOCTYPE html><title>inside</title>")
    (static / "sub" / "page.html").write_text("<!DOCTYPE html><title>sub page</title>")
    (static / "app.js").write_text("export const inside = 1;\n")
    os.symlink(root / "secret.txt", static / "leak.txt")  # a file link pointing out
    os.symlink(root / "outside", static / "out")  # a folder link pointing out
    os.symlink("../secret.txt", static / "sub" / "relative-leak.txt")  # a relative one
    with running_service(static_dir=str(static)) as runner:
        yield runner.service.port


def get(port: int, target: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.putrequest("GET", target, skip_host=False, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


ESCAPES = [
    "/../secret.txt",
    "/../../../../../../etc/passwd",
    "/sub/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..%2fsecret.txt",
    "/sub%2f..%2f..%2fsecret.txt",
    "/..%5csecret.txt",
    "/..\\secret.txt",
    "/%252e%252e/secret.txt",  # double-encoded: must not be decoded twice
    "/..%00/secret.txt",
    "/leak.txt",
    "/out/secret.txt",
    "/sub/relative-leak.txt",
    "//../secret.txt",
    "http://127.0.0.1/../secret.txt",  # absolute form
    "/remoteviz/../package.json",
    "/remoteviz/%2e%2e/package.json",
    "/remoteviz/..%2fpackage.json",
]


@pytest.mark.parametrize("target", ESCAPES)
def test_no_request_escapes_the_served_folders(static_service, target: str) -> None:
    status, _, body = get(static_service, target)
    assert 400 <= status < 500, f"{target} answered {status}"
    assert SECRET not in body
    assert b"root:" not in body
    assert CLIENT_PACKAGE.read_bytes() not in body


def test_files_inside_are_served_with_their_content_types(static_service) -> None:
    # The positive side of the escapes above: what is inside is served.
    status, headers, body = get(static_service, "/")
    assert (status, headers["content-type"]) == (200, "text/html; charset=utf-8") and b"inside" in body
    status, headers, body = get(static_service, "/sub/page.html")
    assert (status, headers["content-type"]) == (200, "text/html; charset=utf-8") and b"sub page" in body
    status, headers, body = get(static_service, "/app.js")
    assert (status, headers["content-type"]) == (200, "text/javascript; charset=utf-8")
    status, headers, body = get(static_service, "/remoteviz/remoteviz.js")
    assert (status, headers["content-type"]) == (200, "text/javascript; charset=utf-8")
    assert b"RemoteVizRenderArea" in body
    status, _, _ = get(static_service, "/missing.html")
    assert status == 404


def test_health_answers_200(static_service) -> None:
    status, _, body = get(static_service, "/health")
    assert status == 200 and body == b"ok\n"
