"""deploy/kubernetes/: every manifest valid against the Kubernetes API schemas (kubernetes-validate
ships them, so this runs offline), the pieces wired to each other, the least RBAC, and the
viewer image's Dockerfile linted by hadolint. No cluster and no Docker engine are used."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
"""The oldest Kubernetes the manifests are meant for (every kind in them is GA there), and the newest
whose schemas kubernetes-validate ships."""

HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")


def manifest_files() -> list[Path]:
    return sorted(path for path in DEPLOY.glob("*.yaml") if path.name != "kustomization.yaml")


def documents() -> list[dict]:
    return [doc for path in manifest_files() for doc in yaml.safe_load_all(path.read_text()) if doc]


def the(kind: str) -> dict:
    found = [doc for doc in documents() if doc["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind} manifests"
    return found[0]


def validate(doc: dict, version: str = KUBERNETES_VERSIONS[0]) -> None:
    """Raises kubernetes_validate.ValidationError; strict: a field the schema lacks is an error too."""
    kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("doc", documents(), ids=lambda doc: f"{doc['kind']}/{doc['metadata']['name']}")
def test_every_manifest_is_valid_against_the_kubernetes_schema(doc: dict, version: str) -> None:
    validate(doc, version)
    assert doc["kind"] == "Namespace" or doc["metadata"]["namespace"] == "remoteviz"


BREAKAGES = {
    "replicas as text": lambda d: d["spec"].__setitem__("replicas", "two"),
    "a misspelt field": lambda d: d["spec"]["template"]["spec"].__setitem__("serviceAcountName", "x"),
    "a container without a name": lambda d: d["spec"]["template"]["spec"]["containers"][0].pop("name"),
    "a port out of type": lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0]
    .__setitem__("containerPort", "eight thousand"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_manifest_is_refused(breakage: str) -> None:
    broken = copy.deepcopy(the("Deployment"))
    BREAKAGES[breakage](broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [path.name for path in manifest_files()]


def test_the_manager_has_pods_in_its_namespace_and_nothing_more() -> None:
    kinds = [doc["kind"] for doc in documents()]
    assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds
    role, binding, account = the("Role"), the("RoleBinding"), the("ServiceAccount")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"],
                              "verbs": ["create", "get", "list", "watch", "delete", "patch"]}]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": "remoteviz"}]
    pod = the("Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_the_deployment_service_ingress_and_config_fit_together() -> None:
    deployment, service, ingress, config = the("Deployment"), the("Service"), the("Ingress"), the("ConfigMap")
    assert deployment["spec"]["replicas"] == 2
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert service["spec"]["ports"][0]["targetPort"] in [port["name"] for port in container["ports"]]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": service["metadata"]["name"], "port": {"name": service["spec"]["ports"][0]["name"]}}
    assert ingress["spec"]["tls"][0]["hosts"] == [ingress["spec"]["rules"][0]["host"]]
    # The config the manager reads is the ConfigMap's, mounted where its command looks.
    mount = container["volumeMounts"][0]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == config["metadata"]["name"]
    config_path = container["command"][container["command"].index("--config") + 1]
    assert config_path == f"{mount['mountPath']}/sessions.toml"
    sessions = tomllib.loads(config["data"]["sessions.toml"])
    assert sessions["backend"] == "kubernetes"
    assert sessions["port"] == container["ports"][0]["containerPort"]
    assert sessions["allowed_origins"] == [f"https://{ingress['spec']['rules'][0]['host']}"]
    template = sessions["kubernetes"]["pod_template"]
    assert template["image"] and template["resources"]["requests"]
    # The viewer pods' port is the one the network policy opens to the manager alone.
    policy = the("NetworkPolicy")
    assert policy["spec"]["ingress"][0]["ports"][0]["port"] == sessions["kubernetes"]["container_port"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/managed-by": "remoteviz"}
    assert policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"].items() <= labels.items()


def test_the_quota_holds_max_instances_viewers_and_the_managers() -> None:
    config = tomllib.loads(the("ConfigMap")["data"]["sessions.toml"])
    hard = the("ResourceQuota")["spec"]["hard"]
    deployment = the("Deployment")
    managers = deployment["spec"]["replicas"] + deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    viewers = config["max_instances"] + config["kubernetes"]["warm_pool"]
    assert int(hard["pods"]) >= viewers + managers
    viewer_cpu = float(config["kubernetes"]["pod_template"]["resources"]["requests"]["cpu"])
    assert float(hard["requests.cpu"]) >= viewers * viewer_cpu


def test_the_manager_runs_without_privileges() -> None:
    pod = the("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]["securityContext"]
    assert container["allowPrivilegeEscalation"] is False and container["capabilities"]["drop"] == ["ALL"]
    assert container["readOnlyRootFilesystem"] is True


def test_the_example_session_pod_is_what_the_config_and_the_policy_expect() -> None:
    """examples/session-pod.yaml is the Kubernetes backend's contract: one session's pod."""
    pod = yaml.safe_load((DEPLOY / "examples" / "session-pod.yaml").read_text())
    for version in KUBERNETES_VERSIONS:
        validate(pod, version)
    config = tomllib.loads(the("ConfigMap")["data"]["sessions.toml"])
    template = config["kubernetes"]["pod_template"]
    spec, labels = pod["spec"], pod["metadata"]["labels"]
    assert labels.items() >= the("NetworkPolicy")["spec"]["podSelector"]["matchLabels"].items()
    assert labels["remoteviz/app"] in config["apps"]
    assert spec["restartPolicy"] == "Never"
    assert spec["activeDeadlineSeconds"] == config["max_age"]
    assert spec["terminationGracePeriodSeconds"] == config["kill_grace"]
    assert spec["automountServiceAccountToken"] is False  # a viewer has no business with the API
    (container,) = spec["containers"]
    assert container["image"] == template["image"]
    assert container["resources"] == template["resources"]
    assert container["args"] == config["apps"][labels["remoteviz/app"]]["command"]
    assert container["ports"][0]["containerPort"] == config["kubernetes"]["container_port"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert {"name": "REMOTEVIZ_SESSION_ID", "value": labels["remoteviz/session"]} in container["env"]
    assert labels["remoteviz/state"] == "session"
    # Pod Security "restricted", which the namespace enforces.
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert the("Namespace")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_example_session_pod_is_what_the_backend_makes_of_the_config() -> None:
    """The backend's pod for the ConfigMap's config is the example, but for what differs per
    session (its id, key, start, secret) and the manager's name."""
    pytest.importorskip("lightkube")
    from remoteviz.sessions.config import parse
    from remoteviz.sessions.kubernetes import derive_secret, pod_manifest

    example = yaml.safe_load((DEPLOY / "examples" / "session-pod.yaml").read_text())
    raw = tomllib.loads(the("ConfigMap")["data"]["sessions.toml"])
    for app in raw["apps"].values():
        app.pop("static_dir")  # a folder of the manager's image, absent here
    raw["kubernetes"]["token_secret"] = "t" * 32
    config = parse(raw)
    labels, annotations = example["metadata"]["labels"], example["metadata"]["annotations"]
    made = pod_manifest(config, config.apps[labels["remoteviz/app"]], example["metadata"]["name"],
                        annotations["remoteviz/key"], "t" * 32, labels["remoteviz/session"])
    for volatile in ("remoteviz/started", "remoteviz/created-by"):
        made["metadata"]["annotations"][volatile] = annotations[volatile]
    secret = next(e for e in example["spec"]["containers"][0]["env"] if e["name"] == "REMOTEVIZ_ACCESS_SECRET")
    secret["value"] = derive_secret("t" * 32, annotations["remoteviz/key"])
    assert made == example
    for version in KUBERNETES_VERSIONS:
        validate(made, version)
    warm = pod_manifest(config, config.apps["hello_cone"], "remoteviz-session-19", "k", "t" * 32, None)
    validate(warm)
    assert warm["metadata"]["labels"]["remoteviz/state"] == "warm" and "remoteviz/session" not in warm["metadata"]["labels"]


