"""The self-service upgrade over the internal API, against the real invoicing service."""

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tally_testkit import eventually

ReadKeyed = Callable[[str, int], Awaitable[list[dict[str, Any]]]]
OpenAccount = Callable[..., Awaitable[dict[str, Any]]]
ApproveOwner = Callable[[str], Awaitable[str]]

HQ = {
    "line1": "1 Main St",
    "city": "Chicago",
    "region": "IL",
    "postal_code": "60601",
    "country": "US",
}
BRANCH = {"line1": "9 Rue X", "city": "Paris", "postal_code": "75001", "country": "FR"}
FLAGS = ("flex", "multi_account_invoicing", "reseller", "nonprofit_org")
RULE_OF_FLAG = {
    "flex": "flex_account",
    "multi_account_invoicing": "multi_account_invoicing",
    "reseller": "reseller",
    "nonprofit_org": "nonprofit_org",
}


async def options(accounts: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    response = await accounts.get(f"/accounts/{sid}/upgrade")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def approved_owner_with_address(
    open_account: OpenAccount, approve_owner: ApproveOwner, owner: str = "acme-corp"
) -> dict[str, Any]:
    """An owner's first account, opened with its HQ address, whose invoicing was approved."""
    first = await open_account(owner=owner, address=HQ)
    await approve_owner(first["sid"])
    return first


async def test_given_an_approved_owner_then_a_later_trial_is_eligible_with_the_owners_address(
    accounts: httpx.AsyncClient, open_account: OpenAccount, approve_owner: ApproveOwner
) -> None:
    await approved_owner_with_address(open_account, approve_owner)
    later = await open_account()

    shown = await options(accounts, later["sid"])

    assert shown["eligible_for_pay_by_invoice"] is True
    assert shown["ineligible_reasons"] == []
    assert shown["methods"] == ["pay_by_invoice", "pay_as_you_go"]
    [address] = shown["addresses"]
    assert address | {"address_id": ""} == HQ | {"line2": None, "address_id": ""}


async def test_given_another_owner_without_an_approved_check_then_only_that_rule_fails(
    accounts: httpx.AsyncClient, open_account: OpenAccount, approve_owner: ApproveOwner
) -> None:
    await approved_owner_with_address(open_account, approve_owner)
    stranger = await open_account(owner="globex")

    shown = await options(accounts, stranger["sid"])

    assert shown["eligible_for_pay_by_invoice"] is False
    assert [r["rule"] for r in shown["ineligible_reasons"]] == ["no_approved_credit_check"]
    assert all(r["message"] for r in shown["ineligible_reasons"])
    assert shown["addresses"] == []  # another owner's addresses are never shown
    assert shown["methods"] == ["pay_as_you_go"]


@pytest.mark.parametrize("flags", [(flag,) for flag in FLAGS] + [FLAGS, ("flex", "nonprofit_org")])
async def test_given_excluded_accounts_then_every_failing_rule_is_listed(
    accounts: httpx.AsyncClient,
    open_account: OpenAccount,
    approve_owner: ApproveOwner,
    flags: tuple[str, ...],
) -> None:
    await approved_owner_with_address(open_account, approve_owner)
    excluded = await open_account(**dict.fromkeys(flags, True))

    shown = await options(accounts, excluded["sid"])

    assert shown["eligible_for_pay_by_invoice"] is False
    assert [r["rule"] for r in shown["ineligible_reasons"]] == [
        RULE_OF_FLAG[flag] for flag in FLAGS if flag in flags
    ]
    refused = await accounts.post(
        f"/accounts/{excluded['sid']}/upgrade",
        json={"method": "pay_by_invoice", "address_id": shown["addresses"][0]["address_id"]},
    )
    assert refused.status_code == 409
    assert [e["reason"] for e in refused.json()["errors"]] == [
        RULE_OF_FLAG[flag] for flag in FLAGS if flag in flags
    ]
    assert (await accounts.get(f"/accounts/{excluded['sid']}")).json()["billing_mode"] == "trial"


async def test_given_an_eligible_trial_when_it_pays_by_invoice_then_it_is_invoiced_on_the_terms(
    accounts: httpx.AsyncClient,
    open_account: OpenAccount,
    approve_owner: ApproveOwner,
    account_states: ReadKeyed,
    lifecycle_events: ReadKeyed,
) -> None:
    await approved_owner_with_address(open_account, approve_owner)
    trial = await open_account()
    [address] = (await options(accounts, trial["sid"]))["addresses"]

    response = await accounts.post(
        f"/accounts/{trial['sid']}/upgrade",
        json={"method": "pay_by_invoice", "address_id": address["address_id"]},
    )

    assert response.status_code == 200, response.text
    account = response.json()
    assert (account["billing_mode"], account["version"]) == ("invoiced", 2)
    terms = account["terms"]
    assert (terms["net_terms_days"], Decimal(terms["credit_limit"])) == (30, Decimal(5000))
    assert {k: Decimal(v) for k, v in terms["rates"].items()} == {
        "calls-inbound": Decimal("0.007"),
        "sms-outbound": Decimal("0.0065"),
    }
    assert Decimal(terms["discount_percent"]) == 5
    _, state = await account_states(trial["sid"], 2)
    assert (state["version"], state["billing_mode"]) == (2, "invoiced")
    assert state["auto_recharge"]["enabled"] is False
    assert state["terms"]["net_terms_days"] == 30
    assert state["billing"]["billing_address"] == HQ | {"line2": None}
    changed, upgraded = await lifecycle_events(trial["sid"], 2)
    assert (changed["type"], changed["previous"], changed["billing_mode"]) == (
        "accounts.billing_mode_changed",
        "trial",
        "invoiced",
    )
    assert (upgraded["type"], upgraded["version"]) == ("accounts.upgraded", 2)

    # when it is asked again: the same account, unchanged
    again = await accounts.post(
        f"/accounts/{trial['sid']}/upgrade",
        json={"method": "pay_by_invoice", "address_id": address["address_id"]},
    )
    assert (again.status_code, again.json()) == (200, account)
    assert (await options(accounts, trial["sid"]))["methods"] == []


async def test_given_two_concurrent_completions_then_one_upgrade_and_the_same_answer(
    accounts: httpx.AsyncClient, open_account: OpenAccount, approve_owner: ApproveOwner
) -> None:
    await approved_owner_with_address(open_account, approve_owner)
    trial = await open_account()
    [address] = (await options(accounts, trial["sid"]))["addresses"]
    body = {"method": "pay_by_invoice", "address_id": address["address_id"]}

    answers = await asyncio.gather(
        *(accounts.post(f"/accounts/{trial['sid']}/upgrade", json=body) for _ in range(4))
    )

    assert {a.status_code for a in answers} == {200}
    assert {(a.json()["billing_mode"], a.json()["version"]) for a in answers} == {("invoiced", 2)}
    assert (await accounts.get(f"/accounts/{trial['sid']}")).json()["version"] == 2


async def test_given_pay_by_invoice_with_a_manual_address_then_422_names_address(
    accounts: httpx.AsyncClient, open_account: OpenAccount, approve_owner: ApproveOwner
) -> None:
    await approved_owner_with_address(open_account, approve_owner)
    trial = await open_account()
    response = await accounts.post(
        f"/accounts/{trial['sid']}/upgrade", json={"method": "pay_by_invoice", "address": BRANCH}
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["address"]
    assert (await accounts.get(f"/accounts/{trial['sid']}")).json()["billing_mode"] == "trial"


async def test_given_an_address_id_of_another_owner_then_422_names_address_id(
    accounts: httpx.AsyncClient, open_account: OpenAccount, approve_owner: ApproveOwner
) -> None:
    await approved_owner_with_address(open_account, approve_owner)
    await approved_owner_with_address(open_account, approve_owner, owner="globex")
    globex_trial = await open_account(owner="globex")
    [globex_address] = (await options(accounts, globex_trial["sid"]))["addresses"]
    acme_trial = await open_account()

    response = await accounts.post(
        f"/accounts/{acme_trial['sid']}/upgrade",
        json={"method": "pay_by_invoice", "address_id": globex_address["address_id"]},
    )

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["address_id"]


async def balance_of(invoicing: httpx.AsyncClient, sid: str) -> Decimal:
    response = await invoicing.get(f"/accounts/{sid}/balance")
    assert response.status_code == 200, response.text
    return Decimal(response.json()["balance"])


async def test_given_an_address_and_a_top_up_then_pay_as_you_go_with_the_trial_credit_kept(
    accounts: httpx.AsyncClient,
    invoicing: httpx.AsyncClient,
    open_account: OpenAccount,
    lifecycle_events: ReadKeyed,
) -> None:
    first = await open_account(address=HQ)
    trial = await open_account()
    # the trial credit of 15.00 is on the balance before the upgrade
    await eventually(lambda: balance_of(invoicing, trial["sid"]), lambda b: b == Decimal(15))
    [address] = (await options(accounts, trial["sid"]))["addresses"]
    body = {
        "method": "pay_as_you_go",
        "address_id": address["address_id"],
        "top_up": {"amount": "25.00", "card_token": "tok_visa"},
    }

    response = await accounts.post(f"/accounts/{trial['sid']}/upgrade", json=body)

    assert response.status_code == 200, response.text
    assert (response.json()["billing_mode"], response.json()["version"]) == ("pay_as_you_go", 2)
    assert await balance_of(invoicing, trial["sid"]) == Decimal("40.00")
    _, upgraded = await lifecycle_events(trial["sid"], 2)
    assert (upgraded["type"], upgraded["billing_mode"]) == ("accounts.upgraded", "pay_as_you_go")
    # a repeat neither charges again nor changes the account
    again = await accounts.post(f"/accounts/{trial['sid']}/upgrade", json=body)
    assert (again.status_code, again.json()) == (200, response.json())
    assert await balance_of(invoicing, trial["sid"]) == Decimal("40.00")
    assert first["billing_mode"] == "trial"


async def test_given_a_manually_entered_address_and_auto_recharge_then_pay_as_you_go(
    accounts: httpx.AsyncClient, open_account: OpenAccount, account_states: ReadKeyed
) -> None:
    trial = await open_account()
    body = {
        "method": "pay_as_you_go",
        "address": BRANCH,
        "auto_recharge": {"threshold": "5.00", "amount": "20.00", "card_token": "tok_visa"},
    }

    response = await accounts.post(f"/accounts/{trial['sid']}/upgrade", json=body)

    assert response.status_code == 200, response.text
    assert response.json()["billing_mode"] == "pay_as_you_go"
    recharge = (await accounts.get(f"/accounts/{trial['sid']}/auto-recharge")).json()
    assert recharge == {
        "enabled": True,
        "threshold": "5.00",
        "amount": "20.00",
        "card_token": "tok_visa",
    }
    _, state = await account_states(trial["sid"], 2)
    assert state["auto_recharge"]["enabled"] is True
    assert state["billing"]["billing_address"] == BRANCH | {"line2": None, "region": None}
    # the address joined the owner's book: the owner's next account is offered it
    later = await open_account()
    assert [a["city"] for a in (await options(accounts, later["sid"]))["addresses"]] == ["Paris"]


@pytest.mark.parametrize(
    ("payment", "field"),
    [
        ({"top_up": {"amount": "25.00", "card_token": "tok_decline"}}, "top_up.card_token"),
        (
            {
                "auto_recharge": {
                    "threshold": "5.00",
                    "amount": "20.00",
                    "card_token": "tok_decline",
                }
            },
            "auto_recharge.card_token",
        ),
    ],
)
async def test_given_a_declined_card_then_402_and_the_account_stays_a_trial(
    accounts: httpx.AsyncClient,
    invoicing: httpx.AsyncClient,
    open_account: OpenAccount,
    payment: dict[str, Any],
    field: str,
) -> None:
    trial = await open_account()
    await eventually(lambda: balance_of(invoicing, trial["sid"]), lambda b: b == Decimal(15))

    response = await accounts.post(
        f"/accounts/{trial['sid']}/upgrade",
        json={"method": "pay_as_you_go", "address": BRANCH} | payment,
    )

    assert response.status_code == 402
    assert [e["field"] for e in response.json()["errors"]] == [field]
    account = (await accounts.get(f"/accounts/{trial['sid']}")).json()
    assert (account["billing_mode"], account["version"]) == ("trial", 1)
    assert await balance_of(invoicing, trial["sid"]) == Decimal(15)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"method": "pay_as_you_go", "address": BRANCH}, "top_up"),
        (
            {"method": "pay_as_you_go", "top_up": {"amount": "5", "card_token": "tok_1"}},
            "address_id",
        ),
        ({"method": "pay_by_invoice"}, "address_id"),
        (
            {"method": "pay_by_invoice", "address_id": "AD1", "billing_mode": "invoiced"},
            "billing_mode",
        ),
        ({"method": "pay_by_invoice", "address_id": "AD1", "credit_limit": "1e9"}, "credit_limit"),
        ({"method": "pay_by_invoice", "address_id": "AD1", "rates": {}}, "rates"),
        ({"method": "pay_by_invoice", "address_id": "AD1", "status": "active"}, "status"),
        ({"method": "pay_as_you_go", "address": BRANCH, "balance": "100"}, "balance"),
        ({"method": "pay_as_you_go", "address": BRANCH, "flex": False}, "flex"),
        ({"method": "invoiced", "address_id": "AD1"}, "method"),
        (
            {
                "method": "pay_as_you_go",
                "address": BRANCH,
                "top_up": {"amount": "-5", "card_token": "t"},
            },
            "top_up.amount",
        ),
    ],
)
async def test_given_a_malformed_or_overreaching_upgrade_then_422_names_the_field(
    accounts: httpx.AsyncClient, open_account: OpenAccount, body: dict[str, Any], field: str
) -> None:
    trial = await open_account()
    response = await accounts.post(f"/accounts/{trial['sid']}/upgrade", json=body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    account = (await accounts.get(f"/accounts/{trial['sid']}")).json()
    assert (account["billing_mode"], account["version"]) == ("trial", 1)
