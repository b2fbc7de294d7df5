"""The prepaid balance through the public API: reading it, topping it up, and who may.

The gateway talks to the real accounts and invoicing services (conftest's `accounts_url` and
`invoicing_url`); invoicing learns of each account from the account-state topic.
"""

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from tally_contracts.accounts import AccountState, AccountStatus, BillingMode
from tally_contracts.topics import ACCOUNT_STATE
from tally_gateway.config import Settings as GatewaySettings
from tally_testkit import Publish, eventually

OPS_KEY = "integration-ops-key"  # the gateway fixture's
StartGateway = Callable[..., Any]


@pytest.fixture(scope="module")
async def gateway_with_invoicing(
    gateway_settings: GatewaySettings, invoicing_url: str, start_gateway: StartGateway
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a gateway that talks to the accounts and invoicing services."""
    async with start_gateway(
        gateway_settings.model_copy(update={"invoicing_url": invoicing_url})
    ) as client:
        yield client


def basic(sid: str, token: str) -> dict[str, str]:
    """An `Authorization: Basic` header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()}


class Account:
    """An account opened through the gateway, and its credentials."""

    def __init__(self, created: dict[str, Any]) -> None:
        self.sid: str = created["sid"]
        self.auth = basic(created["sid"], created["auth_token"])


OpenAccount = Callable[[], Awaitable[Account]]


@pytest.fixture
def open_account(gateway_with_invoicing: httpx.AsyncClient) -> OpenAccount:
    """Open a trial account and wait until invoicing has credited its 15.00."""

    async def open_one() -> Account:
        response = await gateway_with_invoicing.post(
            "/v1/Accounts",
            json={
                "owner": "acme-corp",
                "friendly_name": "Acme",
                "time_zone": "America/Chicago",
                "contact_email": "billing@acme.example",
            },
            headers={"Authorization": f"Bearer {OPS_KEY}"},
        )
        assert response.status_code == 201, response.text
        account = Account(response.json())

        async def balance() -> httpx.Response:
            return await gateway_with_invoicing.get(
                f"/v1/Accounts/{account.sid}/Balance", headers=account.auth
            )

        await eventually(balance, lambda r: r.status_code == 200 and r.json()["balance"] != "0.00")
        return account

    return open_one


async def balance_of(gateway: httpx.AsyncClient, account: Account) -> dict[str, Any]:
    response = await gateway.get(f"/v1/Accounts/{account.sid}/Balance", headers=account.auth)
    assert response.status_code == 200, response.text
    return dict(response.json())


def top_up(
    gateway: httpx.AsyncClient, account: Account, body: dict[str, Any], key: str | None = None
) -> Awaitable[httpx.Response]:
    headers = account.auth | ({"Idempotency-Key": key} if key else {})
    return gateway.post(f"/v1/Accounts/{account.sid}/Balance/TopUps", json=body, headers=headers)


async def test_given_a_new_trial_account_then_its_balance_is_the_15_00_trial_credit(
    gateway_with_invoicing: httpx.AsyncClient, open_account: OpenAccount
) -> None:
    account = await open_account()
    assert await balance_of(gateway_with_invoicing, account) == {
        "balance": "15.00",
        "currency": "USD",
        "low_balance_threshold": "10.00",
        "state": "ok",
    }


async def test_given_an_idempotency_key_replayed_then_the_balance_moves_once(
    gateway_with_invoicing: httpx.AsyncClient, open_account: OpenAccount
) -> None:
    # given a trial account with 15.00
    gateway, account = gateway_with_invoicing, await open_account()
    body = {"amount": "20.00", "card_token": "tok_visa"}

    # when a top-up is sent, then replayed with the same key, twice at once
    first = await top_up(gateway, account, body, key="top-up-1")
    replays = await asyncio.gather(*(top_up(gateway, account, body, key="top-up-1") for _ in "ab"))

    # then each answer is the first one, and the balance moved by 20.00 once
    assert first.status_code == 201, first.text
    assert first.json() | {"top_up_id": ""} == {
        "top_up_id": "",
        "amount": "20.00",
        "balance": "35.00",
    }
    assert [(r.status_code, r.json()) for r in replays] == [(201, first.json())] * 2
    assert (await balance_of(gateway, account))["balance"] == "35.00"

    # and the same key with another body is a 409 that moves nothing
    other = await top_up(gateway, account, {**body, "amount": "25.00"}, key="top-up-1")
    assert other.status_code == 409, other.text
    assert other.headers["content-type"] == "application/problem+json"
    assert (await balance_of(gateway, account))["balance"] == "35.00"