def test_the_dockerfile_passes_hadolint_and_a_broken_one_does_not(tmp_path: Path) -> None:
    dockerfile = DEPLOY / "Dockerfile"
    linted = subprocess.run([HADOLINT, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM debian:latest\nRUN apt-get install mesa\nCMD python app.py\n")
    linted = subprocess.run([HADOLINT, "--no-color", str(broken)], capture_output=True, text=True, timeout=60)
    assert linted.returncode != 0
    assert "DL3007" in linted.stdout  # latest tag
    assert "DL3025" in linted.stdout  # CMD not in JSON form


def test_the_viewer_image_is_debian_with_mesa_and_runs_unprivileged() -> None:
    lines = [line.strip() for line in (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    instructions = [line.split(None, 1) for line in lines]
    assert instructions[0] == ["FROM", "debian:bookworm-slim"]
    # The manager runs from it too, on the Kubernetes backend.
    assert ["RUN", 'pip install --no-cache-dir ".[kubernetes]"'] in instructions
    install = next(arguments for name, arguments in instructions if name == "RUN" and "apt-get install" in arguments)
    for package in ("libegl1", "libegl-mesa0", "libgl1-mesa-dri"):  # EGL and llvmpipe
        assert package in install.split()
    env = " ".join(arguments for name, arguments in instructions if name == "ENV")
    assert "PYOPENGL_PLATFORM=egl" in env and "NVIDIA_DRIVER_CAPABILITIES=graphics" in env
    assert [arguments for name, arguments in instructions if name == "USER"] == ["10001:10001"]
    assert instructions[-1][0] == "CMD" and "--host" in instructions[-1][1]
