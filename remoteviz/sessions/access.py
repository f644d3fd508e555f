"""Who may use the manager: origin checks for browsers, the shared secret of the REST API."""

from __future__ import annotations

import hmac

from aiohttp import web

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
