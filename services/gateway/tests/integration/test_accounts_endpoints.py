"""Opening and reading accounts through the public API: who may, and what they see."""

import asyncio
import base64
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from aiokafka import ConsumerRecord

CreateAccount = Callable[[], Awaitable[dict[str, Any]]]
Records = Callable[[str, int], Awaitable[list[ConsumerRecord[bytes, bytes]]]]
Spans = Callable[[str], list[dict[str, Any]]]

OPS_KEY = "integration-ops-key"  # the gateway fixture's
NEW_ACCOUNT = {
    "owner": "acme-corp",
    "friendly_name": "Acme",
    "time_zone": "America/Chicago",
    "contact_email": "billing@acme.example",
}


def basic(sid: str, token: str) -> dict[str, str]:
    """An `Authorization: Basic` header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()}


async def test_given_the_ops_key_when_an_account_is_created_then_its_sid_and_token_come_once(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.post(
        "/v1/Accounts", json=NEW_ACCOUNT, headers={"Authorization": f"Bearer {OPS_KEY}"}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert re.fullmatch(r"AC[0-9a-f]{32}", created["sid"])
    assert re.fullmatch(r"[0-9a-f]{32}", created["auth_token"])
    assert created["date_created"]
    assert created | {"sid": "", "auth_token": "", "date_created": ""} == {
        "sid": "",
        "auth_token": "",
        "friendly_name": "Acme",
        "owner": "acme-corp",
        "time_zone": "America/Chicago",
        "status": "active",
        "billing_mode": "trial",
        "contact_email": "billing@acme.example",
        "webhook_url": None,
        "flex": False,
        "multi_account_invoicing": False,
        "reseller": False,
        "nonprofit_org": False,
        "date_created": "",
    }
    read = await gateway.get(
        f"/v1/Accounts/{created['sid']}", headers=basic(created["sid"], created["auth_token"])
    )
    assert read.status_code == 200, read.text
    assert "auth_token" not in read.json()
    assert read.json() == {key: value for key, value in created.items() if key != "auth_token"}


async def test_given_a_new_account_then_its_state_v1_is_on_the_account_state_topic(
    create_account: CreateAccount, account_states: Records
) -> None:
    account = await create_account()
    [record] = await account_states(account["sid"], 1)
    state = json.loads(record.value)
    assert (state["account_sid"], state["version"], state["billing_mode"]) == (
        account["sid"],
        1,
        "trial",
    )
    assert state["event_id"] == f"account:{account['sid']}:v1"


async def test_given_a_wrong_or_missing_ops_key_then_no_account_is_created(
    gateway: httpx.AsyncClient,
) -> None:
    for headers in ({"Authorization": "Bearer not-the-key"}, {}, basic("ops", OPS_KEY)):
        response = await gateway.post("/v1/Accounts", json=NEW_ACCOUNT, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_given_an_unknown_time_zone_then_the_problem_names_time_zone(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.post(
        "/v1/Accounts",
        json=NEW_ACCOUNT | {"time_zone": "Mars/Olympus"},
        headers={"Authorization": f"Bearer {OPS_KEY}"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["time_zone"]


async def test_given_a_wrong_token_then_reading_the_account_is_a_401_problem(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    for headers in (
        basic(account["sid"], secrets.token_hex(16)),
        {},
        {"Authorization": "Basic !!"},
    ):
        response = await gateway.get(f"/v1/Accounts/{account['sid']}", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == 'Basic realm="Tally"'


async def test_given_another_accounts_credentials_then_the_account_is_not_found(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    mine, theirs = await create_account(), await create_account()
    missing_sid = f"AC{'0' * 32}"
    response = await gateway.get(
        f"/v1/Accounts/{theirs['sid']}", headers=basic(mine["sid"], mine["auth_token"])
    )
    missing = await gateway.get(
        f"/v1/Accounts/{missing_sid}", headers=basic(mine["sid"], mine["auth_token"])
    )
    assert response.status_code == missing.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    # Exactly the answer for an account that does not exist: only the SID asked about differs.
    theirs_problem, missing_problem = response.json(), missing.json()
    assert theirs_problem["title"] == "Account not found"
    assert theirs_problem | {"detail": ""} == missing_problem | {"detail": ""}
    assert theirs_problem["detail"].replace(theirs["sid"], missing_sid) == missing_problem["detail"]
    assert mine["sid"] not in response.text


async def test_given_a_read_then_the_trace_crosses_from_the_gateway_into_accounts(
    gateway: httpx.AsyncClient, create_account: CreateAccount, spans: Spans
) -> None:
    account = await create_account()
    trace_id = secrets.token_hex(16)
    headers = basic(account["sid"], account["auth_token"])
    headers["traceparent"] = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    assert (await gateway.get(f"/v1/Accounts/{account['sid']}", headers=headers)).status_code == 200
    deadline = time.monotonic() + 30
    while not any(
        span["context"]["trace_id"] == f"0x{trace_id}" and span["kind"] == "SpanKind.SERVER"
        for span in spans("accounts")
    ):
        assert time.monotonic() < deadline, "accounts wrote no server span in the caller's trace"
        await asyncio.sleep(0.2)


async def test_given_the_gateway_then_its_openapi_document_and_docs_are_served(
    gateway: httpx.AsyncClient,
) -> None:
    document = (await gateway.get("/openapi.json")).json()
    assert {"/v1/Accounts", "/v1/Accounts/{sid}", "/v1/Accounts/{sid}/Usage"} <= set(
        document["paths"]
    )
    assert (await gateway.get("/docs")).status_code == 200
    assert (await gateway.get("/health")).json() == {"status": "ok"}
