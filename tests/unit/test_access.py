"""The Origin and token checks alone: no sockets."""

import pytest

from remoteviz import tokens
from remoteviz.access import AccessCheck, OriginPolicy

SECRET = "0123456789abcdef-secret"


@pytest.mark.parametrize("origin, host, allowed", [
    (None, "127.0.0.1:8080", True),  # not a browser: the token check is its gate
    ("http://127.0.0.1:8080", "127.0.0.1:8080", True),
    ("HTTP://Viz.Example.com", "viz.example.com", True),
    ("https://viz.example.com", "viz.example.com", True),  # TLS ended by a proxy in front
    ("https://viz.example.com:443", "viz.example.com", True),
    ("http://evil.example", "127.0.0.1:8080", False),
    ("http://127.0.0.1:9999", "127.0.0.1:8080", False),
    ("null", "127.0.0.1:8080", False),  # a page opened from a file
    ("http://127.0.0.1:8080", None, False),
])
def test_only_the_services_own_origin_by_default(origin, host, allowed) -> None:
    assert (OriginPolicy(None).refusal(origin, host) is None) is allowed


def test_allowed_origins_add_to_the_own_origin_and_star_allows_any() -> None:
    policy = OriginPolicy(["https://app.example.com", "null"])
    assert policy.refusal("https://app.example.com:443", "viz:8080") is None
    assert policy.refusal("null", "viz:8080") is None
    assert "may not connect" in policy.refusal("https://evil.example", "viz:8080")
    assert not policy.allows_any
    star = OriginPolicy(["*"])
    assert star.allows_any and star.refusal("https://evil.example", "viz:8080") is None


def test_a_secret_check_gives_the_tokens_reason_and_never_the_token() -> None:
    check = AccessCheck(SECRET, clock=lambda: 1000.0)
    good = tokens.issue_token(SECRET, "A", ttl=60, now=1000.0)
    assert check.enabled and check.refusal(good, "A") is None
    assert check.refusal(good, "B") == "access token is for another render area"
    assert check.refusal(None, "A") == "missing access token"
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    reason = check.refusal(forged, "A")
    assert reason == "invalid access token" and forged not in reason
    assert not AccessCheck(None).enabled and AccessCheck(None).refusal(None, "A") is None


def test_a_short_secret_is_refused_at_once() -> None:
    with pytest.raises(ValueError):
        AccessCheck("short")


def test_a_callable_decides_and_false_refuses() -> None:
    assert AccessCheck(lambda token, area: token == "yes").refusal("yes", "A") is None
    assert AccessCheck(lambda token, area: token == "yes").refusal("no", "A") == "access refused"
