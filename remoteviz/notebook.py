"""Live views of render areas in Jupyter notebooks (JupyterLab, Notebook 7, VS Code, JupyterHub).

    import remoteviz as rv
    from remoteviz import notebook

    service = notebook.start()                      # in this kernel, on a free loopback port
    area = service.create_render_area("TheCone", 480, 360)
    ...build area.scene_manager.scene_graph...
    area                                            # the cell shows the live view

The service runs in the kernel and is dispatched on the kernel's asyncio loop, between cells, so
every listener callback runs on the kernel's main thread and cells may edit the scene freely.
The view is an anywidget: its browser side is the ordinary client, handed to the page through
the widget (no request to the service for scripts). It first connects straight to the service's
WebSocket (the fast path, where the browser can reach the kernel's machine); where it cannot (a
remote JupyterHub, VS Code), the same protocol travels over Jupyter's own widget channel instead:
the kernel relays each message between the page and its own service, with at most
:data:`RELAY_WINDOW` messages on their way to the page, so a slow page never makes the kernel queue.

The direct path is open to the pages of the Jupyter servers this kernel's machine runs (their
origins, read from Jupyter's runtime folder) and wants an access token: a secret made in the
kernel signs short-lived tokens (:data:`VIEW_TOKEN_TTL`), which the page asks for over Jupyter's
authenticated widget channel each time it connects. No token is part of the widget's state, so
none is saved in the notebook file.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

from .notebook_view import MAX_RELAYS, RELAY_INPUT_LIMIT, RELAY_WINDOW, VIEW_TOKEN_TTL, RenderAreaView, live_view
from .render_area import RenderArea
from .service import Service
from .settings import ServiceSettings

__all__ = ["MAX_RELAYS", "RELAY_INPUT_LIMIT", "RELAY_WINDOW", "VIEW_TOKEN_TTL", "RenderAreaView", "jupyter_server_origins",
           "start", "view"]


def jupyter_server_origins() -> list[str]:
    """The origins of the Jupyter servers running on this machine (their pages), as their runtime
    files say: ``http://127.0.0.1:8888`` and, for a loopback server, its other loopback names."""
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:  # no Jupyter here: no page to let in directly
        return []
    origins: list[str] = []
    for info in sorted(Path(jupyter_runtime_dir()).glob("*server-*.json")):  # jpserver-, nbserver- (Notebook 6)
        try:
            url = json.loads(info.read_text()).get("url", "")
        except (OSError, ValueError):
            continue
        scheme, _, rest = str(url).partition("://")
        netloc = rest.split("/", 1)[0]
        host, _, port = netloc.rpartition(":") if netloc.count(":") == 1 else (netloc, "", "")
        hosts = ["127.0.0.1", "localhost"] if host in ("127.0.0.1", "localhost") else [host]
        for name in hosts:
            origin = f"{scheme}://{name}" + (f":{port}" if port else "")
            if scheme in ("http", "https") and name and origin not in origins:
                origins.append(origin)
    return origins


def start(settings: ServiceSettings | None = None, service: Service | None = None) -> Service:
    """Open ``service`` (default: the process's) in this kernel and dispatch it between cells.

    ``settings`` default to a free port on 127.0.0.1, the pages of the Jupyter servers running on
    this machine (:func:`jupyter_server_origins`) and a token check with a secret made here, which
    :func:`view` signs its tokens with. Call it again after ``service.stop()``. Raises OSError
    when the service cannot open (the log says why).
    """
    service = service if service is not None else Service.instance()
    if settings is None:
        settings = ServiceSettings(host="127.0.0.1", port=0, allowed_origins=jupyter_server_origins(),
                                   access=secrets.token_hex(32))
    if not service.open(settings):
        raise OSError(f"the service could not open on {settings.host}:{settings.port}; see the log")
    # The kernel's loop runs the task whenever no cell is executing.
    asyncio.get_event_loop().create_task(service.dispatch_until_stopped())
    return service


def view(render_area: RenderArea | str, width: int | None = None, height: int | None = None,
         service: Service | None = None, **parameters: str) -> RenderAreaView:
    """A live view of ``render_area`` (or of the render area with that id, created on connection)
    on ``service`` (default: the process's); :func:`remoteviz.notebook_view.live_view` says how.
    Raises RuntimeError when the service is not open (call :func:`start` first).
    """
    return live_view(render_area, width, height, service if service is not None else Service.instance(), **parameters)
