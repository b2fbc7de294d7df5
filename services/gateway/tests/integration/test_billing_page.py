"""The billing page's data through the public API: the snapshot's usage priced, and the invoice.

The gateway talks to real accounts, usage and invoicing services; usage goes the whole way
(conftest's `october`: posted, recorded, rated, snapshotted, closed). Every amount below is
worked out by hand from the price table of CONTRACTS.md §2.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from tally_contracts.accounts import AccountState
from tally_testkit import eventually

CHICAGO = ZoneInfo("America/Chicago")
BillingMonth = Any
"""conftest's `BillingMonth` (`october`): a conftest is not importable under importlib mode."""
OpenAccount = Callable[[], Awaitable[dict[str, Any]]]
OpenAccountInState = Callable[[AccountState], Awaitable[dict[str, Any]]]


def amounts(page: Any) -> dict[str, tuple[str, str]]:
    return {line["category"]: (line["quantity"], line["amount"]) for line in page["usage"]}


async def test_given_october_usage_then_the_billing_page_prices_the_snapshot_and_shows_the_invoice(
    october: BillingMonth, open_usage_account: OpenAccount
) -> None:
    # Given a pay-as-you-go account (Chicago) that used, in October: 12,000 outbound minutes
    # (past the 10,000-minute tier), 1,234.5 inbound minutes and 150 outbound messages
    account = await open_usage_account()
    await october.use(
        account,
        [
            october.event("out-1", "calls-outbound", "12000", 10),
            october.event("in-1", "calls-inbound", "1234.5", 11),
            october.event("sms-1", "sms-outbound", "150", 12),
        ],
    )

    # When the billing page for October is read, before and after October is closed
    before = await october.page(account, "2026-10")
    await october.close()
    after = await october.page(account, "2026-10")

    # Then it shows the snapshot through 31 October, each category priced from §2 to the cent:
    # 10,000 x 0.0140 + 2,000 x 0.0130 = 166.00; 1,234.5 x 0.0085 = 10.49325 → 10.49;
    # 150 x 0.0079 = 1.185 → 1.18 (half-even, not 1.19); 177.67 in all
    assert before["month"] == "2026-10"
    assert before["time_zone"] == "America/Chicago"
    assert before["period"] == {"start": "2026-10-01T05:00:00Z", "end": "2026-11-01T05:00:00Z"}
    assert before["snapshot"]["through"] == "2026-10-31"
    assert amounts(before) == {
        "calls-inbound": ("1234.5", "10.49"),
        "calls-outbound": ("12000", "166.00"),
        "sms-inbound": ("0", "0.00"),
        "sms-outbound": ("150", "1.18"),
        "phone-numbers": ("0", "0.00"),
    }
    assert (before["total_amount"], before["currency"]) == ("177.67", "USD")
    assert before["invoice"] is None  # not invoiced yet

    # and, once closed, the same usage with October's invoice, prepaid: no balance due
    assert amounts(after) == amounts(before)
    invoice = after["invoice"]
    assert invoice is not None
    assert (invoice["month"], invoice["status"], invoice["total"]) == (
        "2026-10",
        "issued",
        "177.67",
    )
    assert (invoice["amount_due"], invoice["no_balance_due"]) == ("0.00", True)


async def test_given_agreed_terms_then_the_billing_page_prices_on_them_with_the_discount(
    october: BillingMonth,
    open_account_in_state: OpenAccountInState,
    invoiced_state: AccountState,
) -> None:
    # Given an invoiced account (SMS agreed at 0.0050, 10 % off) that sent 1,001 outbound
    # messages and used 100 inbound minutes in October
    account = await open_account_in_state(invoiced_state)
    await october.use(
        account,
        [
            october.event("sms-1", "sms-outbound", "1001", 3),
            october.event("in-1", "calls-inbound", "100", 4),
        ],
    )

    # When its billing page for October is read
    page = await october.page(account, "2026-10")

    # Then 1,001 x 0.0050 = 5.005 → 5.00 (half-even), 100 x 0.0085 = 0.85 on the public card,
    # and the total less round(5.85 x 10 %) = 0.58 (0.585, half-even): 5.27
    assert amounts(page)["sms-outbound"] == ("1001", "5.00")
    assert amounts(page)["calls-inbound"] == ("100", "0.85")
    assert page["total_amount"] == "5.27"


async def test_given_a_month_with_nothing_then_the_billing_page_is_zero_without_snapshot_or_invoice(
    october: BillingMonth, open_usage_account: OpenAccount
) -> None:
    # Given an account that used nothing in August 2026
    account = await open_usage_account()

    # When its billing page for August is read
    page = await october.page(account, "2026-08")

    # Then every category is 0 at 0.00, with no snapshot and no invoice
    assert page["snapshot"] is None
    assert len(page["usage"]) == 5
    assert set(amounts(page).values()) == {("0", "0.00")}
    assert (page["total_amount"], page["invoice"]) == ("0.00", None)


async def test_given_no_month_then_the_page_is_of_the_current_local_month(
    october: BillingMonth, open_usage_account: OpenAccount
) -> None:
    account = await open_usage_account()
    path = f"/v1/Accounts/{account['sid']}/Billing"

    async def page() -> httpx.Response:
        return await october.gateway.get(path, headers=october.auth(account))

    # When the page is read without a month, and with a month that is not one
    months = {datetime.now(CHICAGO).strftime("%Y-%m")}
    response = await eventually(page, lambda r: r.status_code != 404)
    months.add(datetime.now(CHICAGO).strftime("%Y-%m"))  # in case the month turned meanwhile
    bad = await october.gateway.get(
        path, params={"month": "2026-13"}, headers=october.auth(account)
    )

    # Then it is Chicago's current month, not yet invoiced; the bad month a 422 naming it
    assert response.status_code == 200, response.text
    assert response.json()["month"] in months
    assert response.json()["invoice"] is None
    assert bad.status_code == 422
    assert [error["field"] for error in bad.json()["errors"]] == ["month"]


async def test_given_another_accounts_sid_then_its_billing_page_is_not_found(
    october: BillingMonth, open_usage_account: OpenAccount
) -> None:
    owner, stranger = await open_usage_account(), await open_usage_account()

    response = await october.gateway.get(
        f"/v1/Accounts/{owner['sid']}/Billing",
        params={"month": "2026-10"},
        headers=october.auth(stranger),
    )

    assert response.status_code == 404
