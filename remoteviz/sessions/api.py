"""The REST handshake: ``POST /api/sessions`` starts an instance and answers where and how to view it.

- ``POST /api/sessions`` with ``{"app": NAME, "parameters": {...}, "render_area": ID}``: 201
  ``{id, url, token, expires}``, ``url`` being what the page passes to ``connectTo``; 503 with
  ``Retry-After`` at the cap, 429 with ``Retry-After`` when ``max_pending`` spawns are running.
- ``GET /api/sessions``, ``GET /api/sessions/{id}``, ``DELETE /api/sessions/{id}``.
- ``GET /api/status``: counts, free ports, each instance's state, memory and age.

Every route wants the API secret when one is configured, and a browser's Origin to be allowed;
a page of an allowed other origin gets CORS headers (and an answer to its preflight).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from .access import SESSION_KEY, api_authorized, origin_allowed
from .manager import Grant, Refusal, SessionManager

log = logging.getLogger("remoteviz.sessions")

RENDER_AREA_ID = re.compile(r"^[A-Za-z0-9_.~-]{1,128}$")
FORWARDED_PREFIX = re.compile(r"^(/[A-Za-z0-9_.~-]{1,64}){1,4}$")
"""An ``X-Forwarded-Prefix`` taken into proxy urls (nginx's ``/sessions``); anything else is ignored."""
DEFAULT_RENDER_AREA = "main"
MAX_BODY = 16 * 1024


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

    def _refused(self, request: web.Request) -> web.Response | None:
        if not origin_allowed(request, self._config):
            self._manager.metrics.refused("origin")
            log.warning("REST %s %s refused: origin %s not allowed", request.method, request.path,
                        request.headers.get("Origin"))
            return _error(403, "origin not allowed")
        if not api_authorized(request, self._config):
            self._manager.metrics.refused("api_secret")
            log.warning("REST %s %s refused: missing or wrong API secret", request.method, request.path)
            return _error(401, "missing or wrong API secret")
        return None

    async def create(self, request: web.Request) -> web.Response:
        """``POST /api/sessions``."""
        if (refused := self._refused(request)) is not None:
            return refused
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(413, "request body too large")
        try:
            body: Any = json.loads(await request.content.read(MAX_BODY) or b"{}")
        except (ValueError, UnicodeDecodeError):
            return _error(400, "the body must be a JSON object")
        if not isinstance(body, dict) or not isinstance(body.get("app"), str):
            return _error(400, 'the body must be a JSON object with a string field "app"')
        area = body.get("render_area", DEFAULT_RENDER_AREA)
        if not isinstance(area, str) or not RENDER_AREA_ID.match(area):
            return _error(400, "render_area: 1 to 128 letters, digits, _ . ~ -")
        parameters = body.get("parameters", {})
        if not isinstance(parameters, dict):
            return _error(400, "parameters must be an object of strings")
        try:
            grant = await self._manager.create(body["app"], parameters, proxied=False)
        except Refusal as refusal:
            log.info("REST POST /api/sessions for %r refused (%d): %s", body["app"], refusal.status, refusal.reason)
            return _error(refusal.status, refusal.reason, refusal.retry_after)
        request[SESSION_KEY] = grant.instance.id
        log.info("session %s: granted to %s through REST", grant.instance.id, request.remote)
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
        """``GET /api/sessions``."""
        if (refused := self._refused(request)) is not None:
            return refused
        return web.json_response({"sessions": [i.describe() for i in self._manager.instances]})

    async def show(self, request: web.Request) -> web.Response:
        """``GET /api/sessions/{id}``."""
        if (refused := self._refused(request)) is not None:
            return refused
        instance = self._manager.get(request.match_info["id"])
        return web.json_response(instance.describe()) if instance else _error(404, "no such session")

    async def delete(self, request: web.Request) -> web.Response:
        """``DELETE /api/sessions/{id}``: ends the instance, answers once it has exited."""
        if (refused := self._refused(request)) is not None:
            return refused
        session_id = request.match_info["id"]
        if not await self._manager.delete(session_id):
            return _error(404, "no such session")
        log.info("session %s: deleted through REST by %s", session_id, request.remote)
        return web.Response(status=204)

    async def status(self, request: web.Request) -> web.Response:
        """``GET /api/status``."""
        if (refused := self._refused(request)) is not None:
            return refused
        return web.json_response(self._manager.status())
