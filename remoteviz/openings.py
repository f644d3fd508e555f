"""What a service's settings open up, said once as it starts: every opening is an explicit choice
of the application, and is logged (a warning where it lets anyone in)."""

from __future__ import annotations

import logging

from .access import AccessCheck, OriginPolicy
from .settings import ServiceSettings

log = logging.getLogger("remoteviz")  # the service's logger: what users and tests filter on

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def log_openings(settings: ServiceSettings, origins: OriginPolicy, access: AccessCheck, port: int) -> None:
    """Log which pages may connect (``allowed_origins``), whether an access token is required, and
    whose ``X-Forwarded-For`` is believed (``trusted_proxies``)."""
    if origins.allows_any and access.enabled:
        log.info("allowed_origins is ['*']: pages of any web site may connect, with an access token")
    elif origins.allows_any:
        log.warning("allowed_origins is ['*']: pages of any web site may connect in their visitors' name")
    elif settings.allowed_origins:
        log.info("pages of these origins may connect too: %s", ", ".join(settings.allowed_origins))
    if not access.enabled:
        level = logging.INFO if settings.host in LOOPBACK_HOSTS else logging.WARNING
        log.log(level, "no access token is required: whoever reaches %s:%d may open render areas "
                "(set ServiceSettings.access to require one)", settings.host, port)
    if settings.trusted_proxies:
        log.info("X-Forwarded-For is believed from %s: per-address limits count the client it names",
                 ", ".join(settings.trusted_proxies))


def log_client_rendering(render_area_id: str) -> None:
    """Log that a render area's geometry may leave the server (``RenderArea.client_rendering``)."""
    log.warning("render area %r may send its scene's geometry to the pages that ask to draw it themselves "
                "(client_rendering is on)", render_area_id)
