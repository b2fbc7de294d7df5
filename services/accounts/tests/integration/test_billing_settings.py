"""Billing preferences and auto-recharge over the internal API."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

OpenAccount = Callable[..., Awaitable[dict[str, Any]]]
ReadKeyed = Callable[[str, int], Awaitable[list[dict[str, Any]]]]

MAILING = {
    "line1": "5 Elm",
    "city": "Austin",
    "region": "TX",
    "postal_code": "73301",
    "country": "US",
}
RECHARGE = {"enabled": True, "threshold": "5.00", "amount": "25.00", "card_token": "tok_visa"}
FORBIDDEN = {
    "billing_mode": "invoiced",
    "status": "active",
    "balance": "100",
    "credit_limit": "1000000",
    "rates": {},
    "flex": False,
    "reseller": False,
}


async def test_given_preferences_then_they_are_published_with_the_next_version(
    accounts: httpx.AsyncClient, open_account: OpenAccount, account_states: ReadKeyed
) -> None:
    sid = (await open_account())["sid"]
    wanted = {
        "mailing_address": MAILING,
        "po_number": "PO-9",
        "invoice_recipients": ["ap@acme.example"],
    }

    response = await accounts.patch(f"/accounts/{sid}/billing-preferences", json=wanted)

    assert response.status_code == 200, response.text
    assert response.json() == wanted | {"mailing_address": MAILING | {"line2": None}}
    _, state = await account_states(sid, 2)
    assert (state["version"], state["billing"]["po_number"]) == (2, "PO-9")
    assert state["billing"]["invoice_recipients"] == ["ap@acme.example"]


@pytest.mark.parametrize(("field", "value"), FORBIDDEN.items())
async def test_given_a_forbidden_field_on_either_setting_then_422_and_nothing_changes(
    accounts: httpx.AsyncClient, open_account: OpenAccount, field: str, value: Any
) -> None:
    sid = (await open_account())["sid"]
    prefs = await accounts.patch(
        f"/accounts/{sid}/billing-preferences", json={"po_number": "PO-1", field: value}
    )
    recharge = await accounts.put(f"/accounts/{sid}/auto-recharge", json=RECHARGE | {field: value})
    for response in (prefs, recharge):
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == [field]
    assert (await accounts.get(f"/accounts/{sid}")).json()["version"] == 1


async def test_given_an_invoiced_account_then_auto_recharge_is_409_and_stays_off(
    accounts: httpx.AsyncClient,
    open_account: OpenAccount,
    approve_owner: Callable[[str], Awaitable[str]],
) -> None:
    first = await open_account(address=MAILING)
    await approve_owner(first["sid"])
    sid = (await open_account())["sid"]
    assert (await accounts.put(f"/accounts/{sid}/auto-recharge", json=RECHARGE)).status_code == 200
    [address] = (await accounts.get(f"/accounts/{sid}/upgrade")).json()["addresses"]
    upgraded = await accounts.post(
        f"/accounts/{sid}/upgrade",
        json={"method": "pay_by_invoice", "address_id": address["address_id"]},
    )
    assert upgraded.json()["billing_mode"] == "invoiced"

    assert (await accounts.get(f"/accounts/{sid}/auto-recharge")).status_code == 409
    refused = await accounts.put(f"/accounts/{sid}/auto-recharge", json=RECHARGE)
    assert refused.status_code == 409
    # its preferences stay editable after the switch
    edited = await accounts.patch(
        f"/accounts/{sid}/billing-preferences", json={"po_number": "PO-2"}
    )
    assert edited.status_code == 200


async def test_given_a_declined_card_then_402_and_auto_recharge_is_unchanged(
    accounts: httpx.AsyncClient, open_account: OpenAccount
) -> None:
    sid = (await open_account())["sid"]
    declined = await accounts.put(
        f"/accounts/{sid}/auto-recharge", json=RECHARGE | {"card_token": "tok_decline"}
    )
    assert declined.status_code == 402
    assert [e["field"] for e in declined.json()["errors"]] == ["card_token"]
    assert (await accounts.get(f"/accounts/{sid}/auto-recharge")).json()["enabled"] is False
    assert (await accounts.get(f"/accounts/{sid}")).json()["version"] == 1
