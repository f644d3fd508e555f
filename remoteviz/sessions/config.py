"""The manager's configuration: a TOML file, every key overridable from the environment, validated.

``load(path)`` returns a :class:`ManagerConfig` or raises :class:`ConfigError` naming each wrong
key and why. An environment variable ``REMOTEVIZ_SESSIONS_<KEY>`` overrides a top-level key,
``REMOTEVIZ_SESSIONS_APPS__<APP>__<KEY>`` a key of one app; its value is read as a TOML value
(``8``, ``[9100, 9199]``, ``"text"``), or as a plain string when it is not one. Every key and its
default is documented in ``docs/sessions.md``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "REMOTEVIZ_SESSIONS_"
APP_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
HOST_NAME = re.compile(r"^(\*|[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])$")
"""An entry of ``allowed_hosts``: a name or address as the Host header carries it, without the port; ``*`` any."""
PLACEHOLDERS = ("python", "session_id", "app", "port", "host")
"""What a command template may name in braces: ``{python}`` is the manager's own interpreter."""


class ConfigError(ValueError):
    """The configuration is wrong; the message lists every problem, one a line."""


@dataclass(frozen=True)
class AppConfig:
    """One application the manager may start."""

    name: str
    command: tuple[str, ...]  # a template: {python} {session_id} {app} {port} {host}
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    static_dir: str | None = None  # served at /<app>/ by the development HTTP server
    parameters: tuple[str, ...] = ()  # the POST parameters it takes, passed as REMOTEVIZ_PARAM_<NAME>


@dataclass(frozen=True)
class PodTemplate:
    """``[kubernetes.pod_template]``: what every session pod is made of (Kubernetes' own field shapes)."""

    image: str
    image_pull_policy: str = "IfNotPresent"
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    resources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # requests, limits


@dataclass(frozen=True)
class KubernetesConfig:
    """``[kubernetes]``: the Kubernetes backend's settings (``backend = "kubernetes"``)."""

    pod_template: PodTemplate
    namespace: str = ""  # empty: the manager's own ($POD_NAMESPACE), else "default"
    container_port: int = 8080
    warm_pool: int = 0
    warm_app: str = ""  # empty: the only app
    token_secret: str = ""  # shared by every replica; from a Secret ($REMOTEVIZ_SESSIONS_KUBERNETES__TOKEN_SECRET)
    kubeconfig: str = ""  # empty: the pod's service account (in the cluster)
    pod_name_prefix: str = "remoteviz-session"

    def resolved_namespace(self) -> str:
        """The namespace of the session pods."""
        return self.namespace or os.environ.get("POD_NAMESPACE", "") or "default"


@dataclass(frozen=True)
class ManagerConfig:
    """Everything the manager is told; defaults are safe for one machine on loopback."""

    apps: Mapping[str, AppConfig]
    host: str = "127.0.0.1"
    port: int = 8090
    max_instances: int = 8
    max_pending: int = 4
    port_range: tuple[int, int] = (9100, 9199)
    instance_host: str = "127.0.0.1"
    rest_endpoint: str = "direct"  # "direct": the REST url names the instance's port; "proxy": the manager's
    public_host: str = ""  # host name in REST urls; empty: the one the request came to
    start_timeout: float = 20.0
    initial_use_timeout: float = 60.0
    idle_timeout: float = 600.0
    max_age: float = 14400.0
    heartbeat: float = 2.0
    kill_grace: float = 5.0
    reconnect_grace: float = 10.0
    token_ttl: float = 3600.0
    allowed_origins: tuple[str, ...] = ()  # empty: only the manager's own origin; ("*",) any
    allowed_hosts: tuple[str, ...] = ()  # Host names served (DNS rebinding); empty: loopback, host, public_host
    api_secret: str = ""  # when set: Bearer <api_secret> on /api/, a start token to spawn through the proxy
    max_instances_per_address: int = 2  # instances started for one client address (or one user, below)
    max_pending_per_address: int = 1  # of them starting at once
    max_instances_per_user: int = 4  # instances of one user named by the application (start token, REST "user")
    max_connections: int = 256  # sockets open at once, counted from the accept (lowered to fit RLIMIT_NOFILE)
    max_connections_per_address: int = 32
    max_connections_without_request: int = 64  # sockets that have not sent a whole request yet
    max_connections_without_request_per_address: int = 8
    header_timeout: float = 10.0  # seconds a connection has to send a request's headers
    trusted_proxies: tuple[str, ...] = ()  # addresses whose X-Forwarded-For names the client (nginx in front)
    tls_certificate: str = ""
    tls_private_key: str = ""
    state_dir: str = ""  # where each instance's pid is recorded; empty: a per-user runtime folder
    client_dir: str = ""  # empty: the browser client shipped with remoteviz
    backend: str = "process"  # "process": child processes here; "kubernetes": a pod per session
    kubernetes: KubernetesConfig | None = None  # the [kubernetes] table, with backend = "kubernetes"

    @property
    def is_secure(self) -> bool:
        """True when the manager serves https/wss."""
        return bool(self.tls_certificate)

    def state_path(self) -> Path:
        """The folder of instance records, for finding orphans after a restart."""
        if self.state_dir:
            return Path(self.state_dir)
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        return Path(runtime) / "remoteviz-sessions" if runtime else Path(f"/tmp/remoteviz-sessions-{os.getuid()}")


