"""The session manager: one viewer service process per request, as the HOOPS Server does it.

``remoteviz-sessions --config sessions.toml`` starts it (``docs/sessions.md``). One flat module
per concern: :mod:`.config` (TOML, environment, validation), :mod:`.backend` (the interface to
what runs instances), :mod:`.local` (child processes) and :mod:`.kubernetes` (a pod per session,
lightkube), :mod:`.instances` (one instance's states, heartbeat and timeouts), :mod:`.ports`
(the port range), :mod:`.manager` (caps, tokens, the registry), :mod:`.api` (REST), :mod:`.proxy` (WebSocket relay),
:mod:`.access` (hosts, origins, the API secret, start tokens, client addresses, the escaped log),
:mod:`.connections` (sockets counted from the accept, the header timeout), :mod:`.metrics`
(Prometheus), :mod:`.server` (the one port), :mod:`.cli`.
The service side is :mod:`remoteviz.launch`.
"""

from .access import issue_start_token
from .backend import Backend, InstanceHandle, LaunchSpec
from .config import AppConfig, ConfigError, ManagerConfig, load
from .instances import Instance, State
from .manager import Grant, Owner, Refusal, SessionManager
from .server import ManagerServer, serve

__all__ = ["AppConfig", "Backend", "ConfigError", "Grant", "Instance", "InstanceHandle", "LaunchSpec",
           "ManagerConfig", "ManagerServer", "Owner", "Refusal", "SessionManager", "State", "issue_start_token", "load",
           "serve"]
