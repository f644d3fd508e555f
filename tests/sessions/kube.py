"""A Kubernetes API emulator (kmock) on loopback, a stand-in kubelet, and managers on the kubernetes backend.

No cluster exists here. kmock's emulator stores objects and serves create/get/list/watch/patch/
delete; several ``kmock.Server`` endpoints over one emulator are API servers of one cluster.
The :class:`Kubelet` plays the node: for each new session pod it starts the pod's container
command as a real process (a remoteviz service) on a loopback address of its own,
``127.0.0.<n>:<container_port>`` (so every "pod" listens on the same port, as in a cluster),
then patches the pod Running and Ready with that ``podIP``; a pod deleted has its process
stopped. kmock has no ``/status`` subresource, so the status is patched on the pod itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import kmock
import yaml
from lightkube import AsyncClient, KubeConfig
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from remoteviz.sessions.config import parse
from remoteviz.sessions.kubernetes import KubernetesBackend
from remoteviz.sessions.manager import SessionManager
from remoteviz.sessions.server import ManagerServer

from .harness import PATTERN, ROOT

NAMESPACE = "remoteviz"
TOKEN_SECRET = "a-test-secret-shared-by-every-replica-0123456789"


def kubeconfig(url: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Config", "current-context": "emulator",
            "clusters": [{"name": "emulator", "cluster": {"server": url}}],
            "users": [{"name": "test", "user": {"token": "unused"}}],
            "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "test",
                                                           "namespace": NAMESPACE}}]}


def free_port() -> int:
    """A port nothing listens on, on any address (so 127.0.0.<n>:port is free for every n)."""
    while True:
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
                return port
            except OSError:
                continue


class Kubelet:
    """Runs each session pod's container as a real process and reports it Running/Ready."""

    def __init__(self, url: str) -> None:
        self.client = AsyncClient(config=KubeConfig.from_dict(kubeconfig(url)), namespace=NAMESPACE)
        self.processes: dict[str, asyncio.subprocess.Process | None] = {}  # None: starting
        self.started: list[str] = []  # pod names, in the order their process started
        self._next_ip = 2
        self._task: asyncio.Task[None] | None = None
        self._starting: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Kubelet:
        self._task = asyncio.ensure_future(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        for task in self._starting:
            task.cancel()
        await asyncio.gather(self._task, *self._starting, return_exceptions=True)
        for name in list(self.processes):
            await self.stop(name)
        await self.client.close()

    async def _run(self) -> None:
        async for kind, pod in self.client.watch(Pod, namespace=NAMESPACE):
            name = pod.metadata.name
            if kind == "DELETED" or pod.metadata.deletionTimestamp is not None:
                await self.stop(name)
            elif name not in self.processes and (pod.status is None or pod.status.phase in (None, "Pending")):
                self.processes[name] = None
                task = asyncio.ensure_future(self._start(pod))
                self._starting.add(task)
                task.add_done_callback(self._starting.discard)

    async def _start(self, pod: Pod) -> None:
        name = pod.metadata.name
        (container,) = pod.spec.containers
        ip = f"127.0.0.{self._next_ip}"
        self._next_ip += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("REMOTEVIZ_")}
        env.update({e.name: e.value for e in container.env or []})
        env["REMOTEVIZ_HOST"] = ip
        args = [sys.executable if a == "python" else a for a in container.args]
        process = await asyncio.create_subprocess_exec(*args, env=env, cwd=ROOT, stdin=asyncio.subprocess.DEVNULL,
                                                       stdout=asyncio.subprocess.DEVNULL,
                                                       stderr=asyncio.subprocess.DEVNULL)
        self.processes[name] = process
        self.started.append(name)
        port = container.ports[0].containerPort
        for _ in range(600):  # until the service listens: what the readiness probe on /health would see
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection(ip, port)
                writer.close()
                break
            await asyncio.sleep(0.05)
        status = {"status": {"phase": "Running", "podIP": ip,
                             "conditions": [{"type": "Ready", "status": "True"}]}}
        with contextlib.suppress(Exception):  # deleted meanwhile
            await self.client.patch(Pod, name, status, namespace=NAMESPACE, patch_type=PatchType.MERGE)

    async def evict(self, name: str) -> None:
        """What a kubelet does to a pod over its memory or on a node under pressure: Failed, Evicted."""
        await self.stop(name)
        await self.client.patch(Pod, name, {"status": {"phase": "Failed", "reason": "Evicted",
                                                       "message": "The node was low on resource: memory."}},
                                namespace=NAMESPACE, patch_type=PatchType.MERGE)

    async def stop(self, name: str) -> None:
        """The kubelet's SIGTERM to a deleted pod's container."""
        process = self.processes.pop(name, None)
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


