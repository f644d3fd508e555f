"""remoteviz/launch.py: the environment a session manager sets, and the token check it installs."""

from __future__ import annotations

import time

import remoteviz as rv
from remoteviz import launch
from remoteviz.connection import ConnectionParameters
from remoteviz.tokens import ANY_AREA, issue_token

SECRET = "a-session-secret-of-enough-length"


def test_configure_overrides_host_and_port_only_when_told(monkeypatch):
    settings = rv.ServiceSettings(host="0.0.0.0", port=8080, max_connections=7)
    for name in (launch.ENV_HOST, launch.ENV_PORT, launch.ENV_ACCESS_SECRET):
        monkeypatch.delenv(name, raising=False)
    assert launch.configure(settings) is settings
    monkeypatch.setenv(launch.ENV_HOST, "127.0.0.1")
    monkeypatch.setenv(launch.ENV_PORT, "0")
    configured = launch.configure(settings)
    assert (configured.host, configured.port, configured.max_connections) == ("127.0.0.1", 0, 7)
    assert settings.port == 8080  # the user's object is not changed


def test_session_access_wants_a_token_of_this_session():
    access = launch.SessionAccess(SECRET, "session-a")
    now = time.time()
    good = issue_token(SECRET, ANY_AREA, ttl=60, now=now, session_id="session-a")
    other = issue_token(SECRET, ANY_AREA, ttl=60, now=now, session_id="session-b")
    forged = issue_token("another-secret-of-enough-length", ANY_AREA, ttl=60, now=now, session_id="session-a")
    assert access.refusal("TheCone", ConnectionParameters({"token": good})) is None
    assert access.refusal("TheCone", ConnectionParameters({})) == "missing access token"
    assert access.refusal("TheCone", ConnectionParameters({"token": other})) == "access token is for another session"
    assert access.refusal("TheCone", ConnectionParameters({"token": forged})) == "invalid access token"
