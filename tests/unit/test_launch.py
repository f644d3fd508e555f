"""remoteviz/launch.py: the environment a session manager sets, and the token check it sets up."""

from __future__ import annotations

import time

import remoteviz as rv
from remoteviz import launch
from remoteviz.access import AccessCheck
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


def test_a_session_secret_in_the_environment_turns_the_service_token_check_on(monkeypatch):
    monkeypatch.setenv(launch.ENV_ACCESS_SECRET, SECRET)
    monkeypatch.setenv(launch.ENV_SESSION_ID, "session-a")
    check = AccessCheck(launch.configure(rv.ServiceSettings()).access)
    token = issue_token(SECRET, ANY_AREA, ttl=60, now=time.time(), session_id="session-a")
    assert check.enabled and check.refusal(token, "TheCone") is None
    assert check.refusal(None, "TheCone") == "missing access token"


def test_session_access_wants_a_token_of_this_session():
    access = AccessCheck(launch.SessionAccess(SECRET, "session-a").check)
    now = time.time()
    good = issue_token(SECRET, ANY_AREA, ttl=60, now=now, session_id="session-a")
    other = issue_token(SECRET, ANY_AREA, ttl=60, now=now, session_id="session-b")
    forged = issue_token("another-secret-of-enough-length", ANY_AREA, ttl=60, now=now, session_id="session-a")
    assert access.refusal(good, "TheCone") is None
    assert access.refusal(None, "TheCone") == "missing access token"
    assert access.refusal(other, "TheCone") == "access token is for another session"
    assert access.refusal(forged, "TheCone") == "invalid access token"
