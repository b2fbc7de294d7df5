"""Changing an account over the internal API: only what a customer may change, each change
published as the next version of its state."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

ReadKeyed = Callable[[str, int], Awaitable[list[dict[str, Any]]]]
OpenAccount = Callable[..., Awaitable[dict[str, Any]]]

FORBIDDEN = {
    "billing_mode": "invoiced",
    "status": "active",
    "balance": "1000.00",
    "credit_limit": "1000000.00",
    "rates": {"calls-inbound": "0.0001"},
    "terms": {"net_terms_days": 90},
    "flex": True,
    "multi_account_invoicing": True,
    "reseller": True,
    "nonprofit_org": True,
    "owner": "someone-else",
    "sid": "AC" + "0" * 32,
    "version": 99,
    "suspended_for_balance": False,
    "auto_recharge": {"enabled": True},
}
"""Fields a client may never set, with values it might try."""


async def test_given_a_patch_then_the_account_changes_at_v2_and_its_state_is_published(
    accounts: httpx.AsyncClient, open_account: OpenAccount, account_states: ReadKeyed
) -> None:
    account = await open_account()
    sid = account["sid"]

    response = await accounts.patch(
        f"/accounts/{sid}",
        json={
            "friendly_name": "Acme EU",
            "contact_email": "ops@acme.example",
            "webhook_url": "https://acme.example/hooks",
        },
    )

    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["friendly_name"], changed["contact_email"], changed["webhook_url"]) == (
        "Acme EU",
        "ops@acme.example",
        "https://acme.example/hooks",
    )
    assert changed["version"] == 2
    assert (await accounts.get(f"/accounts/{sid}")).json() == changed
    first, second = await account_states(sid, 2)
    assert (first["version"], second["version"]) == (1, 2)
    assert (second["friendly_name"], second["contact_email"], second["webhook_url"]) == (
        "Acme EU",
        "ops@acme.example",
        "https://acme.example/hooks",
    )


async def test_given_a_new_time_zone_then_it_applies_from_the_next_month_in_the_state(
    accounts: httpx.AsyncClient, open_account: OpenAccount, account_states: ReadKeyed
) -> None:
    sid = (await open_account())["sid"]

    response = await accounts.patch(f"/accounts/{sid}", json={"time_zone": "Europe/Paris"})

    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["time_zone"] == "Europe/Paris"
    chicago, paris = changed["time_zones"]
    assert (chicago["time_zone"], chicago["first_month"]) == ("America/Chicago", None)
    assert paris["time_zone"] == "Europe/Paris"
    assert paris["first_month"] is not None
    _, state = await account_states(sid, 2)
    assert [span["time_zone"] for span in state["time_zones"]] == [
        "America/Chicago",
        "Europe/Paris",
    ]
    assert state["time_zones"][1]["effective_from"] == paris["effective_from"].replace(
        "+00:00", "Z"
    )


async def test_given_a_patch_that_changes_nothing_then_no_new_version(
    accounts: httpx.AsyncClient, open_account: OpenAccount
) -> None:
    account = await open_account()
    for body in ({}, {"friendly_name": account["friendly_name"]}):
        response = await accounts.patch(f"/accounts/{account['sid']}", json=body)
        assert response.status_code == 200
        assert response.json()["version"] == 1


@pytest.mark.parametrize(("field", "value"), FORBIDDEN.items())
async def test_given_a_field_a_client_may_not_set_then_422_names_it_and_nothing_changes(
    accounts: httpx.AsyncClient, open_account: OpenAccount, field: str, value: Any
) -> None:
    account = await open_account()

    response = await accounts.patch(
        f"/accounts/{account['sid']}", json={"friendly_name": "Renamed", field: value}
    )

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert (await accounts.get(f"/accounts/{account['sid']}")).json() == account


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"contact_email": "not-an-address"}, "contact_email"),
        ({"webhook_url": "ftp://acme.example"}, "webhook_url"),
        ({"friendly_name": None}, "friendly_name"),
        ({"friendly_name": ""}, "friendly_name"),
    ],
)
async def test_given_an_invalid_value_then_422_names_the_field(
    accounts: httpx.AsyncClient, open_account: OpenAccount, body: dict[str, Any], field: str
) -> None:
    account = await open_account()
    response = await accounts.patch(f"/accounts/{account['sid']}", json=body)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_given_a_webhook_url_then_null_removes_it(
    accounts: httpx.AsyncClient, open_account: OpenAccount
) -> None:
    account = await open_account(webhook_url="https://acme.example/hooks")
    response = await accounts.patch(f"/accounts/{account['sid']}", json={"webhook_url": None})
    assert (response.json()["webhook_url"], response.json()["version"]) == (None, 2)


async def test_given_an_unknown_account_then_a_patch_is_404(accounts: httpx.AsyncClient) -> None:
    response = await accounts.patch("/accounts/AC" + "0" * 32, json={"friendly_name": "x"})
    assert response.status_code == 404


async def test_given_two_concurrent_patches_then_both_apply_one_version_each(
    accounts: httpx.AsyncClient, open_account: OpenAccount
) -> None:
    sid = (await open_account())["sid"]
    await asyncio.gather(
        accounts.patch(f"/accounts/{sid}", json={"friendly_name": "One"}),
        accounts.patch(f"/accounts/{sid}", json={"contact_email": "two@acme.example"}),
    )
    account = (await accounts.get(f"/accounts/{sid}")).json()
    assert (account["friendly_name"], account["contact_email"], account["version"]) == (
        "One",
        "two@acme.example",
        3,
    )
