"""Who may use the manager, and the record of what they did.

- :func:`host_allowed`: the ``Host`` a request names must be one the manager serves (DNS rebinding).
- :func:`origin_allowed`: a browser's ``Origin`` must be the manager's own or an allowed one.
- :func:`api_authorized`: the REST API's shared secret (``Authorization: Bearer``).
- :func:`issue_start_token` and :class:`StartTokens`: with a secret, who may start an instance
  through the WebSocket proxy: a page holding a short-lived, single-use token that the
  application's own backend minted with the secret for one app (and maybe one user).
- :func:`client_address`: the address limits and logs count, the forwarded one behind a trusted proxy.
- :func:`printable` and :class:`RequestLog`: what reaches the log is escaped, and rate-limited.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from ..audit import LineBudget
from ..limits import TrustedProxies
from ..tokens import ANY_AREA, TokenError, issue_token, verify_token
from .config import ManagerConfig

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
"""The names a manager answers to when ``allowed_hosts`` is empty (with its ``host`` and ``public_host``)."""

START_TOKEN_TTL = 60.0
"""Seconds a start token is valid by default: long enough for a page to load and connect."""

MAX_START_TOKEN_TTL = 600.0
"""A start token valid for longer is refused: they are meant to be minted per page view."""


def served_hosts(config: ManagerConfig) -> frozenset[str]:
    """The host names (lower case, no port) the manager answers to; ``*`` in it: any."""
    if config.allowed_hosts:
        return frozenset(config.allowed_hosts)
    names = set(LOOPBACK_HOSTS)
    if config.host not in ("", "0.0.0.0", "::"):
        names.add(f"[{config.host}]" if ":" in config.host else config.host)
    if config.public_host:
        names.add(config.public_host.lower())
    return frozenset(names)


def host_name(host: str | None) -> str:
    """The name part of a ``Host`` header, lower case, without the port (``[::1]`` kept in brackets)."""
    host = (host or "").strip().lower()
    if host.startswith("["):
        return host[:host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(request: web.BaseRequest, hosts: frozenset[str]) -> bool:
    """Whether the request's ``Host`` is one the manager serves.

    A page under a name the attacker controls (rebound to this address) sends that name as Host,
    and its Origin matches it, so the Origin check alone would let it in: this one does not.
    """
    return "*" in hosts or host_name(request.headers.get("Host")) in hosts


def origin_allowed(request: web.BaseRequest, config: ManagerConfig) -> bool:
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


def bearer(request: web.BaseRequest) -> str | None:
    """The credential of an ``Authorization: Bearer`` header, if there is one."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" and given.strip() else None


def api_authorized(request: web.BaseRequest, config: ManagerConfig) -> bool:
    """True when no API secret is configured, or the request carries ``Authorization: Bearer <secret>``."""
    if not config.api_secret:
        return True
    return has_secret(request, config)


def has_secret(request: web.BaseRequest, config: ManagerConfig) -> bool:
    """True when a secret is configured and the request carries it (what listing sessions needs)."""
    given = bearer(request)
    return bool(config.api_secret) and given is not None and \
        hmac.compare_digest(given.encode(), config.api_secret.encode())


# ---------------------------------------------------------------------- start tokens


def _start_key(api_secret: str, app: str) -> bytes:
    """A key per app, derived from the secret: a token minted for one app fails the check of another."""
    return hmac.new(api_secret.encode(), f"remoteviz-sessions start {app}".encode(), hashlib.sha256).digest()


def issue_start_token(api_secret: str, app: str, *, user: str | None = None, ttl: float = START_TOKEN_TTL,
                      render_area_id: str = ANY_AREA, now: float | None = None) -> str:
    """A token that lets one page start one instance of ``app`` through the manager's proxy.

    The application's own backend calls this (it knows ``api_secret``; pages never do) for a
    signed-in user, and hands the token to the page, which connects to
    ``ws://manager/<app>/<render area>?start=<token>``. It is valid for ``ttl`` seconds (at most
    600), for one start only, and for ``render_area_id`` (default: any). ``user``, when given,
    is what the manager's per-user limit (``max_instances_per_user``) counts.
    """
    if not 0 < ttl <= MAX_START_TOKEN_TTL:
        raise ValueError(f"ttl must be between 0 and {MAX_START_TOKEN_TTL:g} seconds")
    return issue_token(_start_key(api_secret, app), render_area_id, ttl=ttl,
                       now=time.time() if now is None else now, session_id=user)


