"""The session manager behind Debian's real nginx (deploy/nginx, its /sessions/ location): the REST
handshake over https answers a wss:// url under the prefix, and that url reaches the instance."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

from remoteviz import client

from ..certificates import make_certificate
from ..nginx import free_port, running_nginx
from .harness import ManagerProcess
from .pattern_viewer import drawn_as_received


def test_a_rest_answer_through_nginx_names_a_wss_url_under_the_prefix_that_works(tmp_path: Path) -> None:
    certificate = make_certificate(tmp_path / "tls")
    port = free_port()
    origin = f"https://127.0.0.1:{port}"
    with ManagerProcess(tmp_path, allowed_origins=[origin], rest_endpoint="proxy") as manager, \
            running_nginx(tmp_path / "nginx", certificate, tmp_path, free_port(), manager.port, port=port) as nginx:
        request = urllib.request.Request(f"{origin}/sessions/api/sessions", method="POST",
                                         data=json.dumps({"app": "pattern", "render_area": "A"}).encode(),
                                         headers={"Content-Type": "application/json", "Origin": origin})
        with urllib.request.urlopen(request, context=certificate.client_context(), timeout=60) as response:
            assert response.status == 201
            answer = json.loads(response.read())
        # nginx ended TLS and removed the prefix; the manager hands out what the browser must use.
        assert answer["url"] == f"wss://127.0.0.1:{port}/sessions/pattern/A?session={answer['id']}&token={answer['token']}"

        async def view() -> None:
            async with client.connect(answer["url"], width=64, height=48, ssl=certificate.client_context(),
                                      origin=nginx.origin, timeout=30) as remote:
                frame = await remote.next_frame(timeout=30)
                assert drawn_as_received(frame), frame.frame.text

        asyncio.run(view())
        # Straight to the manager (no nginx, no headers), the answer names the manager's own port.
        direct = manager.create("pattern", render_area="A")
        assert direct["url"].startswith(f"ws://127.0.0.1:{manager.port}/pattern/A?session=")
