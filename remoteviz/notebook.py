"""Live views of render areas in Jupyter notebooks (JupyterLab, Notebook 7, VS Code).

    import remoteviz as rv
    from remoteviz import notebook

    service = notebook.start()                      # in this kernel, on a free loopback port
    area = service.create_render_area("TheCone", 480, 360)
    ...build area.scene_manager.scene_graph...
    area                                            # the cell shows the live view

The service runs in the kernel and is dispatched on the kernel's asyncio loop, between cells, so
every listener callback runs on the kernel's main thread and cells may edit the scene freely.
The view is an anywidget: its browser side is the ordinary client, handed to the page through
the widget (no request to the service for scripts), and it connects straight to the service's
WebSocket, so input goes back as in any page. The browser must reach the service's address: the
kernel's machine, as with a local JupyterLab or VS Code.

The notebook page's origin is Jupyter's, not the service's, so the default settings accept pages
of any origin but want an access token: a secret made in the kernel signs one token per view, and
the token reaches only the notebook page, through Jupyter's own authenticated widget channel.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import anywidget
import traitlets

from .http import CLIENT_DIR
from .render_area import RenderArea
from .service import Service, ServiceSettings
from .tokens import issue_token

_VIEW_MODULE = Path(__file__).resolve().parent / "notebook_view.js"
VIEW_TOKEN_TTL = 7 * 24 * 3600.0
"""How long a view's token opens its render area, in seconds: a notebook stays open for days."""


def _client_modules() -> dict[str, str]:
    """The browser client's modules by file name, as the widget's page side loads them."""
    return {path.name: path.read_text() for path in sorted(CLIENT_DIR.resolve().glob("*.js"))}


class RenderAreaView(anywidget.AnyWidget):
    """A notebook cell's live view of one render area: pictures in, mouse, wheel, keys and touch out."""

    _esm = _VIEW_MODULE
    url = traitlets.Unicode("").tag(sync=True)
    """The render area's WebSocket URL, ``ws://127.0.0.1:PORT/AREA`` (query fields go to the service)."""
    width = traitlets.Int(640).tag(sync=True)
    """The view's width in CSS pixels."""
    height = traitlets.Int(480).tag(sync=True)
    """The view's height in CSS pixels."""
    modules = traitlets.Dict().tag(sync=True)
    """The browser client's module sources, sent once per view."""

    def __init__(self, url: str, width: int = 640, height: int = 480, **kwargs: Any) -> None:
        super().__init__(url=url, width=width, height=height, modules=_client_modules(), **kwargs)


def start(settings: ServiceSettings | None = None, service: Service | None = None) -> Service:
    """Open ``service`` (default: the process's) in this kernel and dispatch it between cells.

    ``settings`` default to a free port on 127.0.0.1, pages of any origin (the notebook's is
    Jupyter's) and a token check with a secret made here, which :func:`view` signs its tokens
    with. Call it again after ``service.stop()``. Raises OSError when the service cannot open
    (the log says why).
    """
    service = service if service is not None else Service.instance()
    if settings is None:
        settings = ServiceSettings(host="127.0.0.1", port=0, allowed_origins=["*"], access=secrets.token_hex(32))
    if not service.open(settings):
        raise OSError(f"the service could not open on {settings.host}:{settings.port}; see the log")
    # The kernel's loop runs the task whenever no cell is executing.
    asyncio.get_event_loop().create_task(service.dispatch_until_stopped())
    return service


def view(render_area: RenderArea | str, width: int | None = None, height: int | None = None,
         service: Service | None = None, **parameters: str) -> RenderAreaView:
    """A live view of ``render_area`` (or of the render area with that id, created on connection).

    ``parameters`` travel as connection parameters; with a secret as the service's ``access``
    setting (as :func:`start` sets by default), a ``token`` for the area is signed with it. The
    size defaults to the render area's, else 640 x 480.
    """
    service = service if service is not None else Service.instance()
    if not service.is_open:
        raise RuntimeError("the service is not open: call remoteviz.notebook.start() first")
    area_id = render_area.id if isinstance(render_area, RenderArea) else render_area
    if isinstance(render_area, RenderArea):
        width, height = width or render_area.width, height or render_area.height
    access = service.settings.access
    if "token" not in parameters and isinstance(access, (str, bytes)):
        parameters["token"] = issue_token(access, area_id, ttl=VIEW_TOKEN_TTL,
                                          now=time.time())
    query = urlencode(parameters)
    host = service.settings.host if service.settings.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    scheme = "wss" if service.settings.is_secure else "ws"
    url = f"{scheme}://{host}:{service.port}/{quote(area_id, safe='')}" + (f"?{query}" if query else "")
    return RenderAreaView(url, width or 640, height or 480)
