"""The session manager's Kubernetes backend against kmock's API server emulator on loopback.

Each pod's container runs for real (tests/sessions/kube.py's kubelet starts the pattern viewer,
a real remoteviz service, on a loopback address of its own), so proxying is real: frames come
from the pod's service through whichever manager replica the browser reached. What an emulator
cannot show (scheduling, images, probes run by a kubelet, evictions, quotas, RBAC, network
policy) is listed in docs/deployment.md.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import kubernetes_validate
import pytest

from remoteviz import client
from remoteviz.client import ServiceClosed

from .kube import (
    API_SECRET,
    TOKEN_SECRET,
    Manager,
    cluster,
    free_port,
    manager_command,
    manager_config,
    pods,
    replicas,
    to_toml,
    until,
)
from .pattern_viewer import drawn_as_received


async def view_one_frame(url: str) -> None:
    """Connect to ``url``, take a frame, and check that it holds exactly the pixels the service drew."""
    async with client.connect(url, width=96, height=64, timeout=30) as remote:
        frame = await remote.next_frame(timeout=30)
        assert drawn_as_received(frame), frame.frame.text


def test_a_session_is_one_pod_with_its_labels_resources_and_probe(tmp_path: Path) -> None:
    async def run() -> None:
        async with cluster(tmp_path, servers=1) as (kubeconfigs, kubelet, api):
            async with replicas(kubeconfigs, max_age=600) as (manager,):
                answer = await manager.create()
                (pod,) = await pods(api)
                labels = pod.metadata.labels
                assert labels["app.kubernetes.io/managed-by"] == "remoteviz"
                assert labels["remoteviz/session"] == answer["id"] and labels["remoteviz/app"] == "pattern"
                spec = pod.spec
                assert spec.restartPolicy == "Never" and spec.activeDeadlineSeconds == 600
                assert spec.automountServiceAccountToken is False
                assert spec.nodeSelector == {"nvidia.com/gpu.present": "true"}
                (container,) = spec.containers
                assert container.resources.limits == {"cpu": "2", "memory": "1Gi", "nvidia.com/gpu": "1"}
                assert container.readinessProbe.httpGet.path == "/health"
                assert container.ports[0].containerPort == manager.config.kubernetes.container_port
                env = {e.name: e.value for e in container.env}
                assert env["REMOTEVIZ_SESSION_ID"] == answer["id"] and env["REMOTEVIZ_LOG_LEVEL"] == "info"
                # The pod as the backend made it is valid for the API server (the schema, strictly).
                made = pod.to_dict()
                made.pop("status", None)
                kubernetes_validate.validate(made, kubernetes_validate.latest_version(), strict=True)
                # Proxied to the pod's IP: the frames are the pod service's bytes.
                await view_one_frame(answer["url"])
                status, listed = await manager.request("GET", "/api/sessions")
                assert [s["id"] for s in listed["sessions"]] == [answer["id"]]
                assert len(kubelet.started) == 1  # one pod, one process: nothing else was started

    asyncio.run(run())


@pytest.mark.parametrize("end", ["deleted", "evicted"])
def test_a_pod_deleted_or_evicted_ends_the_session_at_once(tmp_path: Path, end: str) -> None:
    async def run() -> None:
        async with cluster(tmp_path, servers=1) as (kubeconfigs, kubelet, api):
            async with replicas(kubeconfigs) as (manager,):
                answer = await manager.create()
                async with client.connect(answer["url"], width=96, height=64, timeout=30) as remote:
                    await remote.next_frame(timeout=30)
                    (pod,) = await pods(api)
                    if end == "deleted":  # kubectl delete, a node drain
                        await api.delete(type(pod), pod.metadata.name, namespace="remoteviz")
                    else:
                        await kubelet.evict(pod.metadata.name)
                    # The session is gone from the API at once, and the viewer's connection ends.
                    await until(lambda: _gone(manager, answer["id"]), timeout=10)
                    with pytest.raises(ServiceClosed):
                        for _ in range(1000):
                            await remote.next_frame(timeout=10)
                # Its token opens nothing any more.
                with pytest.raises(ServiceClosed, match="unknown or ended session"):
                    async with client.connect(answer["url"], timeout=20):
                        pass
                assert manager.server.manager.metrics.ends("crashed") == 1
                # An evicted pod is deleted by the manager, so its slot is free again.
                await until(lambda: _no_pods(api), timeout=10)

    asyncio.run(run())


async def _viewers(manager: Manager, session_id: str, count: int) -> bool:
    status, shown = await manager.request("GET", f"/api/sessions/{session_id}")
    return status == 200 and shown["viewers"] == count and shown["state"] in ("ready", "in_use", "draining")


async def _no_pods(api: object) -> bool:
    return not await pods(api)


async def _gone(manager: Manager, session_id: str) -> bool:
    status, _ = await manager.request("GET", f"/api/sessions/{session_id}")
    return status == 404


def test_two_managers_see_and_proxy_each_others_sessions(tmp_path: Path) -> None:
    async def run() -> None:
        async with cluster(tmp_path, servers=2) as (kubeconfigs, kubelet, api):
            async with replicas(kubeconfigs) as (a, b):
                first, second = await a.create(), await b.create()
                for manager in (a, b):
                    status, listed = await manager.request("GET", "/api/sessions")
                    assert sorted(s["id"] for s in listed["sessions"]) == sorted([first["id"], second["id"]])
                # Each replica proxies the other's session with the other's token (one shared secret).
                await view_one_frame(b.url_at(first))
                async with client.connect(b.url_at(first), width=96, height=64, timeout=30) as remote:
                    await remote.next_frame(timeout=30)
                    # The replica that relays nothing still sees the viewer: the pod's service counts it.
                    await until(lambda: _viewers(a, first["id"], 1), timeout=15)
                await until(lambda: _viewers(a, first["id"], 0), timeout=15)
                await view_one_frame(a.url_at(second))
                # A token of one session still opens no other, whichever replica checks it.
                crossed = b.url_at(second).replace(second["token"], first["token"])
                with pytest.raises(ServiceClosed, match="invalid access token"):
                    async with client.connect(crossed, timeout=20):
                        pass
                # Deleted through one replica, it ends on both.
                assert (await b.request("DELETE", f"/api/sessions/{first['id']}"))[0] == 204
                await until(lambda: _gone(a, first["id"]), timeout=10)
                assert len(await pods(api)) == 1

    asyncio.run(run())


def test_a_manager_restarted_in_the_middle_loses_no_session(tmp_path: Path) -> None:
    async def run() -> None:
        async with cluster(tmp_path, servers=1) as (kubeconfigs, kubelet, api):
            raw = manager_config(kubeconfigs[0], free_port())
            manager = await Manager(raw).start()
            answer = await manager.create()
            async with client.connect(answer["url"], width=96, height=64, timeout=30) as remote:
                await remote.next_frame(timeout=30)
                await manager.stop()  # a rolling update: the replica goes, its sessions stay
                assert [p.metadata.labels["remoteviz/session"] for p in await pods(api)] == [answer["id"]]
                restarted = await Manager(raw).start()
                try:
                    status, shown = await restarted.request("GET", f"/api/sessions/{answer['id']}")
                    assert status == 200 and shown["app"] == "pattern"
                    await view_one_frame(restarted.url_at(answer))
                finally:
                    await restarted.stop()
            assert len(kubelet.started) == 1  # the same pod all along

    asyncio.run(run())


def test_the_cap_holds_across_two_managers(tmp_path: Path) -> None:
    async def run() -> None:
        async with cluster(tmp_path, servers=2) as (kubeconfigs, kubelet, api):
            async with replicas(kubeconfigs, max_instances=3, max_pending=10) as (a, b):
                answers = await asyncio.gather(*(m.request("POST", "/api/sessions", {"app": "pattern"})
                                                 for m in [a, b] * 5))
                statuses = sorted(status for status, _ in answers)
                assert statuses == [201] * 3 + [503] * 7, statuses
                assert len(await pods(api)) == 3
                assert len(kubelet.started) == 3

    asyncio.run(run())


def test_a_warm_pod_is_claimed_by_one_session_and_the_pool_is_topped_up(tmp_path: Path) -> None:
    async def run() -> None:
        async with cluster(tmp_path, servers=2) as (kubeconfigs, kubelet, api):
            async with replicas(kubeconfigs, max_instances=4, kubernetes={"warm_pool": 1}) as (a, b):
                async def warm() -> list[str]:
                    return [p.metadata.name for p in await pods(api) if p.metadata.labels["remoteviz/state"] == "warm"
                            and p.status is not None and p.status.podIP]
                (warm_pod,) = await until(warm)  # two replicas topping up, one warm pod
                # Two sessions at once, one through each replica: one gets the warm pod, never both.
                first, second = await asyncio.gather(a.create(), b.create())
                by_session = {p.metadata.labels.get("remoteviz/session"): p.metadata.name for p in await pods(api)}
                assert warm_pod in (by_session[first["id"]], by_session[second["id"]])
                assert by_session[first["id"]] != by_session[second["id"]]
                await view_one_frame(b.url_at(first))
                await view_one_frame(a.url_at(second))
                # The pool is warm again, in another pod, and still one pod only.
                (again,) = await until(warm)
                assert again != warm_pod
                assert len(await pods(api)) == 3

    asyncio.run(run())


def test_every_kubernetes_key_is_documented_with_its_default() -> None:
    from dataclasses import MISSING, fields

    from remoteviz.sessions.config import KubernetesConfig, PodTemplate

    doc = (Path(__file__).resolve().parents[2] / "docs" / "sessions.md").read_text().splitlines()
    for field in [*fields(KubernetesConfig), *fields(PodTemplate)]:
        if field.name == "pod_template":
            continue
        row = next((line for line in doc if line.startswith(f"| `{field.name}` |")), None)
        assert row is not None, f"{field.name} is not in docs/sessions.md"
        if isinstance(field.default, str) and field.default:
            assert f'"{field.default}"' in row, row
        elif isinstance(field.default, int):
            assert f"`{field.default}`" in row, row
        elif field.default is MISSING and field.default_factory is MISSING:
            assert "(required)" in row, row


def test_a_wrong_kubernetes_config_names_each_problem(tmp_path: Path) -> None:
    from remoteviz.sessions.config import ConfigError, parse

    raw = manager_config(tmp_path / "kubeconfig", 8080, rest_endpoint="direct")
    raw["kubernetes"].update(token_secret="short", warm_pool=-1, colour="blue")
    raw["kubernetes"]["pod_template"] = {"image_pull_policy": "Sometimes", "resources": {"limits": {"cpu": 2}}}
    with pytest.raises(ConfigError) as error:
        parse(raw)
    message = str(error.value)
    for expected in ['rest_endpoint: must be "proxy"', "kubernetes.token_secret: at least 32",
                     "kubernetes.warm_pool: expected a whole number", "kubernetes.colour: unknown key",
                     "kubernetes.pod_template.image: the viewer image is needed",
                     "kubernetes.pod_template.image_pull_policy", "kubernetes.pod_template.resources"]:
        assert expected in message, message
    with pytest.raises(ConfigError, match='kubernetes: only read with backend = "kubernetes"'):
        parse({**raw, "backend": "process", "rest_endpoint": "proxy"})


def test_the_manager_command_leaves_its_pods_to_the_next_one_on_sigterm(tmp_path: Path) -> None:
    """The real command, config file and environment: SIGTERM (a rolling update) ends no session."""
    async def run() -> None:
        async with cluster(tmp_path, servers=1) as (kubeconfigs, kubelet, api):
            raw = manager_config(kubeconfigs[0], free_port())
            del raw["kubernetes"]["token_secret"]  # from the environment, as the Deployment passes it
            config = tmp_path / "sessions.toml"
            config.write_text(to_toml(raw))
            environ = {"REMOTEVIZ_SESSIONS_KUBERNETES__TOKEN_SECRET": TOKEN_SECRET}
            async with manager_command(config, environ) as (first, port), aiohttp.ClientSession() as http:
                async with http.post(f"http://127.0.0.1:{port}/api/sessions", json={"app": "pattern"},
                                     headers={"Authorization": f"Bearer {API_SECRET}"}) as response:
                    assert response.status == 201
                    answer = await response.json()
                first.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(first.wait(), 30) == 0
            assert [p.metadata.labels["remoteviz/session"] for p in await pods(api)] == [answer["id"]]
            async with manager_command(config, environ) as (second, port):
                path = answer["url"].split("/", 3)[3]
                await view_one_frame(f"ws://127.0.0.1:{port}/{path}")
                second.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(second.wait(), 30) == 0
            assert len(kubelet.started) == 1

    asyncio.run(run())
