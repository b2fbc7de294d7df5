"""The billing page's session cookie: signed, flagged, keyed from the settings, CSRF-checked."""

import pytest
from fastapi import Response
from pydantic import SecretStr, ValidationError
from starlette.requests import Request
from tally_gateway.config import Settings
from tally_gateway.web.session import COOKIE, Session, SessionCookies, session_key
from tally_runtime.settings import PLACEHOLDER_SECRET

SID = "AC" + "0" * 32
REAL = {
    "ops_key": SecretStr("a-real-ops-key"),
    "token_pepper": SecretStr("a-real-pepper"),
    "service_token": SecretStr("a-real-service-token"),
}


def settings(environment: str = "test", **overrides: object) -> Settings:
    return Settings.model_validate({"environment": environment, **REAL, **overrides})


def written(cookies: SessionCookies, session: Session) -> str:
    """The `Set-Cookie` header the session is written with."""
    response = Response()
    cookies.write(response, session)
    return response.headers["set-cookie"]


def request_with(cookie_header: str) -> Request:
    """A request carrying the cookie of a `Set-Cookie` header, as a browser sends it back."""
    pair = cookie_header.split(";", 1)[0]
    return Request({"type": "http", "headers": [(b"cookie", pair.encode())]})


def test_given_a_signed_in_session_when_its_cookie_comes_back_then_it_names_the_account() -> None:
    cookies = SessionCookies(settings())
    session = Session.signed_in(SID)

    assert cookies.read(request_with(written(cookies, session))) == session


def test_given_a_session_cookie_then_it_is_httponly_samesite_and_secure_outside_development() -> (
    None
):
    header = written(SessionCookies(settings("test")), Session.anonymous()).lower()
    local = written(SessionCookies(settings("development")), Session.anonymous()).lower()

    assert "httponly" in header
    assert "samesite=lax" in header
    assert "secure" in header
    assert "path=/billing" in header
    assert "secure" not in local  # plain HTTP on a developer's localhost
    assert "httponly" in local


def test_given_an_altered_cookie_then_no_session_is_read() -> None:
    cookies = SessionCookies(settings())
    header = written(cookies, Session.signed_in(SID))
    value = header.split(";", 1)[0].removeprefix(f"{COOKIE}=")
    altered = value[:-2] + ("AA" if not value.endswith("AA") else "BB")

    assert cookies.read(request_with(f"{COOKIE}={altered}")) is None


def test_given_a_cookie_signed_with_another_key_then_no_session_is_read() -> None:
    theirs = SessionCookies(settings(session_secret=SecretStr("someone-elses-secret")))
    ours = SessionCookies(settings(session_secret=SecretStr("our-secret")))

    assert ours.read(request_with(written(theirs, Session.signed_in(SID)))) is None


def test_given_a_session_then_only_its_own_csrf_token_is_accepted() -> None:
    session = Session.anonymous()

    assert session.accepts(session.csrf)
    assert not session.accepts(None)
    assert not session.accepts("")
    assert not session.accepts(Session.anonymous().csrf)
    assert Session.signed_in(SID).csrf != session.csrf  # signing in gives a new token


def test_given_no_session_secret_then_the_key_is_derived_from_the_pepper_not_the_pepper() -> None:
    derived = session_key(settings())

    assert derived != b"a-real-pepper"
    assert derived == session_key(settings())
    assert derived != session_key(settings(token_pepper=SecretStr("another-pepper")))
    assert session_key(settings(session_secret=SecretStr("configured"))) == b"configured"


def test_given_production_and_the_placeholder_session_secret_then_start_up_is_refused() -> None:
    with pytest.raises(ValidationError, match="TALLY_GATEWAY_SESSION_SECRET"):
        settings("production", session_secret=SecretStr(PLACEHOLDER_SECRET))
