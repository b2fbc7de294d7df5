"""An account's own settings through the public API: its face, keys, changes, the upgrade,
billing preferences and auto-recharge; every route refuses another account's SID."""

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

CreateAccount = Callable[[], Awaitable[dict[str, Any]]]

OPS = {"Authorization": "Bearer integration-ops-key"}  # the gateway fixture's
PUBLIC_FIELDS = {
    "sid",
    "owner",
    "friendly_name",
    "time_zone",
    "status",
    "billing_mode",
    "contact_email",
    "webhook_url",
    "flex",
    "multi_account_invoicing",
    "reseller",
    "nonprofit_org",
    "date_created",
}
BRANCH = {"line1": "9 Rue X", "city": "Paris", "postal_code": "75001", "country": "FR"}
FORBIDDEN = {
    "billing_mode": "invoiced",
    "status": "active",
    "balance": "1000.00",
    "credit_limit": "1000000.00",
    "rates": {"calls-inbound": "0.0001"},
    "flex": False,
    "reseller": False,
    "nonprofit_org": False,
    "multi_account_invoicing": False,
}


def basic(user: str, password: str) -> dict[str, str]:
    """An `Authorization: Basic` header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def auth(account: dict[str, Any]) -> dict[str, str]:
    return basic(account["sid"], account["auth_token"])


async def test_given_an_account_then_it_reads_exactly_the_contracts_fields(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    read = await gateway.get(f"/v1/Accounts/{account['sid']}", headers=auth(account))
    assert read.status_code == 200
    assert set(read.json()) == PUBLIC_FIELDS
    assert read.json()["contact_email"] == "billing@acme.example"


async def test_given_an_api_key_then_it_authenticates_until_it_is_revoked(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    sid = account["sid"]
    created = await gateway.post(f"/v1/Accounts/{sid}/Keys", headers=auth(account))
    assert created.status_code == 201, created.text
    key = created.json()
    assert set(key) == {"key_sid", "secret"}
    assert key["key_sid"].startswith("SK") and len(key["key_sid"]) == 34

    with_key = basic(key["key_sid"], key["secret"])
    assert (await gateway.get(f"/v1/Accounts/{sid}", headers=with_key)).status_code == 200
    wrong_secret = basic(key["key_sid"], key["secret"] + "x")
    assert (await gateway.get(f"/v1/Accounts/{sid}", headers=wrong_secret)).status_code == 401

    revoked = await gateway.delete(
        f"/v1/Accounts/{sid}/Keys/{key['key_sid']}", headers=auth(account)
    )
    assert revoked.status_code == 204
    refused = await gateway.get(f"/v1/Accounts/{sid}", headers=with_key)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")


async def test_given_a_key_of_another_account_then_it_cannot_be_revoked_or_used_elsewhere(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    mine, theirs = await create_account(), await create_account()
    key = (await gateway.post(f"/v1/Accounts/{theirs['sid']}/Keys", headers=auth(theirs))).json()

    revoke = await gateway.delete(
        f"/v1/Accounts/{mine['sid']}/Keys/{key['key_sid']}", headers=auth(mine)
    )
    assert revoke.status_code == 404
    with_their_key = basic(key["key_sid"], key["secret"])
    assert (
        await gateway.get(f"/v1/Accounts/{mine['sid']}", headers=with_their_key)
    ).status_code == 404
    # still theirs, still working
    assert (
        await gateway.get(f"/v1/Accounts/{theirs['sid']}", headers=with_their_key)
    ).status_code == 200


async def test_given_a_patch_then_the_account_changes_and_a_forbidden_field_is_422(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    url = f"/v1/Accounts/{account['sid']}"
    changed = await gateway.patch(
        url, json={"friendly_name": "Acme EU", "time_zone": "Europe/Paris"}, headers=auth(account)
    )
    assert changed.status_code == 200, changed.text
    assert set(changed.json()) == PUBLIC_FIELDS
    assert (changed.json()["friendly_name"], changed.json()["time_zone"]) == (
        "Acme EU",
        "Europe/Paris",
    )
    before = (await gateway.get(url, headers=auth(account))).json()
    for field, value in FORBIDDEN.items():
        refused = await gateway.patch(
            url, json={"friendly_name": "X", field: value}, headers=auth(account)
        )
        assert refused.status_code == 422, field
        assert [e["field"] for e in refused.json()["errors"]] == [field]
    assert (await gateway.get(url, headers=auth(account))).json() == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"friendly_name": "Mine now"}),
        ("POST", "/Keys", None),
        ("DELETE", "/Keys/SK" + "0" * 32, None),
        ("GET", "/Upgrade", None),
        (
            "POST",
            "/Upgrade",
            {
                "method": "pay_as_you_go",
                "address": BRANCH,
                "top_up": {"amount": "5", "card_token": "tok_1"},
            },
        ),
        ("GET", "/BillingPreferences", None),
        ("PATCH", "/BillingPreferences", {"po_number": "PO-1"}),
        ("GET", "/AutoRecharge", None),
        ("PUT", "/AutoRecharge", {"enabled": False}),
    ],
)
async def test_given_another_accounts_sid_then_every_route_is_404_and_nothing_changes(
    gateway: httpx.AsyncClient,
    create_account: CreateAccount,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    mine, theirs = await create_account(), await create_account()
    before = (await gateway.get(f"/v1/Accounts/{theirs['sid']}", headers=auth(theirs))).json()

    response = await gateway.request(
        method, f"/v1/Accounts/{theirs['sid']}{path}", json=body, headers=auth(mine)
    )

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert (
        await gateway.get(f"/v1/Accounts/{theirs['sid']}", headers=auth(theirs))
    ).json() == before


async def test_given_enter_manually_and_a_top_up_then_the_trial_is_pay_as_you_go(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    url = f"/v1/Accounts/{account['sid']}/Upgrade"
    offered = await gateway.get(url, headers=auth(account))
    assert offered.status_code == 200, offered.text
    assert "pay_as_you_go" in offered.json()["methods"]

    declined = await gateway.post(
        url,
        json={
            "method": "pay_as_you_go",
            "address": BRANCH,
            "top_up": {"amount": "20.00", "card_token": "tok_decline"},
        },
        headers=auth(account),
    )
    assert declined.status_code == 402
    assert [e["field"] for e in declined.json()["errors"]] == ["top_up.card_token"]

    body = {
        "method": "pay_as_you_go",
        "address": BRANCH,
        "top_up": {"amount": "20.00", "card_token": "tok_visa"},
    }
    upgraded = await gateway.post(url, json=body, headers=auth(account))
    assert upgraded.status_code == 200, upgraded.text
    assert set(upgraded.json()) == PUBLIC_FIELDS
    assert upgraded.json()["billing_mode"] == "pay_as_you_go"
    again = await gateway.post(url, json=body, headers=auth(account))
    assert (again.status_code, again.json()) == (200, upgraded.json())
    assert (await gateway.get(url, headers=auth(account))).json()["methods"] == []


async def test_given_pay_by_invoice_without_an_approved_check_then_409_names_the_rule(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    url = f"/v1/Accounts/{account['sid']}/Upgrade"
    manual = await gateway.post(
        url, json={"method": "pay_by_invoice", "address": BRANCH}, headers=auth(account)
    )
    assert manual.status_code == 422
    assert [e["field"] for e in manual.json()["errors"]] == ["address"]
    for field, value in FORBIDDEN.items():
        refused = await gateway.post(
            url,
            json={"method": "pay_by_invoice", "address_id": "AD1", field: value},
            headers=auth(account),
        )
        assert refused.status_code == 422
        assert [e["field"] for e in refused.json()["errors"]] == [field]
    refused = await gateway.post(
        url, json={"method": "pay_by_invoice", "address_id": "AD1"}, headers=auth(account)
    )
    assert refused.status_code == 409
    assert "no_approved_credit_check" in [e["reason"] for e in refused.json()["errors"]]
    assert (await gateway.get(f"/v1/Accounts/{account['sid']}", headers=auth(account))).json()[
        "billing_mode"
    ] == "trial"


async def test_given_billing_preferences_then_they_change_and_forbidden_fields_are_422(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    url = f"/v1/Accounts/{account['sid']}/BillingPreferences"
    assert (await gateway.get(url, headers=auth(account))).json() == {
        "mailing_address": None,
        "po_number": None,
        "invoice_recipients": [],
    }
    wanted = {
        "mailing_address": BRANCH,
        "po_number": "PO-77",
        "invoice_recipients": ["ap@acme.example"],
    }
    changed = await gateway.patch(url, json=wanted, headers=auth(account))
    assert changed.status_code == 200, changed.text
    assert changed.json() == wanted | {"mailing_address": BRANCH | {"line2": None, "region": None}}
    for field, value in FORBIDDEN.items():
        refused = await gateway.patch(
            url, json={"po_number": "PO-1", field: value}, headers=auth(account)
        )
        assert refused.status_code == 422
        assert [e["field"] for e in refused.json()["errors"]] == [field]
    cleared = await gateway.patch(url, json={"po_number": None}, headers=auth(account))
    assert cleared.json()["po_number"] is None
    assert cleared.json()["invoice_recipients"] == ["ap@acme.example"]


async def test_given_auto_recharge_then_an_authorized_card_is_kept_and_forbidden_fields_are_422(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    url = f"/v1/Accounts/{account['sid']}/AutoRecharge"
    assert (await gateway.get(url, headers=auth(account))).json()["enabled"] is False
    wanted = {"enabled": True, "threshold": "5.00", "amount": "25.00", "card_token": "tok_visa"}
    declined = await gateway.put(
        url, json=wanted | {"card_token": "tok_decline"}, headers=auth(account)
    )
    assert declined.status_code == 402
    assert (await gateway.get(url, headers=auth(account))).json()["enabled"] is False
    incomplete = await gateway.put(
        url,
        json={"enabled": True, "amount": "25.00", "card_token": "tok_visa"},
        headers=auth(account),
    )
    assert incomplete.status_code == 422
    assert [e["field"] for e in incomplete.json()["errors"]] == ["threshold"]
    for field, value in FORBIDDEN.items():
        refused = await gateway.put(url, json=wanted | {field: value}, headers=auth(account))
        assert refused.status_code == 422
        assert [e["field"] for e in refused.json()["errors"]] == [field]

    saved = await gateway.put(url, json=wanted, headers=auth(account))
    assert saved.status_code == 200, saved.text
    assert saved.json() == wanted
    assert (await gateway.get(url, headers=auth(account))).json() == wanted
