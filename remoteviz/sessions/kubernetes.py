"""The Kubernetes backend: one Pod per session, followed by one list+watch (``backend = "kubernetes"``).

- **A pod per session** from ``[kubernetes.pod_template]`` (:func:`pod_manifest`), named after a
  *slot* ``<prefix>-<k>``, ``k < max_instances``: the API server refuses a name already taken
  (409), atomically, so however many manager replicas create pods at once there are never more
  than ``max_instances``. A full set of slots is a :class:`~.backend.CapacityError` (503).
- **No state only one replica knows.** A session's id, app and start time are the pod's labels
  and annotations; its token secret is derived from a key in an annotation and the
  ``token_secret`` every replica shares (a Kubernetes Secret), so any replica issues and checks
  its tokens. Every replica follows every pod through its own watch (:meth:`KubernetesBackend.follow`):
  it answers the REST API for any session and proxies it to ``podIP:container_port``; a restarted
  replica lists the pods and goes on.
- **Ends at once**: a pod deleted (an eviction, ``kubectl delete``), failed, succeeded (the
  service exited) or being deleted ends its session on every replica; a pod that ended is
  deleted, so its slot is free again once it is gone.
- **Heartbeat**: a ``ping`` of the manager is a ``GET /metrics`` of the pod's service, answered
  with the connections the service counts (whichever replica proxies them) and how long since it
  last sent a frame, so every replica judges idleness and use alike. The kubelet's readiness
  probe on ``/health`` says when the pod is ready; ``activeDeadlineSeconds`` enforces ``max_age``.
- **Warm pool**: ``warm_pool`` pods of ``warm_app`` started ahead, in the top slots (so there are
  never more than that many, whichever replica tops them up). A session claims one with a JSON
  patch whose ``test`` operation makes the claim atomic: two replicas never take the same pod.

lightkube rather than kubernetes_asyncio: ``docs/architecture.md`` says why.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, cast

import aiohttp
from lightkube import AsyncClient, KubeConfig
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from .. import launch
from .backend import Adopted, Backend, CapacityError, InstanceHandle, LaunchSpec
from .config import AppConfig, KubernetesConfig, ManagerConfig
from .instances import MISSED_HEARTBEATS

log = logging.getLogger("remoteviz.sessions")

MANAGED_BY = "app.kubernetes.io/managed-by"
SELECTOR = {MANAGED_BY: "remoteviz"}
LABEL_APP = "remoteviz/app"
LABEL_SESSION = "remoteviz/session"
LABEL_STATE = "remoteviz/state"  # "session" or "warm"
ANNOTATION_KEY = "remoteviz/key"  # the token secret is derived from it and token_secret
ANNOTATION_STARTED = "remoteviz/started"
ANNOTATION_CREATED_BY = "remoteviz/created-by"
PORT_NAME = "remoteviz"
RELIST_DELAY = 1.0
"""Seconds before listing again after the watch failed (the API server restarting, a network blip)."""


def derive_secret(token_secret: str, key: str) -> str:
    """A pod's token secret: HMAC of its key under the replicas' shared secret."""
    return hmac.new(token_secret.encode(), key.encode(), hashlib.sha256).hexdigest()


def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unix(rfc3339: str | None) -> float:
    if not rfc3339:
        return time.time()
    try:
        return datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return time.time()


def _status(error: BaseException) -> int | None:
    """The HTTP status of a failed API call (lightkube's ApiError, or the bare httpx error kmock's answers give)."""
    response = getattr(error, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


def pod_manifest(config: ManagerConfig, app: AppConfig, name: str, key: str, token_secret: str,
                 session_id: str | None, parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """The Pod of one session (``session_id``), or a warm pod (None), as the API takes it.

    ``deploy/kubernetes/examples/session-pod.yaml`` is this, written out; the tests validate
    both against the Kubernetes schemas.
    """
    kube = config.kubernetes
    assert kube is not None
    template = kube.pod_template
    port = kube.container_port
    values = {"python": "python", "session_id": session_id or "", "app": app.name, "port": str(port),
              "host": "0.0.0.0"}
    env = {**template.env, **app.env}
    env.update({launch.ENV_HOST: "0.0.0.0", launch.ENV_PORT: str(port),
                launch.ENV_ACCESS_SECRET: derive_secret(token_secret, key)})
    if session_id is not None:
        env[launch.ENV_SESSION_ID] = session_id
    for parameter, value in (parameters or {}).items():
        env[f"REMOTEVIZ_PARAM_{parameter.upper()}"] = value
    labels = {**SELECTOR, "app.kubernetes.io/name": "remoteviz-viewer", "app.kubernetes.io/part-of": "remoteviz",
              LABEL_APP: app.name, LABEL_STATE: "warm" if session_id is None else "session"}
    if session_id is not None:
        labels[LABEL_SESSION] = session_id
    container: dict[str, Any] = {
        "name": "viewer", "image": template.image, "imagePullPolicy": template.image_pull_policy,
        "args": [argument.format(**values) for argument in app.command],
        "ports": [{"name": PORT_NAME, "containerPort": port}],
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "readinessProbe": {"httpGet": {"path": "/health", "port": PORT_NAME}, "periodSeconds": 2},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    if template.resources:
        container["resources"] = {k: dict(v) for k, v in template.resources.items()}
    spec: dict[str, Any] = {
        "restartPolicy": "Never", "activeDeadlineSeconds": int(config.max_age),
        "terminationGracePeriodSeconds": int(config.kill_grace),
        "automountServiceAccountToken": False, "enableServiceLinks": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
    }
    if template.node_selector:
        spec["nodeSelector"] = dict(template.node_selector)
    if template.tolerations:
        spec["tolerations"] = [dict(t) for t in template.tolerations]
    annotations = {ANNOTATION_KEY: key, ANNOTATION_STARTED: _now_rfc3339(),
                   ANNOTATION_CREATED_BY: os.environ.get("POD_NAME") or socket.gethostname()}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": kube.resolved_namespace(), "labels": labels,
                         "annotations": annotations},
            "spec": spec}


def _pod(manifest: dict[str, Any]) -> Pod:
    return cast(Pod, Pod.from_dict(manifest))


def _labels(pod: Pod) -> dict[str, str]:
    return dict(pod.metadata.labels or {}) if pod.metadata is not None else {}


def _name(pod: Pod) -> str:
    return pod.metadata.name or "" if pod.metadata is not None else ""


def _ended(pod: Pod) -> str | None:
    """Why the pod no longer serves its session (None while it may)."""
    if pod.metadata is not None and pod.metadata.deletionTimestamp is not None:
        return "being deleted"
    status = pod.status
    if status is not None and status.phase in ("Failed", "Succeeded"):
        return f"{status.phase}{f' ({status.reason})' if status.reason else ''}"
    return None


def _ready_ip(pod: Pod) -> str | None:
    """The pod's IP once it is Running and Ready."""
    status = pod.status
    if status is None or status.phase != "Running" or not status.podIP:
        return None
    ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions or [])
    return status.podIP if ready else None


