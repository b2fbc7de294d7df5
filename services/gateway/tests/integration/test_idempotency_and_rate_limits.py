"""Idempotency-Key and the per-caller rate limit, through the real gateway and accounts service.

A repeat with the same key and body gets the first response; the same key with another body
is a 409; keys are the caller's own. Past its limit a caller gets a 429 with Retry-After,
and other callers do not.
"""

import base64
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from tally_gateway.config import Settings as GatewaySettings

OPS_KEY = "integration-ops-key"  # the gateway fixture's
OPS = {"Authorization": f"Bearer {OPS_KEY}"}
NO_KEY = "SK" + "0" * 32
CreateAccount = Callable[[], Awaitable[dict[str, Any]]]


def basic(account: dict[str, Any]) -> dict[str, str]:
    pair = f"{account['sid']}:{account['auth_token']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return headers | {"Idempotency-Key": key}


async def test_given_a_key_when_a_key_creation_is_repeated_then_the_first_key_is_answered_again(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    path = f"/v1/Accounts/{account['sid']}/Keys"
    key = str(uuid.uuid4())

    first = await gateway.post(path, headers=keyed(basic(account), key))
    repeat = await gateway.post(path, headers=keyed(basic(account), key))
    fresh = await gateway.post(path, headers=keyed(basic(account), str(uuid.uuid4())))

    assert first.status_code == repeat.status_code == 201
    assert repeat.json() == first.json()
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert fresh.json()["key_sid"] != first.json()["key_sid"]
    # The replayed secret (stored sealed) is the real one: it authenticates.
    created = first.json()
    as_key = {"sid": created["key_sid"], "auth_token": created["secret"]}
    assert (await gateway.get(f"/v1/Accounts/{account['sid']}", headers=basic(as_key))).is_success


async def test_given_a_key_of_one_account_when_another_account_uses_it_then_it_is_its_own(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    first, second = await create_account(), await create_account()
    key = str(uuid.uuid4())

    mine = await gateway.post(f"/v1/Accounts/{first['sid']}/Keys", headers=keyed(basic(first), key))
    theirs = await gateway.post(
        f"/v1/Accounts/{second['sid']}/Keys", headers=keyed(basic(second), key)
    )

    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["key_sid"] != mine.json()["key_sid"]


async def test_given_a_key_when_reused_with_another_body_then_409_and_nothing_is_done(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    body = {
        "account_sid": account["sid"],
        "committed_annual_spend": "24000.00",
        "contact_email": "finance@acme.example",
    }
    key = str(uuid.uuid4())

    first = await gateway.post("/v1/InvoicingRequests", json=body, headers=keyed(OPS, key))
    repeat = await gateway.post("/v1/InvoicingRequests", json=body, headers=keyed(OPS, key))
    other = body | {"committed_annual_spend": "36000.00"}
    conflict = await gateway.post("/v1/InvoicingRequests", json=other, headers=keyed(OPS, key))

    assert first.status_code == 201, first.text
    assert (repeat.status_code, repeat.json()) == (201, first.json())
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    assert conflict.json()["title"] == "Idempotency-Key already used"
    listed = await gateway.get(f"/v1/InvoicingRequests/{first.json()['request_id']}", headers=OPS)
    assert listed.json()["committed_annual_spend"] == "24000.00"


async def test_given_a_key_when_the_first_answer_was_a_problem_then_the_repeat_gets_it_too(
    gateway: httpx.AsyncClient,
) -> None:
    body = {
        "account_sid": "AC" + "0" * 32,  # no such account: a 422 naming it
        "committed_annual_spend": "24000.00",
        "contact_email": "finance@acme.example",
    }
    key = str(uuid.uuid4())

    first = await gateway.post("/v1/InvoicingRequests", json=body, headers=keyed(OPS, key))
    repeat = await gateway.post("/v1/InvoicingRequests", json=body, headers=keyed(OPS, key))

    assert first.status_code == 422, first.text
    assert (repeat.status_code, repeat.json()) == (422, first.json())
    assert repeat.headers["content-type"] == "application/problem+json"


async def test_given_a_low_rate_limit_when_a_caller_exceeds_it_then_429_with_retry_after(
    gateway_settings: GatewaySettings,
    start_gateway: Callable[..., Any],
    create_account: CreateAccount,
) -> None:
    busy, quiet = await create_account(), await create_account()
    limited = gateway_settings.model_copy(update={"rate_limit": "3/minute"})
    async with start_gateway(limited) as gateway:
        answers = [
            await gateway.delete(f"/v1/Accounts/{busy['sid']}/Keys/{NO_KEY}", headers=basic(busy))
            for _ in range(4)
        ]
        others = await gateway.delete(
            f"/v1/Accounts/{quiet['sid']}/Keys/{NO_KEY}", headers=basic(quiet)
        )

    assert [a.status_code for a in answers[:3]] == [404] * 3  # counted, and let through
    refused = answers[3]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["status"] == 429
    assert others.status_code == 404  # its own allowance: a missing key, not a 429
