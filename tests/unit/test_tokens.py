"""Signed access tokens: each refusal reason, and that a token cannot be bent to another use."""

import pytest

from remoteviz.tokens import ANY_AREA, TokenError, issue_token, verify_token

SECRET = "0123456789abcdef-secret"


def test_a_token_opens_its_area_until_it_expires():
    token = issue_token(SECRET, "TheCone", ttl=60, now=1000.0, session_id="s1")
    claims = verify_token(SECRET, token, "TheCone", now=1059.0)
    assert (claims.render_area_id, claims.expires, claims.session_id) == ("TheCone", 1060.0, "s1")
    with pytest.raises(TokenError, match="expired"):
        verify_token(SECRET, token, "TheCone", now=1060.0)


def test_a_token_for_one_area_does_not_open_another():
    token = issue_token(SECRET, "TheCone", ttl=60, now=0.0)
    with pytest.raises(TokenError, match="another render area"):
        verify_token(SECRET, token, "Parts", now=1.0)


def test_an_any_area_token_opens_every_area():
    token = issue_token(SECRET, ANY_AREA, ttl=60, now=0.0)
    assert verify_token(SECRET, token, "Parts", now=1.0).render_area_id == ANY_AREA


@pytest.mark.parametrize("token, reason", [(None, "missing"), ("", "missing"), ("abc", "malformed"),
                                           ("a.b.c", "malformed"), ("x" * 2000 + ".y", "malformed"),
                                           ("e30.!!!", "invalid|malformed")])
def test_garbage_is_refused_with_a_reason(token, reason):
    with pytest.raises(TokenError, match=reason):
        verify_token(SECRET, token, "TheCone", now=0.0)


def test_another_secret_or_an_edited_payload_fails_the_signature():
    token = issue_token(SECRET, "TheCone", ttl=60, now=0.0)
    with pytest.raises(TokenError, match="invalid"):
        verify_token("another-secret-of-16-bytes", token, "TheCone", now=1.0)
    forged = issue_token("another-secret-of-16-bytes", ANY_AREA, ttl=10**9, now=0.0).split(".")[0]
    with pytest.raises(TokenError, match="invalid"):
        verify_token(SECRET, forged + "." + token.split(".")[1], "TheCone", now=1.0)


def test_two_tokens_for_the_same_grant_differ_and_short_secrets_are_refused():
    assert issue_token(SECRET, "A", ttl=5, now=0.0) != issue_token(SECRET, "A", ttl=5, now=0.0)
    with pytest.raises(ValueError):
        issue_token("short", "A", ttl=5, now=0.0)
