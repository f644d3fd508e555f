"""The REST handshake: ``POST /api/sessions`` starts an instance and answers where and how to view it.

- ``POST /api/sessions`` with ``{"app": NAME, "parameters": {...}, "render_area": ID}``: 201
  ``{id, url, token, expires}``, ``url`` being what the page passes to ``connectTo``; 503 with
  ``Retry-After`` at the cap, 429 with ``Retry-After`` when ``max_pending`` spawns are running.
- ``GET /api/sessions``: every session; only with the API secret (ids and pids are for operators).
- ``GET /api/sessions/{id}``, ``DELETE /api/sessions/{id}``: with the API secret, or with that
  session's own token (``Authorization: Bearer <token>``: the page that has it may end its session).
- ``GET /api/status``: counts and free ports; each instance's state, memory and age with the secret.

A browser's Origin must be allowed; a page of an allowed other origin gets CORS headers (and an
answer to its preflight). Starting wants the secret when one is configured, and is limited per
client address (or per user, named by a caller holding the secret). The body is at most 16 KiB
of JSON nested at most 8 deep: anything else is a 400, never a traceback.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from .access import SESSION_KEY, api_authorized, bearer, has_secret, origin_allowed, printable, request_client
from .manager import Grant, Owner, Refusal, SessionManager

log = logging.getLogger("remoteviz.sessions")

RENDER_AREA_ID = re.compile(r"^[A-Za-z0-9_.~-]{1,128}$")
FORWARDED_PREFIX = re.compile(r"^(/[A-Za-z0-9_.~-]{1,64}){1,4}$")
"""An ``X-Forwarded-Prefix`` taken into proxy urls (nginx's ``/sessions``); anything else is ignored."""
DEFAULT_RENDER_AREA = "main"
MAX_BODY = 16 * 1024
MAX_DEPTH = 8
"""Arrays and objects nested deeper in a request body are refused before parsing (the parser recurses)."""
MAX_USER = 128


def nesting_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in the JSON text ``raw`` (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _error(status: int, reason: str, retry_after: int | None = None) -> web.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return web.json_response({"error": reason}, status=status, headers=headers)


class RestApi:
    """The ``/api/`` routes of one manager."""

    def __init__(self, manager: SessionManager) -> None:
        self._manager = manager
        self._config = manager.config

    def routes(self) -> list[web.RouteDef]:
        """The aiohttp routes."""
        return [web.post("/api/sessions", self.create), web.get("/api/sessions", self.list_sessions),
                web.get("/api/sessions/{id}", self.show), web.delete("/api/sessions/{id}", self.delete),
                web.get("/api/status", self.status), web.options("/api/{tail:.*}", self.preflight)]

    @web.middleware
    async def cors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Let a page of an allowed other origin read the API's answers (CORS); no one else."""
        response = await handler(request)
        origin = request.headers.get("Origin")
        if request.path.startswith("/api/") and origin is not None and origin_allowed(request, self._config):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    async def preflight(self, request: web.Request) -> web.Response:
        """``OPTIONS /api/...``: what a cross-origin page may send, if its origin is allowed."""
        if not origin_allowed(request, self._config):
            return _error(403, "origin not allowed")
        return web.Response(status=204, headers={"Access-Control-Allow-Methods": "GET, POST, DELETE",
                                                 "Access-Control-Allow-Headers": "Content-Type, Authorization",
                                                 "Access-Control-Max-Age": "600"})

    def _refused(self, request: web.Request, secret_needed: bool = True) -> web.Response | None:
        """The answer that refuses ``request`` (a foreign origin; without the configured secret, when
        ``secret_needed``), or None."""
        if not origin_allowed(request, self._config):
            self._manager.metrics.refused("origin")
            self._manager.audit.refused(request_client(request), f"REST {request.method} {printable(request.path)}: "
                                        f"origin {printable(request.headers.get('Origin'))} not allowed")
            return _error(403, "origin not allowed")
        if secret_needed and not api_authorized(request, self._config):
            return self._no_secret(request)
        return None

    def _no_secret(self, request: web.Request) -> web.Response:
        self._manager.metrics.refused("api_secret")
        self._manager.audit.refused(request_client(request), f"REST {request.method} {printable(request.path)}: "
                                    "missing or wrong API secret")
        if not self._config.api_secret:
            return _error(403, "this needs the API secret, and none is configured (api_secret)")
        return _error(401, "missing or wrong API secret")

    async def create(self, request: web.Request) -> web.Response:
        """``POST /api/sessions``."""
        if (refused := self._refused(request)) is not None:
            return refused
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(413, "request body too large")
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            return _error(413, "request body too large")
        if nesting_depth(raw) > MAX_DEPTH:
            return _error(400, f"the body must be a JSON object nested at most {MAX_DEPTH} deep")
        try:
            body: Any = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _error(400, "the body must be a JSON object")
        if not isinstance(body, dict) or not isinstance(body.get("app"), str):
            return _error(400, 'the body must be a JSON object with a string field "app"')
        area = body.get("render_area", DEFAULT_RENDER_AREA)
        if not isinstance(area, str) or not RENDER_AREA_ID.match(area):
            return _error(400, "render_area: 1 to 128 letters, digits, _ . ~ -")
        parameters = body.get("parameters", {})
        if not isinstance(parameters, dict):
            return _error(400, "parameters must be an object of strings")
        trusted = has_secret(request, self._config)  # the application's own backend: no per-address limit
        user = body.get("user")
        if user is not None and (not trusted or not isinstance(user, str) or not 0 < len(user) <= MAX_USER):
            return _error(400, f'"user" is a string of at most {MAX_USER} characters, given with the API secret')
        owner = Owner(request_client(request), user, trusted)
        try:
            grant = await self._manager.create(body["app"], parameters, proxied=False, owner=owner)
        except Refusal as refusal:
            self._manager.audit.refused(owner.address, f"REST POST /api/sessions for {printable(body['app'], 64)}: "
                                        f"{refusal.status} {refusal.reason}")
            return _error(refusal.status, refusal.reason, refusal.retry_after)
        request[SESSION_KEY] = grant.instance.id
        log.info("session %s: granted to %s through REST", grant.instance.id, owner.address)
        return web.json_response(self._answer(request, grant, area), status=201)

    def _answer(self, request: web.Request, grant: Grant, area: str) -> dict[str, object]:
        instance = grant.instance
        host = self._config.public_host or request.url.host or "127.0.0.1"
        if self._config.rest_endpoint == "direct":
            url = f"ws://{host}:{instance.port}/{area}?token={grant.token}"
        else:
            # Behind a proxy that ends TLS and forwards a prefix (deploy/nginx): the url the browser
            # can use. Only the asker's own answer depends on these headers.
            secure = self._config.is_secure or request.headers.get("X-Forwarded-Proto") == "https"
            prefix = request.headers.get("X-Forwarded-Prefix", "")
            prefix = prefix if FORWARDED_PREFIX.match(prefix) else ""
            url = (f"{'wss' if secure else 'ws'}://{request.host}{prefix}/{instance.app}/{area}"
                   f"?session={instance.id}&token={grant.token}")
        return {"id": instance.id, "url": url, "token": grant.token, "expires": grant.expires}

    async def list_sessions(self, request: web.Request) -> web.Response:
        """``GET /api/sessions``: only with the API secret."""
        if (refused := self._refused(request, secret_needed=False)) is not None:
            return refused
        if not has_secret(request, self._config):
            return self._no_secret(request)
        return web.json_response({"sessions": [i.describe() for i in self._manager.instances]})

    def _may_see(self, request: web.Request, session_id: str) -> bool:
        """The API secret, or a token of this very session."""
        return has_secret(request, self._config) or self._manager.token_opens(session_id, bearer(request))

    async def show(self, request: web.Request) -> web.Response:
        """``GET /api/sessions/{id}``."""
        if (refused := self._refused(request, secret_needed=False)) is not None:
            return refused
        session_id = request.match_info["id"]
        if not self._may_see(request, session_id):
            return self._not_yours(request)
        instance = self._manager.get(session_id)
        return web.json_response(instance.describe()) if instance else _error(404, "no such session")

    def _not_yours(self, request: web.Request) -> web.Response:
        # One answer for "no such session" and "not your session": an id alone tells a stranger nothing.
        self._manager.metrics.refused("token")
        self._manager.audit.refused(request_client(request), f"REST {request.method} of a session "
                                    "without its token or the API secret")
        return _error(401 if self._config.api_secret else 403,
                      "unknown session, or neither its token nor the API secret given")

    async def delete(self, request: web.Request) -> web.Response:
        """``DELETE /api/sessions/{id}``: ends the instance, answers once it has exited."""
        if (refused := self._refused(request, secret_needed=False)) is not None:
            return refused
        session_id = request.match_info["id"]
        if not self._may_see(request, session_id):
            return self._not_yours(request)
        if not await self._manager.delete(session_id):
            return _error(404, "no such session")
        log.info("session %s: deleted through REST by %s", session_id, request_client(request))
        return web.Response(status=204)

    async def status(self, request: web.Request) -> web.Response:
        """``GET /api/status``: counts (with the secret when one is configured); every instance with the secret."""
        if (refused := self._refused(request)) is not None:
            return refused
        status = self._manager.status()
        if not has_secret(request, self._config):
            status.pop("sessions")
        return web.json_response(status)
