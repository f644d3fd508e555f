"""Who draws a view: the application allows client-side rendering per render area (default no),
and within that the page asks (``client``, ``server`` or ``auto``); ``auto`` weighs what the page
reports against what the scene holds."""

from __future__ import annotations

from dataclasses import dataclass

from remoteviz.protocol import RenderMode, RenderRequest
from remoteviz.scene_sync.records import Snapshot

MAX_LOAD_SECONDS = 5.0
"""``auto`` keeps a view server-side when its geometry would take longer than this to arrive at
the calibrated bandwidth."""

MEMORY_SHARE = 0.125
"""``auto`` keeps a view server-side when its inflated geometry would take more than this share
of the memory the browser reports."""

MAX_GEOMETRY_BYTES = 512 << 20
"""No view is drawn client-side whose inflated geometry is bigger than this, whatever it asks."""


@dataclass(frozen=True, slots=True)
class Decision:
    """Who draws, and the sentence the page is told."""

    mode: RenderMode
    reason: str


def decide(request: RenderRequest, allowed: bool, snapshot: Snapshot | None, bandwidth: float) -> Decision:
    """Who draws the view of a page that sent ``request``.

    ``allowed``: the application lets this connection receive geometry; ``snapshot``: the scene
    (None when the area has no scene to send); ``bandwidth``: the calibrated bytes per second
    (0 when unknown).
    """
    server = RenderMode.SERVER
    if request.mode is RenderMode.SERVER:
        return Decision(server, "the page asked for server-side rendering")
    if not allowed:
        return Decision(server, "the application keeps this view's geometry on the server")
    if snapshot is None:
        return Decision(server, "this render area has no scene graph to send")
    if not request.webgl2:
        return Decision(server, "the browser has no WebGL2")
    if snapshot.unsupported:
        kinds = ", ".join(sorted(snapshot.unsupported))
        return Decision(server, f"the scene holds what the page cannot draw ({kinds})")
    if snapshot.raw_bytes > MAX_GEOMETRY_BYTES:
        return Decision(server, f"the scene's geometry ({snapshot.raw_bytes >> 20} MiB) is over the limit")
    if request.mode is RenderMode.CLIENT:
        return Decision(RenderMode.CLIENT, "the page asked for client-side rendering")
    if request.software:
        return Decision(server, "the browser's WebGL renders in software")
    if bandwidth > 0 and snapshot.geometry_bytes / bandwidth > MAX_LOAD_SECONDS:
        return Decision(server, f"the geometry would take over {MAX_LOAD_SECONDS:g} s to arrive")
    if request.memory_mb and snapshot.raw_bytes > request.memory_mb * (1 << 20) * MEMORY_SHARE:
        return Decision(server, "the geometry is too big for the browser's memory")
    return Decision(RenderMode.CLIENT, "the scene fits the browser")
