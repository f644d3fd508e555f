"""Who may connect: the Origin check and the access token check.

Both are refusals the browser sees as ``disconnect REFUSED`` with the reason. The Origin check
runs on the network thread as soon as a WebSocket opens (it calls no application code); the
token check runs on the dispatch thread before any render area is created or shared, because
the application may give a callable. ``docs/security.md`` says what each one defends against.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .tokens import TokenError, verify_token

ANY_ORIGIN = "*"
"""``allowed_origins = ["*"]`` accepts pages from every site: an explicit, logged opt-out."""

TOKEN_FIELD = "token"
"""The query field of the connect URL that carries the access token."""

TokenCheck = Callable[[str | None, str], object]
"""A callable ``check(token, render_area_id)``: raise :class:`TokenError` (or return False) to refuse."""

AccessSetting = str | bytes | TokenCheck | None
"""``ServiceSettings.access``: None (no token needed), a secret for :func:`verify_token`, or a check."""


class OriginPolicy:
    """Which pages (by their Origin header) may open a WebSocket to the service.

    By default only the service's own origin: a page whose origin names the host the browser
    connected to (its ``Host`` header), over http or https (a TLS proxy in front changes the
    scheme, not the host). So the pages the service serves work, and a page of another site
    cannot open a connection in its visitor's name (cross-site WebSocket hijacking). Clients that
    are not browsers send no Origin; they are let through here and meet the token check.
    """

    def __init__(self, allowed: list[str] | None) -> None:
        self._any = ANY_ORIGIN in (allowed or [])
        self._allowed = {_normal(o) for o in allowed or [] if o != ANY_ORIGIN}

    @property
    def allows_any(self) -> bool:
        """True when every origin is accepted (``["*"]``)."""
        return self._any

    def refusal(self, origin: str | None, host: str | None) -> str | None:
        """None when a page from ``origin`` may connect through ``host``, else the reason."""
        if origin is None or self._any:
            return None
        normal = _normal(origin)
        if normal in self._allowed:
            return None
        scheme, _, netloc = normal.partition("://")
        if host and scheme in ("http", "https") and netloc == _without_default_port(host.strip().lower()):
            return None
        return f"pages from origin {origin[:100]!r} may not connect to this service"


def _normal(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, without a default port."""
    origin = origin.strip().rstrip("/").lower()
    scheme, separator, netloc = origin.partition("://")
    return f"{scheme}{separator}{_without_default_port(netloc)}" if separator else origin


def _without_default_port(netloc: str) -> str:
    for port in (":80", ":443"):
        if netloc.endswith(port):
            return netloc[: -len(port)]
    return netloc


class AccessCheck:
    """The built-in token check, turned on by one setting (``ServiceSettings.access``).

    With a secret, the ``token`` query field must be a token of :func:`remoteviz.tokens.issue_token`
    for the render area asked for (or for every area), not expired. With a callable, it decides.
    """

    def __init__(self, setting: AccessSetting, clock: Callable[[], float] = time.time) -> None:
        if setting is not None and not callable(setting):
            _check_secret(setting)  # at open(), not at the first connection
        self._setting = setting
        self._clock = clock

    @property
    def enabled(self) -> bool:
        """True when connections need a token."""
        return self._setting is not None

    def refusal(self, token: str | None, render_area_id: str) -> str | None:
        """None when ``token`` opens ``render_area_id``, else the reason (never the token itself).

        A callable that raises anything but :class:`TokenError` refuses too, with a generic reason:
        a crashing check must never let a connection through. The caller logs the exception.
        """
        setting = self._setting
        if setting is None:
            return None
        try:
            if callable(setting):
                if setting(token, render_area_id) is False:
                    return "access refused"
            else:
                verify_token(setting, token, render_area_id, now=self._clock())
        except TokenError as error:
            return str(error)
        return None


def _check_secret(secret: str | bytes) -> None:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if len(key) < 16:
        raise ValueError("ServiceSettings.access: a secret must be at least 16 bytes long")


__all__ = ["ANY_ORIGIN", "TOKEN_FIELD", "AccessCheck", "AccessSetting", "OriginPolicy", "TokenCheck"]
