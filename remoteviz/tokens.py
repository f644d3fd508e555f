"""Signed access tokens: who may open which render area, until when.

A token is ``<payload>.<signature>``, both base64url without padding: the payload is compact JSON
(``a``: the render area id it opens, or ``*`` for every area of the service; ``e``: expiry in Unix
seconds; ``s``: an optional session id; ``n``: a random nonce so two tokens never look alike), the
signature its HMAC-SHA256 under the service's secret. No I/O and no clock: the caller passes
``now``, so the rules are tested without waiting. A token is a credential: never log it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

ANY_AREA = "*"
MAX_TOKEN_LENGTH = 1024  # a longer query field is refused before any decoding work


class TokenError(ValueError):
    """A token was refused; ``str(error)`` is a reason safe to show the page (no token in it)."""


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token grants."""

    render_area_id: str  # ANY_AREA for every area
    expires: float  # Unix seconds
    session_id: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(key) < 16:
        raise ValueError("an access secret must be at least 16 bytes long")
    return key


def issue_token(secret: str | bytes, render_area_id: str = ANY_AREA, *, ttl: float, now: float,
                session_id: str | None = None) -> str:
    """A token that opens ``render_area_id`` (or every area, with ``ANY_AREA``) until ``now + ttl``."""
    if ttl <= 0:
        raise ValueError("ttl must be positive")
    claims: dict[str, object] = {"a": render_area_id, "e": int(now + ttl), "n": secrets.token_hex(8)}
    if session_id is not None:
        claims["s"] = session_id
    payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    signature = hmac.new(_key(secret), payload.encode("ascii"), hashlib.sha256).digest()
    return f"{payload}.{_b64(signature)}"


def verify_token(secret: str | bytes, token: str | None, render_area_id: str, *, now: float) -> TokenClaims:
    """The claims of ``token`` if it is genuine, unexpired and opens ``render_area_id``.

    Raises :class:`TokenError` with the reason otherwise: missing, malformed, bad signature,
    expired, or for another render area. The signature is checked before the payload is parsed,
    in constant time, so a forger learns nothing from the answer.
    """
    if not token:
        raise TokenError("missing access token")
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise TokenError("malformed access token")
    payload, signature = token.split(".")
    try:
        given = _unb64(signature)
    except (ValueError, TypeError):
        raise TokenError("malformed access token") from None
    expected = hmac.new(_key(secret), payload.encode("ascii", "replace"), hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        raise TokenError("invalid access token")
    try:
        claims = json.loads(_unb64(payload))
        area, expires, session = claims["a"], claims["e"], claims.get("s")
    except (ValueError, TypeError, KeyError):
        raise TokenError("malformed access token") from None
    if not isinstance(area, str) or not isinstance(expires, int) or not (session is None or isinstance(session, str)):
        raise TokenError("malformed access token")
    if now >= expires:
        raise TokenError("expired access token")
    if area != ANY_AREA and area != render_area_id:
        raise TokenError("access token is for another render area")
    return TokenClaims(render_area_id=area, expires=float(expires), session_id=session)