async def test_given_no_idempotency_key_then_each_request_is_a_new_top_up(
    gateway_with_invoicing: httpx.AsyncClient, open_account: OpenAccount
) -> None:
    gateway, account = gateway_with_invoicing, await open_account()
    body = {"amount": "5.00", "card_token": "tok_visa"}
    first = await top_up(gateway, account, body)
    second = await top_up(gateway, account, body)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["top_up_id"] != second.json()["top_up_id"]
    assert [first.json()["balance"], second.json()["balance"]] == ["20.00", "25.00"]


async def test_given_a_declined_card_then_402_and_the_balance_is_unchanged(
    gateway_with_invoicing: httpx.AsyncClient, open_account: OpenAccount
) -> None:
    gateway, account = gateway_with_invoicing, await open_account()
    declined = await top_up(gateway, account, {"amount": "20.00", "card_token": "tok_decline"})
    assert declined.status_code == 402, declined.text
    assert declined.headers["content-type"] == "application/problem+json"
    problem = declined.json()
    assert (problem["type"], problem["title"]) == (
        "urn:tally:problem:card-declined",
        "Card declined",
    )
    assert [error["field"] for error in problem["errors"]] == ["card_token"]
    assert (await balance_of(gateway, account))["balance"] == "15.00"


async def test_given_bad_bodies_then_422_names_the_field(
    gateway_with_invoicing: httpx.AsyncClient, open_account: OpenAccount
) -> None:
    gateway, account = gateway_with_invoicing, await open_account()
    for change, field in [
        ({"amount": "0"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"card_token": "4242424242424242"}, "card_token"),
        ({"balance": "1000"}, "balance"),  # a client never sets its own balance
    ]:
        body = {"amount": "20.00", "card_token": "tok_visa", **change}
        response = await top_up(gateway, account, body)
        assert response.status_code == 422, (change, response.text)
        assert field in [error["field"] for error in response.json()["errors"]], change
    assert (await balance_of(gateway, account))["balance"] == "15.00"


async def test_given_another_accounts_sid_then_404_and_its_balance_is_untouched(
    gateway_with_invoicing: httpx.AsyncClient, open_account: OpenAccount
) -> None:
    # given two accounts
    gateway = gateway_with_invoicing
    mine, theirs = await open_account(), await open_account()

    # when mine reads and tops up theirs
    path = f"/v1/Accounts/{theirs.sid}/Balance"
    read = await gateway.get(path, headers=mine.auth)
    paid = await gateway.post(
        f"{path}/TopUps", json={"amount": "20.00", "card_token": "tok_visa"}, headers=mine.auth
    )
    stranger = await gateway.get(path)

    # then both are 404, as for an account that does not exist, and theirs did not move
    assert (read.status_code, paid.status_code, stranger.status_code) == (404, 404, 401)
    assert (await balance_of(gateway, theirs))["balance"] == "15.00"


async def test_given_an_invoiced_account_then_the_balance_endpoints_answer_409(
    gateway_with_invoicing: httpx.AsyncClient, open_account: OpenAccount, publish: Publish
) -> None:
    # given an account invoicing comes to know as invoiced (a later version of its state)
    gateway, account = gateway_with_invoicing, await open_account()
    await publish(ACCOUNT_STATE, invoiced_state(account.sid))

    # then reading its balance becomes a 409, and a top-up is one too
    read = await eventually(
        lambda: gateway.get(f"/v1/Accounts/{account.sid}/Balance", headers=account.auth),
        lambda response: response.status_code == 409,
    )
    paid = await top_up(gateway, account, {"amount": "20.00", "card_token": "tok_visa"})
    for response in (read, paid):
        assert response.status_code == 409, response.text
        assert "invoiced accounts have no prepaid balance" in response.json()["detail"]


def invoiced_state(sid: str) -> AccountState:
    """A state far ahead of the account's own versions, that says it is invoiced."""
    return AccountState(
        event_id=f"account:{sid}:v1000",
        occurred_at=datetime.now(UTC),
        account_sid=sid,
        version=1000,
        owner="acme-corp",
        friendly_name="Acme",
        time_zone="America/Chicago",
        status=AccountStatus.ACTIVE,
        billing_mode=BillingMode.INVOICED,
    )