_TOP_KEYS = {f.name: f for f in fields(ManagerConfig) if f.name not in ("apps", "kubernetes")}
_KUBERNETES_KEYS = {f.name for f in fields(KubernetesConfig)}
_TEMPLATE_KEYS = {f.name for f in fields(PodTemplate)}
K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")
_APP_KEYS = {f.name for f in fields(AppConfig) if f.name != "name"}


def load(path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None) -> ManagerConfig:
    """Read ``path`` (TOML; None for none), apply the environment's overrides, validate."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
    _apply_environment(raw, os.environ if environ is None else environ)
    return parse(raw, base=Path(path).resolve().parent if path is not None else Path.cwd())


def _env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_environment(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, text in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX):].lower().split("__")
        target = raw
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"{name}: {part} is not a table")
        target[parts[-1]] = _env_value(text)


def parse(raw: Mapping[str, Any], base: Path | None = None) -> ManagerConfig:
    """Validate an already-read table; relative paths are taken from ``base``."""
    base = base or Path.cwd()
    errors: list[str] = []
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("apps", "kubernetes"):
            continue
        if key not in _TOP_KEYS:
            errors.append(f"{key}: unknown key (known: apps, {', '.join(sorted(_TOP_KEYS))})")
            continue
        try:
            values[key] = _check_top(key, value)
        except ValueError as error:
            errors.append(f"{key}: {error}")
    apps: dict[str, AppConfig] = {}
    raw_apps = raw.get("apps", {})
    if not isinstance(raw_apps, dict) or not raw_apps:
        errors.append("apps: at least one [apps.NAME] table with a command is needed")
    else:
        for name, table in raw_apps.items():
            try:
                # A pod runs its command in its image: paths there are the image's, not this machine's.
                apps[name] = _check_app(name, table, base, local=values.get("backend", "process") == "process")
            except ValueError as error:
                errors.extend(f"apps.{name}.{line}" for line in str(error).splitlines())
    if not errors:
        first, last = values.get("port_range", ManagerConfig.port_range)
        if values.get("rest_endpoint", "direct") == "direct" and last - first + 1 < values.get("max_instances", 8):
            errors.append("port_range: fewer ports than max_instances")
        if bool(values.get("tls_certificate")) != bool(values.get("tls_private_key")):
            errors.append("tls_certificate, tls_private_key: give both or neither")
    if values.get("backend") == "kubernetes":
        if values.get("rest_endpoint", "direct") != "proxy":
            errors.append('rest_endpoint: must be "proxy" with the kubernetes backend (pods are reached through it)')
        try:
            values["kubernetes"] = _check_kubernetes(raw.get("kubernetes"), apps, base)
        except ValueError as error:
            errors.extend(f"kubernetes.{line}" for line in str(error).splitlines())
    elif "kubernetes" in raw:
        errors.append('kubernetes: only read with backend = "kubernetes"')
    if errors:
        raise ConfigError("invalid session manager configuration:\n  " + "\n  ".join(errors))
    for key in ("tls_certificate", "tls_private_key", "state_dir", "client_dir"):
        if values.get(key):
            values[key] = str((base / values[key]).resolve())
    return ManagerConfig(apps=apps, **values)


_POSITIVE = {"start_timeout", "initial_use_timeout", "idle_timeout", "max_age", "heartbeat", "kill_grace",
             "token_ttl", "header_timeout"}
_COUNTS = {"max_instances", "max_pending", "max_instances_per_address", "max_pending_per_address",
           "max_instances_per_user", "max_connections", "max_connections_per_address",
           "max_connections_without_request", "max_connections_without_request_per_address"}
_STRINGS = {"host", "instance_host", "public_host", "api_secret", "tls_certificate", "tls_private_key",
            "state_dir", "client_dir"}


def _check_top(key: str, value: Any) -> Any:
    if key in _POSITIVE or key == "reconnect_grace":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number of seconds, got {value!r}")
        if value < 0 or (key in _POSITIVE and value == 0):
            raise ValueError(f"must be {'positive' if key in _POSITIVE else 'zero or more'}, got {value!r}")
        return float(value)
    if key == "port" or key in _COUNTS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {value!r}")
        low = 0 if key == "port" else 1
        if not low <= value <= 65535:
            raise ValueError(f"must be between {low} and 65535, got {value}")
        return value
    if key == "port_range":
        if (not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                                                       for v in value)):
            raise ValueError(f"expected [first, last], got {value!r}")
        first, last = value
        if not 1024 <= first <= last <= 65535:
            raise ValueError(f"expected 1024 <= first <= last <= 65535, got {value!r}")
        return (first, last)
    if key == "backend":
        if value not in ("process", "kubernetes"):
            raise ValueError(f"expected \"process\" or \"kubernetes\", got {value!r}")
        return value
    if key == "rest_endpoint":
        if value not in ("direct", "proxy"):
            raise ValueError(f"expected \"direct\" or \"proxy\", got {value!r}")
        return value
    if key == "allowed_origins":
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ValueError(f"expected a list of origins such as \"https://viewer.example.com\", got {value!r}")
        return tuple(value)
    if key == "allowed_hosts":
        if not isinstance(value, list) or not all(isinstance(v, str) and HOST_NAME.match(v) for v in value):
            raise ValueError(f"expected a list of host names such as \"viz.example.com\" (no port), got {value!r}")
        return tuple(v.lower() for v in value)
    if key == "trusted_proxies":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"expected a list of addresses or networks such as \"127.0.0.1\", got {value!r}")
        for v in value:
            ipaddress.ip_network(v, strict=False)  # ValueError names the wrong one
        return tuple(value)
    if key in _STRINGS:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        if key == "api_secret" and value and len(value) < 16:
            raise ValueError("must be at least 16 characters")
        return value
    raise AssertionError(key)


def _check_app(name: str, table: Any, base: Path, local: bool = True) -> AppConfig:
    errors = []
    if not APP_NAME.match(name):
        errors.append("name: letters, digits, _ and - only, at most 64")
    if not isinstance(table, dict):
        raise ValueError("expected a table")
    for key in table:
        if key not in _APP_KEYS:
            errors.append(f"{key}: unknown key (known: {', '.join(sorted(_APP_KEYS))})")
    command = table.get("command")
    if not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command):
        errors.append(f"command: expected a non-empty list of strings, got {command!r}")
        command = []
    for argument in command:
        for placeholder in re.findall(r"\{([^{}]*)\}", argument):
            if placeholder not in PLACEHOLDERS:
                errors.append(f"command: unknown placeholder {{{placeholder}}} (known: {', '.join(PLACEHOLDERS)})")
    env = table.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        errors.append(f"env: expected a table of strings, got {env!r}")
        env = {}
    parameters = table.get("parameters", [])
    if not isinstance(parameters, list) or not all(isinstance(p, str) and APP_NAME.match(p) for p in parameters):
        errors.append(f"parameters: expected a list of names, got {parameters!r}")
        parameters = []
    paths: dict[str, str | None] = {}
    for key in ("cwd", "static_dir"):
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            errors.append(f"{key}: expected a path, got {value!r}")
            value = None
        resolved = (base / value).resolve() if value else None
        if resolved is not None and not resolved.is_dir():
            errors.append(f"{key}: {resolved} is not a folder")
        paths[key] = str(resolved) if resolved else None
    if errors:
        raise ValueError("\n".join(errors))
    return AppConfig(name=name, command=tuple(_resolved(a, base) if local else a for a in command),
                     cwd=paths["cwd"], env=dict(env), static_dir=paths["static_dir"], parameters=tuple(parameters))


def _resolved(argument: str, base: Path) -> str:
    """``argument`` made absolute when it names a file relative to the configuration's folder
    (``../hello_cone/hello_cone.py``, ``./run.sh``): the command then runs the same from any
    working directory. Anything else (``{python}``, ``-m``, a module name) is left as it is."""
    if "{" in argument or argument.startswith("-") or Path(argument).is_absolute():
        return argument
    path = base / argument
    return str(path.resolve()) if path.is_file() else argument


def _string_table(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _check_kubernetes(table: Any, apps: Mapping[str, AppConfig], base: Path) -> KubernetesConfig:
    """The ``[kubernetes]`` table; raises ValueError with one line per problem."""
    if not isinstance(table, dict):
        raise ValueError("expected a [kubernetes] table with a [kubernetes.pod_template]")
    errors = [f"{key}: unknown key (known: {', '.join(sorted(_KUBERNETES_KEYS))})" for key in table
              if key not in _KUBERNETES_KEYS]
    values: dict[str, Any] = {}
    for key in ("namespace", "warm_app", "token_secret", "kubeconfig", "pod_name_prefix"):
        if key in table:
            if not isinstance(table[key], str):
                errors.append(f"{key}: expected a string, got {table[key]!r}")
            else:
                values[key] = table[key]
    for key, low, high in (("container_port", 1, 65535), ("warm_pool", 0, 1000)):
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                errors.append(f"{key}: expected a whole number from {low} to {high}, got {value!r}")
            else:
                values[key] = value
    if len(values.get("token_secret", "")) < 32:
        errors.append("token_secret: at least 32 characters, the same for every replica "
                      "(REMOTEVIZ_SESSIONS_KUBERNETES__TOKEN_SECRET from a Secret)")
    if not K8S_NAME.match(values.get("pod_name_prefix", KubernetesConfig.pod_name_prefix)):
        errors.append("pod_name_prefix: lower-case letters, digits and -, at most 40")
    if values.get("warm_pool"):
        warm_app = values.get("warm_app") or (next(iter(apps)) if len(apps) == 1 else "")
        if warm_app not in apps:
            errors.append(f"warm_app: the app of the warm pods, one of {', '.join(apps)}")
        values["warm_app"] = warm_app
    if values.get("kubeconfig"):
        values["kubeconfig"] = str((base / values["kubeconfig"]).resolve())
    template = table.get("pod_template")
    if not isinstance(template, dict):
        errors.append("pod_template: expected a table with at least image")
        template = {}
    errors += [f"pod_template.{key}: unknown key (known: {', '.join(sorted(_TEMPLATE_KEYS))})" for key in template
               if key not in _TEMPLATE_KEYS]
    if not isinstance(template.get("image"), str) or not template.get("image"):
        errors.append("pod_template.image: the viewer image is needed")
    if template.get("image_pull_policy", "IfNotPresent") not in ("Always", "IfNotPresent", "Never"):
        errors.append("pod_template.image_pull_policy: Always, IfNotPresent or Never")
    for key in ("node_selector", "env"):
        if not _string_table(template.get(key, {})):
            errors.append(f"pod_template.{key}: expected a table of strings")
    tolerations = template.get("tolerations", [])
    if not isinstance(tolerations, list) or not all(isinstance(t, dict) for t in tolerations):
        errors.append("pod_template.tolerations: expected a list of tables (Kubernetes' toleration fields)")
    resources = template.get("resources", {})
    if not isinstance(resources, dict) or set(resources) - {"requests", "limits"} or \
            not all(_string_table(v) for v in resources.values()):
        errors.append('pod_template.resources: requests and limits, tables of quantities as strings ("2", "1Gi")')
    if errors:
        raise ValueError("\n".join(errors))
    pod = PodTemplate(image=template["image"], image_pull_policy=template.get("image_pull_policy", "IfNotPresent"),
                      node_selector=dict(template.get("node_selector", {})), tolerations=tuple(tolerations),
                      env=dict(template.get("env", {})), resources={k: dict(v) for k, v in resources.items()})
    return KubernetesConfig(pod_template=pod, **values)
