"""Signing in to the billing page, and its forms' CSRF check, on the real gateway app.

The gateway talks to a real accounts service and checks credentials against its own
PostgreSQL, as the API does. Cookies are carried by hand: they are `Secure` outside
development, and the test client speaks plain HTTP.
"""

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from tally_gateway.web.session import COOKIE

CreateAccount = Callable[[], Awaitable[dict[str, Any]]]
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def cookie_of(response: httpx.Response) -> str:
    """The session cookie a response set, as the browser sends it back (`name=value`)."""
    header = response.headers["set-cookie"]
    assert header.startswith(f"{COOKIE}=")
    return header.split(";", 1)[0]


def csrf_of(response: httpx.Response) -> str:
    found = CSRF_INPUT.search(response.text)
    assert found, response.text
    return found.group(1)


async def sign_in_form(gateway: httpx.AsyncClient) -> tuple[str, str]:
    """A visitor's session cookie and the CSRF token of its sign-in form."""
    form = await gateway.get("/billing/sign-in")
    assert form.status_code == 200
    return cookie_of(form), csrf_of(form)


async def signed_in(gateway: httpx.AsyncClient, account: dict[str, Any]) -> tuple[str, str]:
    """The cookie of a signed-in session and its CSRF token (read from the sign-in answer)."""
    cookie, csrf = await sign_in_form(gateway)
    answer = await gateway.post(
        "/billing/sign-in",
        data={
            "csrf_token": csrf,
            "account_sid": account["sid"],
            "auth_token": account["auth_token"],
        },
        headers={"Cookie": cookie},
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/billing"
    return cookie_of(answer), csrf


async def test_given_no_session_when_the_billing_page_is_asked_then_it_leads_to_sign_in(
    gateway: httpx.AsyncClient,
) -> None:
    for path in (
        "/billing",
        "/billing/upgrade",
        "/billing/invoices/IN1.pdf",
        "/billing/number-usage.csv",
    ):
        answer = await gateway.get(path)
        assert (answer.status_code, answer.headers.get("location")) == (303, "/billing/sign-in")


async def test_given_the_sign_in_form_then_its_cookie_is_httponly_samesite_and_secure(
    gateway: httpx.AsyncClient,
) -> None:
    form = await gateway.get("/billing/sign-in")

    flags = {part.strip().lower() for part in form.headers["set-cookie"].split(";")[1:]}
    assert {"httponly", "samesite=lax", "secure", "path=/billing"} <= flags
    assert "content-security-policy" in form.headers
    assert form.headers["cache-control"] == "no-store"


async def test_given_a_sign_in_without_or_with_a_wrong_csrf_token_then_it_is_refused(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    cookie, csrf = await sign_in_form(gateway)
    credentials = {"account_sid": account["sid"], "auth_token": account["auth_token"]}

    missing = await gateway.post("/billing/sign-in", data=credentials, headers={"Cookie": cookie})
    wrong = await gateway.post(
        "/billing/sign-in",
        data={**credentials, "csrf_token": csrf + "x"},
        headers={"Cookie": cookie},
    )
    no_cookie = await gateway.post("/billing/sign-in", data={**credentials, "csrf_token": csrf})

    for refused in (missing, wrong, no_cookie):
        assert refused.status_code == 403
        assert "set-cookie" not in refused.headers  # no session was started


async def test_given_a_wrong_token_or_unknown_sid_then_the_same_error_never_says_which(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    answers = []
    for sid, token in ((account["sid"], "wrong-token"), ("AC" + "f" * 32, account["auth_token"])):
        cookie, csrf = await sign_in_form(gateway)
        answer = await gateway.post(
            "/billing/sign-in",
            data={"csrf_token": csrf, "account_sid": sid, "auth_token": token},
            headers={"Cookie": cookie},
        )
        answers.append(answer)

    for answer in answers:
        assert answer.status_code == 200
        assert "That account SID and auth token do not match an account." in answer.text
        assert "location" not in answer.headers
    # The two pages differ only by the SID typed back and the fresh CSRF token.
    assert [re.sub(r'value="[^"]*"', "", a.text) for a in answers] == [
        re.sub(r'value="[^"]*"', "", answers[0].text)
    ] * 2


async def test_given_a_signed_in_session_then_a_form_without_its_csrf_token_is_refused(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    cookie, old_csrf = await signed_in(gateway, account)
    form = {"amount": "10.00", "card_token": "tok_visa"}

    for path in (
        "/billing/top-up",
        "/billing/auto-recharge",
        "/billing/preferences",
        "/billing/upgrade",
        "/billing/sign-out",
    ):
        missing = await gateway.post(path, data=form, headers={"Cookie": cookie})
        # The sign-in form's token belonged to the anonymous session, not to this one.
        stale = await gateway.post(
            path, data={**form, "csrf_token": old_csrf}, headers={"Cookie": cookie}
        )
        assert (missing.status_code, stale.status_code) == (403, 403), path


async def test_given_a_signed_in_session_when_signing_out_with_its_token_then_it_ends(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    cookie, _ = await signed_in(gateway, account)
    upgrade = await gateway.get("/billing/upgrade", headers={"Cookie": cookie})
    assert upgrade.status_code == 200, upgrade.text  # eligibility comes from accounts
    assert account["sid"] in upgrade.text

    out = await gateway.post(
        "/billing/sign-out", data={"csrf_token": csrf_of(upgrade)}, headers={"Cookie": cookie}
    )

    assert (out.status_code, out.headers["location"]) == (303, "/billing/sign-in")
    after = await gateway.get("/billing/upgrade", headers={"Cookie": cookie_of(out)})
    assert (after.status_code, after.headers.get("location")) == (303, "/billing/sign-in")
