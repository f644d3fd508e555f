"""The built-in viewer page: served at / only when the application serves nothing there itself."""

from __future__ import annotations

import urllib.request

import remoteviz as rv

from .harness import running_service


def get(runner, path: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{runner.service.port}{path}", timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def test_a_service_without_a_static_folder_serves_the_viewer_at_the_root() -> None:
    with running_service() as runner:
        status, kind, body = get(runner, "/?area=Parts")
        assert status == 200 and kind.startswith("text/html")
        assert 'import { RemoteVizRenderArea } from "/remoteviz/remoteviz.js"' in body
        assert 'query.get("area")' in body  # the page picks its area itself: nothing is echoed into it
        assert "Parts" not in body


def test_the_application_and_its_static_folder_come_before_the_viewer(tmp_path) -> None:
    class Home(rv.ServiceListener):
        def on_http_request(self, request):
            return rv.HttpResponse(200, "my home", "text/plain") if request.path == "/" else None

    with running_service(Home()) as runner:
        assert get(runner, "/")[2] == "my home"
    (tmp_path / "index.html").write_text("<p>mine</p>")
    with running_service(static_dir=str(tmp_path)) as runner:
        assert get(runner, "/")[2] == "<p>mine</p>"
