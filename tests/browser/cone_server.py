"""The HelloCone service for the browser tests, in a process of its own.

    python tests/browser/cone_server.py

Starts the HelloCone example's service on a free loopback port with the example's own static
folder, prints ``{"port": N}`` on one line of stdout, and dispatches on its main thread until its
stdin closes (so it also ends when the test process dies).

Why a process: OpenGL (EGL) contexts are bound to one thread, and the browser tests run in the
same pytest process as the unit and integration tests, which render on their own threads. Keeping
this service's rendering in a process of its own means neither side can bind the other's context.

``GET /_test/render-areas`` answers the ids of the render areas that exist now, as JSON: the
tests wait on it for the previous test's render area to be disposed before opening the next one,
so that no test inherits another's camera.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples" / "hello_cone"))

import remoteviz as rv  # noqa: E402
import hello_cone  # noqa: E402

RENDER_AREAS_PATH = "/_test/render-areas"


class RenderAreaReport(rv.ServiceListener):
    """Tells the tests which render areas exist (answered on the dispatch thread, so consistent)."""

    def __init__(self, service: rv.Service) -> None:
        self.service = service

    def on_http_request(self, request: rv.HttpRequest) -> rv.HttpResponse | None:
        if request.path != RENDER_AREAS_PATH:
            return None
        ids = sorted(area.id for area in self.service.render_areas)
        return rv.HttpResponse(200, json.dumps(ids), "application/json")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    service = rv.Service()
    service.add_listener(hello_cone.HelloConeServiceListener())
    service.add_listener(RenderAreaReport(service))
    settings = rv.ServiceSettings(host="127.0.0.1", port=0, static_dir=str(hello_cone.STATIC_DIR))
    if not service.open(settings):
        sys.exit("the HelloCone service could not open")
    stopping = threading.Event()

    def wait_for_stdin_to_close() -> None:
        sys.stdin.read()
        stopping.set()
        service.stop()  # wakes dispatch()

    threading.Thread(target=wait_for_stdin_to_close, name="stdin-watch", daemon=True).start()
    print(json.dumps({"port": service.port}), flush=True)
    try:
        while not stopping.is_set():
            service.dispatch(timeout=0.1)
    finally:
        service.close()


if __name__ == "__main__":
    main()