def manager_config(kubeconfig_path: Path, container_port: int, **settings: Any) -> dict[str, Any]:
    """A sessions config table for the kubernetes backend and the pattern viewer."""
    settings = dict(settings)
    kubernetes = {"namespace": NAMESPACE, "container_port": container_port, "token_secret": TOKEN_SECRET,
                  "kubeconfig": str(kubeconfig_path), **settings.pop("kubernetes", {})}
    kubernetes.setdefault("pod_template", {
        "image": "registry.example.com/remoteviz/viewer:test",
        "node_selector": {"nvidia.com/gpu.present": "true"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "env": {"REMOTEVIZ_LOG_LEVEL": "info"},
        "resources": {"requests": {"cpu": "1", "memory": "512Mi"},
                      "limits": {"cpu": "2", "memory": "1Gi", "nvidia.com/gpu": "1"}}})
    return {"host": "127.0.0.1", "port": 0, "backend": "kubernetes", "rest_endpoint": "proxy",
            "heartbeat": 0.5, "kill_grace": 1.0, "max_instances": 4, "api_secret": API_SECRET,
            "max_instances_per_address": 64, "max_pending_per_address": 64,
            "apps": {"pattern": {"command": ["{python}", str(PATTERN)]}}, "kubernetes": kubernetes, **settings}


API_SECRET = "kube-test-api-secret-0123456789"


class Manager:
    """One manager replica in this process, on the kubernetes backend, with an HTTP client for it."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.config = parse(raw)
        self.server: ManagerServer | None = None
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> Manager:
        self.server = ManagerServer(SessionManager(self.config, KubernetesBackend(self.config)))
        await self.server.start()
        self.http = aiohttp.ClientSession(f"http://127.0.0.1:{self.server.port}")
        return self

    async def stop(self) -> None:
        assert self.server is not None and self.http is not None
        await self.http.close()
        await self.server.stop()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    async def request(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        assert self.http is not None
        # The operator's secret: it lists sessions, and starts them from this one address beyond the per-address limit.
        headers = {"Authorization": f"Bearer {API_SECRET}"}
        async with self.http.request(method, path, json=body, headers=headers) as response:
            text = await response.text()
            return response.status, (await response.json() if text and response.content_type == "application/json"
                                     else text)

    async def create(self, app: str = "pattern") -> dict[str, Any]:
        status, answer = await self.request("POST", "/api/sessions", {"app": app, "render_area": "A"})
        assert status == 201, (status, answer)
        return answer

    def url_at(self, answer: dict[str, Any]) -> str:
        """The REST answer's url, pointed at this replica (as a Service may send the browser to either)."""
        path = answer["url"].split("/", 3)[3]
        return f"ws://127.0.0.1:{self.port}/{path}"


@contextlib.asynccontextmanager
async def replicas(kubeconfigs: list[Path], **settings: Any) -> AsyncIterator[list[Manager]]:
    """A started manager on each API endpoint, one configuration (the replicas of one Deployment)."""
    port = free_port()
    managers: list[Manager] = []
    try:
        for path in kubeconfigs:
            managers.append(await Manager(manager_config(path, port, **settings)).start())
        yield managers
    finally:
        for manager in managers:
            await manager.stop()


@contextlib.asynccontextmanager
async def cluster(tmp: Path, servers: int = 2) -> AsyncIterator[tuple[list[Path], Kubelet, AsyncClient]]:
    """An emulator with ``servers`` API endpoints (a kubeconfig file for each), a kubelet, and a client."""
    async with kmock.KubernetesEmulator() as emulator, contextlib.AsyncExitStack() as stack:
        emulator.resources["v1/pods"] = {"kind": "Pod", "namespaced": True}  # known before any pod exists
        endpoints = [await stack.enter_async_context(kmock.Server(emulator)) for _ in range(servers)]
        paths = []
        for index, endpoint in enumerate(endpoints):
            path = tmp / f"kubeconfig-{index}"
            path.write_text(yaml.safe_dump(kubeconfig(str(endpoint.url))))
            paths.append(path)
        kubelet = await stack.enter_async_context(Kubelet(str(endpoints[0].url)))
        client = AsyncClient(config=KubeConfig.from_dict(kubeconfig(str(endpoints[0].url))), namespace=NAMESPACE)
        try:
            yield paths, kubelet, client
        finally:
            await client.close()


async def pods(client: AsyncClient) -> list[Pod]:
    """Every pod in the namespace."""
    return [pod async for pod in client.list(Pod, namespace=NAMESPACE)]


async def until(predicate: Any, timeout: float = 30.0) -> Any:
    """Await ``predicate()`` (sync or async) until it is true; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_inline(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def to_toml(table: dict[str, Any], path: tuple[str, ...] = ()) -> str:
    """``table`` as a TOML file: nested tables as [sections], the rest inline."""
    lines = [f"[{'.'.join(json.dumps(p) for p in path)}]"] if path else []
    lines += [f"{json.dumps(k)} = {_inline(v)}" for k, v in table.items() if not isinstance(v, dict)]
    text = "\n".join(lines) + "\n"
    return text + "".join(to_toml(v, (*path, k)) for k, v in table.items() if isinstance(v, dict))


@contextlib.asynccontextmanager
async def manager_command(config: Path, environ: dict[str, str]) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """``python -m remoteviz.sessions --config config``; its process and port. SIGTERM is the test's to send."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMOTEVIZ_")} | environ
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "remoteviz.sessions", "--config", str(config),
                                                   env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.STDOUT)
    assert process.stdout is not None
    try:
        port = 0
        output = []
        while not port:
            line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
            assert line, "the manager exited:\n" + "".join(output)
            output.append(line)
            if line.startswith("remoteviz-sessions listening on port"):
                port = int(line.split()[-1])
        drain = asyncio.ensure_future(process.stdout.read())  # keep its pipe from filling up
        yield process, port
        await drain
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
