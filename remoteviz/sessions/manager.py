"""The session manager: caps, spawns, the registry of live instances, their tokens, the end of all.

Everything runs on one asyncio loop, so the cap is checked and the instance registered without
an ``await`` in between: under any number of concurrent requests exactly ``max_instances`` start.
The REST API (:mod:`.api`) and the proxy (:mod:`.proxy`) call :meth:`SessionManager.create`,
:meth:`SessionManager.join` and :meth:`SessionManager.delete`; neither knows how instances run
(:mod:`.backend`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from ..audit import Audit
from ..tokens import ANY_AREA, TokenError, issue_token, verify_token
from .backend import Adopted, Backend, LaunchSpec
from .config import AppConfig, ManagerConfig
from .instances import Instance, StartError, State, Timeouts
from .metrics import ManagerMetrics
from .ports import PortPool

log = logging.getLogger("remoteviz.sessions")

PORT_ATTEMPTS = 3
"""Ports tried for one instance when the first ones turn out to be held by another program."""

PARAMETER_VALUE_LIMIT = 256

ADOPT_WAIT = 3.0
"""Seconds a connection to a session this manager has not seen yet waits for it (a shared backend:
another replica created it a moment ago, and this one's watch has not delivered it yet)."""


class Refusal(Exception):
    """A request the manager will not serve: an HTTP status, a reason for the page, maybe a retry time."""

    def __init__(self, status: int, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class Owner:
    """Who asked for an instance: what the per-address and per-user limits count."""

    address: str  # the client's address (forwarded by a trusted proxy)
    user: str | None = None  # named by the application (a start token, or a REST caller with the secret)
    trusted: bool = False  # the application's own backend (the API secret): no per-address limit

    @property
    def key(self) -> str | None:
        """What its instances are counted under; None: not counted (the backend, naming no user)."""
        if self.user is not None:
            return f"user {self.user}"
        return None if self.trusted else f"address {self.address}"


@dataclass(frozen=True)
class Grant:
    """What a request for a session is given: the instance and a token for it."""

    instance: Instance
    token: str
    expires: float  # Unix seconds


class SessionManager:
    """Starts, tracks and ends instances for one configuration and one backend."""

    def __init__(self, config: ManagerConfig, backend: Backend, metrics: ManagerMetrics | None = None) -> None:
        self.config = config
        self._backend = backend
        self.metrics = metrics or ManagerMetrics()
        self._instances: dict[str, Instance] = {}
        self._owners: dict[str, str] = {}  # session id -> Owner.key of the request that started it
        self.audit = Audit()  # refusals, rate-limited (the service's own audit log)
        self._arrived = asyncio.Event()  # set whenever the backend hands over an instance
        self._ports = PortPool(*config.port_range)
        self._port_busy: set[str] = set()  # sessions whose reserved port another program holds
        self._closing = False
        self._timeouts = Timeouts(config.start_timeout, config.initial_use_timeout, config.idle_timeout,
                                  config.max_age, config.heartbeat, config.kill_grace, config.reconnect_grace)

    # ------------------------------------------------------------------ facts

    @property
    def instances(self) -> list[Instance]:
        """Instances not yet exited."""
        return list(self._instances.values())

    def get(self, session_id: str) -> Instance | None:
        """The instance of ``session_id`` if it has not exited."""
        return self._instances.get(session_id)

    @property
    def pending(self) -> int:
        """Instances launching."""
        return sum(1 for i in self._instances.values() if i.state is State.LAUNCHING)

    @property
    def free_ports(self) -> int:
        """Ports of the range no instance holds."""
        return self._ports.free

    @property
    def can_spawn(self) -> bool:
        """Whether a request for a new instance would be started now (``/ready``)."""
        return not self._closing and len(self._instances) < self.config.max_instances and \
            self.pending < self.config.max_pending

    def status(self) -> dict[str, object]:
        """``GET /api/status``: counts, free ports, each instance's state, memory and age."""
        states = {state.value: 0 for state in State}
        for instance in self._instances.values():
            states[instance.state.value] += 1
        return {"instances": len(self._instances), "max_instances": self.config.max_instances,
                "pending": self.pending, "max_pending": self.config.max_pending, "states": states,
                "free_ports": self.free_ports, "sessions": [i.describe() for i in self._instances.values()]}

    # ------------------------------------------------------------------ life

    async def start(self) -> None:
        """Stop what a previous run of the manager left behind."""
        stopped = await self._backend.reclaim(self.config.kill_grace)
        if stopped:
            log.warning("stopped %d orphan instance(s) of a previous run: %s", len(stopped), ", ".join(stopped))
            self.metrics.ended("orphan", len(stopped))
        await self._backend.follow(self._adopt)

    def _adopt(self, found: Adopted) -> None:
        """An instance another manager started: follow it as if this one had."""
        if found.spec.session_id in self._instances or self._closing:
            return
        instance = Instance(found.spec, self._timeouts, self._exited, self.metrics.ended, created=found.created)
        self._instances[instance.id] = instance
        instance.adopt(found.handle)
        self._arrived.set()

    def _owned(self, key: str) -> tuple[int, int]:
        """Instances counted under ``key``, and how many of them are starting."""
        mine = [self._instances[s] for s, k in self._owners.items() if k == key and s in self._instances]
        return len(mine), sum(1 for i in mine if i.state is State.LAUNCHING)

    def _check_owner(self, owner: Owner) -> None:
        """Raise Refusal when ``owner`` has its share of instances, or of spawns in progress."""
        key = owner.key
        if key is None:
            return
        count, starting = self._owned(key)
        limit = self.config.max_instances_per_user if owner.user is not None else self.config.max_instances_per_address
        who = "this user" if owner.user is not None else "this address"
        if count >= limit:
            self.metrics.refused("owner")
            raise Refusal(429, f"{who} has {count} viewer instances already (at most {limit})", retry_after=10)
        if starting >= self.config.max_pending_per_address:
            self.metrics.refused("pending")
            raise Refusal(429, f"{who} has {starting} viewer instances starting already", retry_after=2)

    def token_opens(self, session_id: str, token: str | None) -> bool:
        """Whether ``token`` is a valid token of the live session ``session_id`` (its page may see and end it)."""
        instance = self._instances.get(session_id)
        if instance is None or not token:
            return False
        try:
            claims = verify_token(instance.access_secret, token, ANY_AREA, now=time.time())
        except TokenError:
            return False
        return claims.session_id == session_id

    async def create(self, app_name: str, parameters: Mapping[str, str] | None = None, *,
                     proxied: bool, owner: Owner | None = None) -> Grant:
        """Start an instance of ``app_name`` for ``owner`` and wait until it is ready; raises Refusal.

        ``owner`` None: nobody's (counted against the totals only)."""
        app = self.config.apps.get(app_name)
        if app is None:
            raise Refusal(404, f"unknown application {app_name!r}")
        given = dict(parameters or {})
        unknown = set(given) - set(app.parameters)
        if unknown:
            raise Refusal(400, f"unknown parameter(s) for {app_name}: {', '.join(sorted(unknown))}")
        if any(not isinstance(v, str) or len(v) > PARAMETER_VALUE_LIMIT or "\x00" in v for v in given.values()):
            raise Refusal(400, f"a parameter value must be a string of at most {PARAMETER_VALUE_LIMIT} characters")
        if self._closing:
            raise Refusal(503, "the session manager is stopping", retry_after=5)
        if len(self._instances) >= self.config.max_instances:
            self.metrics.refused("cap")
            raise Refusal(503, f"all {self.config.max_instances} viewer instances are in use", retry_after=10)
        if self.pending >= self.config.max_pending:
            self.metrics.refused("pending")
            raise Refusal(429, f"{self.config.max_pending} viewer instances are already starting", retry_after=2)
        if owner is not None:
            self._check_owner(owner)
        direct = not proxied and self.config.rest_endpoint == "direct"
        started = time.monotonic()
        last_error = "no port left in the range"
        for _ in range(PORT_ATTEMPTS):
            port = self._ports.take() if direct else 0
            if port is None:
                break
            instance = self._register(app, given, port, direct)
            if owner is not None and owner.key is not None:
                self._owners[instance.id] = owner.key
            try:
                await instance.start(self._backend.start)
            except StartError as error:
                instance.stop("start_failed")
                if error.capacity:
                    self.metrics.refused("cap")
                    raise Refusal(503, f"all {self.config.max_instances} viewer instances are in use",
                                  retry_after=10) from None
                last_error = str(error)
                if error.port_busy and port:
                    log.warning("session %s: port %d is held by another program; trying another", instance.id, port)
                    self._port_busy.add(instance.id)
                    continue
                break
            self.metrics.spawned(time.monotonic() - started)
            return self.grant(instance)
        self.metrics.failed()
        raise Refusal(502, f"the viewer instance did not start: {last_error}")

    def _register(self, app: AppConfig, parameters: dict[str, str], port: int, direct: bool) -> Instance:
        session_id = secrets.token_hex(12)  # hex: also a valid Kubernetes label value
        secret = secrets.token_urlsafe(32)
        spec = LaunchSpec(session_id=session_id, app=app, port=port, access_secret=secret,
                          host=self.config.instance_host if direct else "127.0.0.1", parameters=parameters,
                          unix_socket=not direct)
        instance = Instance(spec, self._timeouts, self._exited, self.metrics.ended)
        self._instances[session_id] = instance
        log.info("session %s: spawning %s (%s)", session_id, app.name, f"port {port}" if port else "proxied")
        return instance

    def _exited(self, instance: Instance) -> None:
        """The instance's process has exited: its port is free at once, its record goes."""
        if instance.spec.port:
            if instance.id in self._port_busy:
                self._port_busy.discard(instance.id)
                self._ports.quarantine(instance.spec.port)
            else:
                self._ports.release(instance.spec.port)
        self._instances.pop(instance.id, None)
        self._owners.pop(instance.id, None)
        self._backend.forget(instance.id)

    def grant(self, instance: Instance) -> Grant:
        """A fresh token for ``instance``: bound to its session, every render area, ``token_ttl``."""
        now = time.time()
        ttl = self.config.token_ttl
        token = issue_token(instance.access_secret, ANY_AREA, ttl=ttl, now=now, session_id=instance.id)
        return Grant(instance, token, float(int(now + ttl)))

    async def join(self, session_id: str, token: str | None, render_area_id: str) -> Instance:
        """The live, ready instance ``token`` opens; raises Refusal with the reason otherwise."""
        instance = self._instances.get(session_id)
        if instance is None and self._backend.shared:
            instance = await self._arrival(session_id)
        # One answer for "no such session" and "wrong token": an id alone tells a guesser nothing.
        if instance is None:
            raise Refusal(403, "unknown or ended session")
        if instance.state is State.LAUNCHING and not await instance.wait_ready(ADOPT_WAIT):
            raise Refusal(503, "the session is not ready", retry_after=2)
        try:
            claims = verify_token(instance.access_secret, token, render_area_id, now=time.time())
        except TokenError as error:
            raise Refusal(403, str(error)) from None
        if claims.session_id != session_id:
            raise Refusal(403, "access token is for another session")
        if not instance.is_live:
            raise Refusal(410, "the session is ending")
        return instance

    async def _arrival(self, session_id: str) -> Instance | None:
        """Wait up to ``ADOPT_WAIT`` for the backend to hand over ``session_id``."""
        deadline = time.monotonic() + ADOPT_WAIT
        while (instance := self._instances.get(session_id)) is None and time.monotonic() < deadline:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        return instance

    async def delete(self, session_id: str, reason: str = "deleted") -> bool:
        """End ``session_id`` and wait for its exit; False if there is no such live session."""
        instance = self._instances.get(session_id)
        if instance is None:
            return False
        instance.stop(reason)
        await instance.exited.wait()
        return True

    async def close(self) -> None:
        """Stop every instance (SIGTERM, SIGKILL after kill_grace) and wait until each is reaped.

        A shared backend's instances are left running: the other replicas, or this one started
        again, go on serving them.
        """
        self._closing = True
        instances = list(self._instances.values())
        if self._backend.shared:
            for instance in instances:
                instance.detach()
            self._instances.clear()
        else:
            for instance in instances:
                instance.stop("shutdown")
            await asyncio.gather(*(i.exited.wait() for i in instances))
        await self._backend.close()
