"""Who may use the manager: origin checks for browsers, the shared secret of the REST API, and
the record of every request."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .config import ManagerConfig


def origin_allowed(request: web.Request, config: ManagerConfig) -> bool:
    """A request without Origin (not a browser), from the manager's own origin, or from an allowed one.

    A browser always sends Origin on a WebSocket upgrade and a cross-site POST, so a page on
    another site can neither open viewers nor spawn instances unless ``allowed_origins`` lists it.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if "*" in config.allowed_origins or origin in config.allowed_origins:
        return True
    return origin == f"{'https' if config.is_secure else 'http'}://{request.host}"


def api_authorized(request: web.Request, config: ManagerConfig) -> bool:
    """True when no API secret is configured, or the request carries ``Authorization: Bearer <secret>``."""
    if not config.api_secret:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), config.api_secret.encode())


SESSION_KEY = "remoteviz_session"
"""Where a handler notes, on the request, the session it served (for the request log)."""


class RequestLog(AbstractAccessLogger):
    """One line per request: address, method, path *without the query* (tokens travel there and are
    credentials), status, seconds, and the session it served."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Write the line (aiohttp calls this when a request, or a relayed WebSocket, ends)."""
        session = request.get(SESSION_KEY) or getattr(request, "match_info", {}).get("id") or "-"
        self.logger.info("%s %s %s %d %.3fs session=%s", request.remote, request.method, request.path,
                         response.status, time, session)


ACCESS_LOG = logging.getLogger("remoteviz.sessions.access")