def _metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            try:
                return float(line.split()[-1])
            except ValueError:
                return None
    return None


class PodHandle(InstanceHandle):
    """One session's pod as the manager's :class:`~.instances.Instance` sees it.

    Its lines are made from the watch (``ready port=N`` once the pod is Ready) and from the
    service's ``/metrics`` (``pong``); its exit is the pod ending; stopping it deletes the pod.
    """

    def __init__(self, backend: KubernetesBackend, name: str, secret: str, port: int) -> None:
        self._backend = backend
        self.name = name
        self._secret = secret
        self._port = port
        self._ip = ""
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._exit: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pinging: asyncio.Task[None] | None = None
        self._frames: float | None = None
        self._frame_at = time.monotonic()

    @property
    def pid(self) -> None:
        """A pod has no process id the manager could use."""
        return None

    @property
    def host(self) -> str:
        """The pod's IP, once it is ready."""
        return self._ip

    @property
    def access_secret(self) -> str:
        """The secret the pod was created with (a claimed warm pod's is its own)."""
        return self._secret

    def seen(self, pod: Pod) -> None:
        """The watch's latest version of the pod."""
        if self._exit.done():
            return
        why = _ended(pod)
        if why is not None:
            self.gone(why, 0 if pod.status is not None and pod.status.phase == "Succeeded" else 1)
            return
        ip = _ready_ip(pod)
        if ip and not self._ip:
            self._ip = ip
            self._lines.put_nowait(f"ready port={self._port}")

    def gone(self, why: str, status: int = 1) -> None:
        """The pod ended, or disappeared: the session ends now."""
        if self._exit.done():
            return
        log.info("pod %s: %s; its session ends", self.name, why)
        self._exit.set_result(status)
        self._lines.put_nowait(None)
        if self._pinging is not None:
            self._pinging.cancel()

    async def read_line(self) -> str | None:
        """The next line made from the pod's watch or heartbeat; None once it ended."""
        return await self._lines.get()

    def send_line(self, line: str) -> None:
        """``ping N``: ask the pod's service for its figures; ``stop``: delete the pod."""
        word, _, argument = line.partition(" ")
        if word == "stop":
            self._backend.delete(self.name, self._backend.kill_grace)
        elif word == "ping" and self._ip and (self._pinging is None or self._pinging.done()):
            self._pinging = asyncio.ensure_future(self._ping(argument))

    async def _ping(self, argument: str) -> None:
        text = await self._backend.metrics_of(self._ip, self._port)
        if text is None:
            return  # unanswered: three in a row make the instance unresponsive
        frames = _metric(text, "remoteviz_frames_sent_total")
        if frames != self._frames:
            self._frames, self._frame_at = frames, time.monotonic()
        connections = int(_metric(text, "remoteviz_connections") or 0)
        self._lines.put_nowait(f"pong {argument} connections={connections} idle={time.monotonic() - self._frame_at:.3f}")

    async def wait(self) -> int:
        """0 if the service exited by itself (Succeeded), 1 if the pod failed or went away."""
        return await asyncio.shield(self._exit)

    def terminate(self) -> None:
        """Delete the pod with ``kill_grace`` (the kubelet's SIGTERM, then SIGKILL)."""
        self._backend.delete(self.name, self._backend.kill_grace)

    def kill(self) -> None:
        """Delete the pod at once."""
        self._backend.delete(self.name, 0)

    def memory(self) -> None:
        """Not known from outside the pod."""
        return None