class StartTokens:
    """Checks start tokens, each good for one start: a used one is remembered until it expires."""

    def __init__(self, api_secret: str) -> None:
        self._secret = api_secret
        self._used: dict[str, float] = {}  # signature -> expiry; bounded by the tokens minted in MAX_START_TOKEN_TTL

    def redeem(self, token: str | None, app: str, render_area_id: str, now: float | None = None) -> str | None:
        """The user the token names (None: none named); raises TokenError with a reason for the page."""
        now = time.time() if now is None else now
        if not token:
            raise TokenError("missing start token: this manager starts instances only for its application's pages")
        try:
            claims = verify_token(_start_key(self._secret, app), token, render_area_id, now=now)
        except TokenError as error:
            raise TokenError(str(error).replace("access token", "start token")) from None
        if claims.expires - now > MAX_START_TOKEN_TTL:
            raise TokenError("start token valid for too long")
        for spent in [s for s, expires in self._used.items() if expires <= now]:
            del self._used[spent]
        signature = token.rsplit(".", 1)[-1]
        if signature in self._used:
            raise TokenError("start token already used")
        self._used[signature] = claims.expires
        return claims.session_id

    def give_back(self, token: str) -> None:
        """The start it was redeemed for was refused (at a cap): the page may try again with it."""
        self._used.pop(token.rsplit(".", 1)[-1], None)


# ---------------------------------------------------------------------- addresses


def client_address(request: web.BaseRequest, trusted: TrustedProxies) -> str:
    """The address a request is counted and logged under: the peer's, or, from a trusted proxy
    (``trusted_proxies``: nginx in front), the client its ``X-Forwarded-For`` names."""
    return trusted.client(request.remote or "unknown", request.headers.get("X-Forwarded-For"))


# ---------------------------------------------------------------------- the log


def printable(text: object, limit: int = 200) -> str:
    """``text`` safe for one log line: control characters (a newline that would forge a line),
    escapes and non-ASCII written as escapes, at most ``limit`` characters."""
    escaped = str(text).encode("ascii", "backslashreplace").decode("ascii")
    escaped = "".join(c if " " <= c <= "~" else f"\\x{ord(c):02x}" for c in escaped)
    return escaped if len(escaped) <= limit else escaped[:limit] + "..."


SESSION_KEY = web.RequestKey("remoteviz_session", str)
"""Where a handler notes, on the request, the session it served (for the request log)."""

CLIENT_KEY = web.RequestKey("remoteviz_client", str)
"""Where the manager notes, on the request, the client's address (forwarded, behind a trusted proxy)."""


def request_client(request: web.BaseRequest) -> str:
    """The client's address the manager noted on ``request`` (forwarded, behind a trusted proxy)."""
    return str(request.get(CLIENT_KEY) or request.remote)


class RequestLog(AbstractAccessLogger):
    """One line per request: address, method, path *without the query* (tokens travel there and are
    credentials), status, seconds, and the session it served. Escaped, and rate-limited like the
    audit log (a flood of requests writes a bounded number of lines, and says how many it left out)."""

    budget = LineBudget()
    """One budget for the process: aiohttp makes an access logger per connection."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Write the line (aiohttp calls this when a request, or a relayed WebSocket, ends)."""
        suppressed = RequestLog.budget.take()
        if suppressed is None:
            return
        session = request.get(SESSION_KEY) or getattr(request, "match_info", {}).get("id") or "-"
        address = request_client(request)
        more = f" ({suppressed} more requests not logged)" if suppressed else ""
        self.logger.info("%s %s %s %d %.3fs session=%s%s", address, printable(request.method, 16),
                         printable(request.rel_url.raw_path), response.status, time, printable(session, 64), more)


ACCESS_LOG = logging.getLogger("remoteviz.sessions.access")
