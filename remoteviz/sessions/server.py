"""The manager's one port: REST API, WebSocket proxy, and the HTTP server for development.

- ``/health`` (the manager runs), ``/ready`` (it can spawn now: 503 otherwise), ``/metrics``.
- ``/remoteviz/...``: the browser client; ``/<app>/...``: that app's ``static_dir``. Like the
  HOOPS Server's built-in web server, for development: production puts nginx in front.
- ``/api/...``: :mod:`.api`; a WebSocket upgrade on ``/<app>/<render area id>``: :mod:`.proxy`.

Every socket is counted from the accept (:mod:`.connections`), and every request must name a host
the manager serves (``allowed_hosts``; 421 otherwise), whatever its path but the probes
(``/health``, ``/ready``, ``/metrics``, which a load balancer or Prometheus asks by IP address).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from ..http import CLIENT_DIR
from ..limits import TrustedProxies
from .access import ACCESS_LOG, RequestLog, host_allowed, printable, request_client, served_hosts
from .api import RestApi
from .backend import Backend
from .config import ManagerConfig
from .connections import AcceptErrors, Connections, listen
from .local import LocalProcessBackend
from .manager import SessionManager
from .proxy import Proxy

log = logging.getLogger("remoteviz.sessions")

PROBES = frozenset({"/health", "/ready", "/metrics"})
"""Paths answered whatever the Host: they hold no session, and probes ask by IP address."""


def _file(root: Path, relative: str) -> web.StreamResponse:
    """``root/relative`` if it is a regular file inside ``root``; no dotfiles, no way out."""
    relative = relative or "index.html"
    if relative.endswith("/"):
        relative += "index.html"
    segments = relative.split("/")
    if any(s.startswith(".") or not s for s in segments) or "\\" in relative or "\x00" in relative:
        raise web.HTTPNotFound()
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


class ManagerServer:
    """The aiohttp application around one :class:`SessionManager`."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager
        self._config = manager.config
        self._proxy = Proxy(manager)
        self._client_dir = Path(self._config.client_dir) if self._config.client_dir else CLIENT_DIR
        api = RestApi(manager)
        self._hosts = served_hosts(self._config)
        self._connections = Connections(self._config, manager.audit, TrustedProxies(self._config.trusted_proxies))
        self.app = web.Application(middlewares=[self._connections.middleware, self._check_host, api.cors])
        self.app.add_routes([
            web.get("/health", self._health), web.get("/ready", self._ready), web.get("/metrics", self._metrics),
            *api.routes(),
            web.get("/remoteviz/{path:.*}", self._client),
            web.get("/{app}/{area:.*}", self._app_path),
        ])
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._accept_errors = AcceptErrors()
        self.port = 0

    @web.middleware
    async def _check_host(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """421 for a Host the manager does not serve: a page under a rebound DNS name reaches this
        address with its own name as Host (and as Origin), and must get nothing."""
        if request.path in PROBES or host_allowed(request, self._hosts):
            return await handler(request)
        self.manager.metrics.refused("host")
        self.manager.audit.refused(request_client(request),
                                   f"Host {printable(request.headers.get('Host'), 80)} is not served (allowed_hosts)")
        return web.Response(status=421, text="misdirected request: this host name is not served here\n")

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _ready(self, request: web.Request) -> web.Response:
        if self.manager.can_spawn:
            return web.Response(text="ready\n")
        return web.Response(status=503, text="at capacity\n", headers={"Retry-After": "5"})

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(text=self.manager.metrics.render(self.manager),
                            content_type="text/plain", charset="utf-8", headers={"X-Content-Type-Options": "nosniff"})

    async def _client(self, request: web.Request) -> web.StreamResponse:
        return _file(self._client_dir, request.match_info["path"])

    async def _app_path(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._proxy.handle(request)
        app = self._config.apps.get(request.match_info["app"])
        if app is None or app.static_dir is None:
            raise web.HTTPNotFound()
        return _file(Path(app.static_dir), request.match_info["area"])

    async def start(self) -> None:
        """Reclaim orphans, then listen."""
        await self.manager.start()
        self._runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=2.0,
                                     access_log_class=RequestLog, access_log=ACCESS_LOG)
        await self._runner.setup()
        logging.getLogger("asyncio").addFilter(self._accept_errors)
        self._listener = await listen(self._runner, self._connections, self._config.host, self._config.port,
                                      self._ssl_context())
        self.port = self._listener.sockets[0].getsockname()[1]
        scheme = "https" if self._config.is_secure else "http"
        log.info("remoteviz session manager on %s://%s:%d (apps: %s)", scheme, self._config.host, self.port,
                 ", ".join(self._config.apps))
        if not self._config.api_secret and self._config.host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("the REST API takes requests from anyone who reaches %s: set api_secret", self._config.host)
        if "*" in self._config.allowed_origins:
            log.warning("allowed_origins is [\"*\"]: pages of any site may open viewers")
        if "*" in self._hosts:
            log.warning("allowed_hosts is [\"*\"]: pages under any host name (DNS rebinding) may use the manager")
        else:
            log.info("host names served: %s", ", ".join(sorted(self._hosts)))
        if self._config.trusted_proxies:
            log.info("X-Forwarded-For is believed from %s", ", ".join(self._config.trusted_proxies))
        if self._config.api_secret:
            log.info("the API secret is required on /api/, and a start token to start an instance through the proxy")

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self._config.is_secure:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self._config.tls_certificate, self._config.tls_private_key)
        return context

    async def stop(self) -> None:
        """Stop every instance and wait for each, then stop listening."""
        await self.manager.close()
        if self._listener is not None:
            self._listener.close()
        logging.getLogger("asyncio").removeFilter(self._accept_errors)
        if self._runner is not None:
            await self._runner.cleanup()
        await self._proxy.close()


def make_backend(config: ManagerConfig) -> Backend:
    """The backend ``config.backend`` names."""
    if config.backend == "kubernetes":
        from .kubernetes import KubernetesBackend  # lightkube: the optional extra remoteviz[kubernetes]
        return KubernetesBackend(config)
    return LocalProcessBackend(config.state_path())


async def serve(config: ManagerConfig) -> None:
    """Run a manager until SIGTERM or SIGINT; then every instance is stopped and reaped (a shared
    backend's are left to the other replicas)."""
    manager = SessionManager(config, make_backend(config))
    server = ManagerServer(manager)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
    except BaseException:
        await server.stop()  # what started (the proxy's client, instances' records) is closed, not left
        raise
    print(f"remoteviz-sessions listening on port {server.port}", flush=True)
    try:
        await stop.wait()
    finally:
        log.info("stopping: ending %d instance(s)", len(manager.instances))
        await server.stop()