class KubernetesBackend(Backend):
    """Sessions as pods in one namespace, shared by every manager replica that follows it."""

    shared = True

    def __init__(self, config: ManagerConfig, kube_config: KubeConfig | None = None) -> None:
        assert config.kubernetes is not None
        self._config = config
        self._kube: KubernetesConfig = config.kubernetes
        self._namespace = self._kube.resolved_namespace()
        self._token_secret = self._kube.token_secret
        self._port = self._kube.container_port
        self.kill_grace = int(config.kill_grace)
        if kube_config is None:
            kube_config = KubeConfig.from_file(self._kube.kubeconfig) if self._kube.kubeconfig \
                else KubeConfig.from_service_account()
        self._client = AsyncClient(config=kube_config, namespace=self._namespace)
        self._http: aiohttp.ClientSession | None = None
        self._pods: dict[str, Pod] = {}  # name -> the watch's latest version: a cache, rebuilt on every list
        self._handles: dict[str, PodHandle] = {}  # session id -> its pod's handle
        self._adopt: Callable[[Adopted], None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._watching: asyncio.Task[None] | None = None
        self._topping_up = False

    # ------------------------------------------------------------------ helpers the handles use

    def delete(self, name: str, grace: int) -> None:
        """Delete pod ``name`` (in the background; gone already is fine)."""
        self._spawn(self._delete(name, grace))

    async def _delete(self, name: str, grace: int) -> None:
        try:
            await self._client.delete(Pod, name, namespace=self._namespace, grace_period=grace)
        except Exception as error:  # lightkube's ApiError, or a bare HTTP error
            if _status(error) != 404:
                log.warning("pod %s: cannot delete it: %s", name, error)

    async def metrics_of(self, ip: str, port: int) -> str | None:
        """The service's ``/metrics`` text, or None if it does not answer before the instance would
        count as hung anyway (a slow answer still proves it runs)."""
        if self._http is None:
            self._http = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=MISSED_HEARTBEATS * self._config.heartbeat)
        try:
            async with self._http.get(f"http://{ip}:{port}/metrics", timeout=timeout) as response:
                return await response.text() if response.status == 200 else None
        except (aiohttp.ClientError, OSError, TimeoutError):
            return None

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ Backend

    def _slots(self) -> list[str]:
        return [f"{self._kube.pod_name_prefix}-{k}" for k in range(self._config.max_instances)]

    async def start(self, spec: LaunchSpec) -> PodHandle:
        """Claim a warm pod if one fits, else create the session's pod in the lowest free slot."""
        if self._kube.warm_pool and spec.app.name == self._kube.warm_app and not spec.parameters:
            handle = await self._claim_warm(spec)
            if handle is not None:
                return handle
        key = secrets.token_hex(16)
        secret = derive_secret(self._token_secret, key)
        for name in [n for n in self._slots() if n not in self._pods]:
            handle = PodHandle(self, name, secret, self._port)
            self._handles[spec.session_id] = handle  # before the watch can see the pod
            manifest = pod_manifest(self._config, spec.app, name, key, self._token_secret, spec.session_id,
                                    dict(spec.parameters))
            try:
                created = await self._client.create(_pod(manifest))
            except Exception as error:
                del self._handles[spec.session_id]
                if _status(error) == 409:
                    continue  # another replica took this slot a moment ago
                raise OSError(f"the API server refused the pod: {error}") from None
            log.info("session %s: pod %s created", spec.session_id, name)
            self._pods.setdefault(name, created)
            handle.seen(created)
            return handle
        raise CapacityError(f"all {self._config.max_instances} pod slots are taken")

    async def _claim_warm(self, spec: LaunchSpec) -> PodHandle | None:
        for name, pod in list(self._pods.items()):
            labels = _labels(pod)
            if labels.get(LABEL_STATE) != "warm" or labels.get(LABEL_APP) != spec.app.name or _ended(pod):
                continue
            patch = [{"op": "test", "path": "/metadata/labels/remoteviz~1state", "value": "warm"},
                     {"op": "replace", "path": "/metadata/labels/remoteviz~1state", "value": "session"},
                     {"op": "add", "path": "/metadata/labels/remoteviz~1session", "value": spec.session_id},
                     {"op": "replace", "path": "/metadata/annotations/remoteviz~1started", "value": _now_rfc3339()}]
            key = (pod.metadata.annotations or {}).get(ANNOTATION_KEY, "") if pod.metadata else ""
            handle = PodHandle(self, name, derive_secret(self._token_secret, key), self._port)
            self._handles[spec.session_id] = handle
            try:
                claimed = await self._client.patch(Pod, name, patch, namespace=self._namespace,
                                                   patch_type=PatchType.JSON)
            except Exception as error:  # another replica claimed it first (422; kmock: 500), or it is gone
                del self._handles[spec.session_id]
                log.info("warm pod %s: not claimed (%s)", name, _status(error))
                continue
            log.info("session %s: claimed warm pod %s", spec.session_id, name)
            self._pods[name] = claimed
            handle.seen(claimed)
            self._top_up()
            return handle
        return None

    def forget(self, session_id: str) -> None:
        """The session ended: its handle goes (its pod is already being deleted or gone)."""
        handle = self._handles.pop(session_id, None)
        if handle is not None and handle.name in self._pods:
            self.delete(handle.name, self.kill_grace)

    async def reclaim(self, kill_grace: float) -> list[str]:
        """Nothing to reclaim: the pods a previous run started are adopted (:meth:`follow`)."""
        return []

    async def follow(self, adopt: Callable[[Adopted], None]) -> None:
        """List the pods (adopting every session), then watch them; returns after the first list."""
        self._adopt = adopt
        listed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._watching = asyncio.ensure_future(self._list_and_watch(listed))
        await listed

    async def _list_and_watch(self, listed: asyncio.Future[None]) -> None:
        while True:
            try:
                pods = {}
                async for pod in self._client.list(Pod, namespace=self._namespace, labels={MANAGED_BY: "remoteviz"}):
                    if _labels(pod).get(MANAGED_BY) == "remoteviz":
                        pods[_name(pod)] = pod
                for name in set(self._pods) - set(pods):
                    self._gone(self._pods[name])
                for pod in pods.values():
                    self._seen(pod)
                if not listed.done():
                    listed.set_result(None)
                self._top_up()
                async for kind, pod in self._client.watch(Pod, namespace=self._namespace, labels={MANAGED_BY: "remoteviz"}):
                    # Filtered again here: the emulator ignores selectors, and it costs nothing.
                    if _labels(pod).get(MANAGED_BY) != "remoteviz":
                        continue
                    if kind == "DELETED":
                        self._gone(pod)
                    else:
                        self._seen(pod)
                    self._top_up()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not listed.done():
                    listed.set_exception(OSError(f"cannot list the pods of namespace {self._namespace}: {error}"))
                    return
                log.warning("watching the pods failed (%s); listing again in %g s", error, RELIST_DELAY)
                await asyncio.sleep(RELIST_DELAY)

    def _session_of(self, pod: Pod) -> PodHandle | None:
        session = _labels(pod).get(LABEL_SESSION)
        return self._handles.get(session) if session else None

    def _seen(self, pod: Pod) -> None:
        name = _name(pod)
        self._pods[name] = pod
        labels = _labels(pod)
        handle = self._session_of(pod)
        if handle is None and _ended(pod) is None and labels.get(LABEL_STATE) == "session":
            handle = self._adopted(pod, labels)
        if handle is not None and handle.name == name:
            handle.seen(pod)
        elif handle is None and (why := _ended(pod)) is not None and pod.metadata is not None and \
                pod.metadata.deletionTimestamp is None:
            log.info("pod %s: %s; deleting it", name, why)  # a warm pod, or one no session follows any more
            self.delete(name, 0)

    def _adopted(self, pod: Pod, labels: dict[str, str]) -> PodHandle | None:
        app = self._config.apps.get(labels.get(LABEL_APP, ""))
        session = labels.get(LABEL_SESSION, "")
        if app is None or not session or self._adopt is None:
            log.warning("pod %s: of no app this manager knows (%s); left alone", _name(pod), labels.get(LABEL_APP))
            return None
        annotations = (pod.metadata.annotations or {}) if pod.metadata else {}
        secret = derive_secret(self._token_secret, annotations.get(ANNOTATION_KEY, ""))
        handle = PodHandle(self, _name(pod), secret, self._port)
        self._handles[session] = handle
        spec = LaunchSpec(session_id=session, app=app, host="", port=0, access_secret=secret)
        self._adopt(Adopted(spec, handle, _unix(annotations.get(ANNOTATION_STARTED))))
        return handle

    def _gone(self, pod: Pod) -> None:
        name = _name(pod)
        self._pods.pop(name, None)
        handle = self._session_of(pod)
        if handle is not None and handle.name == name:
            handle.gone("deleted")

    def _top_up(self) -> None:
        """Start warm pods in free slots, from the top down, until ``warm_pool`` are warm.

        Replicas pick the same slot, so two topping up at once collide on its name (409) rather
        than both adding a pod.
        """
        if not self._kube.warm_pool or self._topping_up or self._adopt is None:
            return
        warm = sum(1 for pod in self._pods.values() if _labels(pod).get(LABEL_STATE) == "warm" and not _ended(pod))
        free = [name for name in reversed(self._slots()) if name not in self._pods][:self._kube.warm_pool - warm]
        if free:
            self._topping_up = True
            self._spawn(self._create_warm(free))

    async def _create_warm(self, names: list[str]) -> None:
        app = self._config.apps[self._kube.warm_app]
        try:
            for name in names:
                manifest = pod_manifest(self._config, app, name, secrets.token_hex(16), self._token_secret, None)
                try:
                    created = await self._client.create(_pod(manifest))
                except Exception as error:
                    if _status(error) != 409:
                        log.warning("warm pod %s: not created: %s", name, error)
                    continue
                self._pods.setdefault(name, created)
                log.info("warm pod %s created", name)
        finally:
            self._topping_up = False

    async def close(self) -> None:
        """Stop watching and close the connections; the pods go on."""
        if self._watching is not None:
            self._watching.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, *([self._watching] if self._watching else []), return_exceptions=True)
        await self._client.close()
        if self._http is not None:
            await self._http.close()
