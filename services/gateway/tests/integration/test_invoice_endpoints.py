"""Invoices through the public API, as JSON and as PDF, and the money ops that make and pay them.

The gateway talks to real accounts, usage and invoicing services; usage goes the whole way
(conftest's `october`: posted, recorded, rated, snapshotted, closed by a billing run).
"""

import io
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pypdf import PdfReader
from tally_contracts.accounts import AccountState

CHICAGO = ZoneInfo("America/Chicago")
OPS = {"Authorization": "Bearer integration-ops-key"}
BillingMonth = Any
"""conftest's `BillingMonth` (`october`): a conftest is not importable under importlib mode."""
OpenAccount = Callable[[], Awaitable[dict[str, Any]]]
OpenAccountInState = Callable[[AccountState], Awaitable[dict[str, Any]]]


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def october_invoice(october: BillingMonth, account: dict[str, Any]) -> dict[str, Any]:
    """The summary of the account's October invoice, once October is closed."""
    await october.close()
    summary = (await october.page(account, "2026-10"))["invoice"]
    assert summary is not None
    return dict(summary)


async def test_given_an_invoiced_account_then_its_invoice_json_and_pdf_agree_on_every_number(
    october: BillingMonth,
    open_account_in_state: OpenAccountInState,
    invoiced_state: AccountState,
) -> None:
    # Given an invoiced account (SMS at 0.0050, 10 % off, net 30, PO-4471) that sent 1,001
    # outbound messages and used 100 inbound minutes in October, closed
    account = await open_account_in_state(invoiced_state)
    await october.use(
        account,
        [
            october.event("sms-1", "sms-outbound", "1001", 3),
            october.event("in-1", "calls-inbound", "100", 4),
        ],
    )
    await october.close()

    # When its invoices are listed, and October's is read as JSON and as a PDF
    sid, auth, gateway = account["sid"], october.auth(account), october.gateway
    listed = await gateway.get(f"/v1/Accounts/{sid}/Invoices", headers=auth)
    assert listed.status_code == 200, listed.text
    [summary] = [i for i in listed.json()["invoices"] if i["month"] == "2026-10"]
    path = f"/v1/Accounts/{sid}/Invoices/{summary['invoice_id']}"
    as_json = await gateway.get(path, headers=auth)
    as_pdf = await gateway.get(f"{path}.pdf", headers=auth)

    # Then the invoice is 5.00 + 0.85 - 0.58 = 5.27, all due (an invoiced account prepays
    # nothing), by the local date + 30 days, with the PO number; the list agrees
    assert as_json.status_code == 200, as_json.text
    invoice = as_json.json()
    assert (invoice["account_sid"], invoice["billing_mode"]) == (sid, "invoiced")
    assert [line["amount"] for line in invoice["lines"]] == ["0.85", "5.00", "-0.58"]
    assert (invoice["total"], invoice["amount_due"], invoice["no_balance_due"]) == (
        "5.27",
        "5.27",
        False,
    )
    issued = datetime.fromisoformat(invoice["issued_at"]).astimezone(CHICAGO).date()
    assert invoice["due_date"] == (issued + timedelta(days=30)).isoformat()
    assert invoice["po_number"] == "PO-4471"
    assert summary == {key: invoice[key] for key in summary}

    # and the PDF carries every line and total of the JSON, the due date, PO, address, period
    assert as_pdf.status_code == 200, as_pdf.text
    assert as_pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(as_pdf.content)
    for line in invoice["lines"]:
        assert line["description"] in text and line["amount"] in text
    for label, key in (
        ("Subtotal", "subtotal"),
        ("Total", "total"),
        ("Prepaid applied", "prepaid_applied"),
        ("Amount due", "amount_due"),
    ):
        assert f"{label} (USD) {invoice[key]}" in text
    assert f"Due date: {invoice['due_date']}" in text
    assert "PO number: PO-4471" in text
    assert "Bill to: 1 Main St" in text
    assert "Period: 2026-10-01 to 2026-10-31 (America/Chicago)" in text
    assert "No balance due" not in text

    # and asking for the PDF again gives the same document
    again = await gateway.get(f"{path}.pdf", headers=auth)
    assert again.content == as_pdf.content


async def test_given_a_pay_as_you_go_invoice_then_its_pdf_says_no_balance_due(
    october: BillingMonth, open_usage_account: OpenAccount
) -> None:
    # Given a pay-as-you-go account with 100 outbound minutes in October, closed
    account = await open_usage_account()
    await october.use(account, [october.event("out-1", "calls-outbound", "100", 7)])
    summary = await october_invoice(october, account)

    # When its invoice is read as a PDF
    pdf = await october.gateway.get(
        f"/v1/Accounts/{account['sid']}/Invoices/{summary['invoice_id']}.pdf",
        headers=october.auth(account),
    )

    # Then it shows 100 x 0.0140 = 1.40, paid from the balance: no balance due
    assert pdf.status_code == 200, pdf.text
    text = pdf_text(pdf.content)
    assert "Total (USD) 1.40" in text
    assert "Amount due (USD) 0.00" in text
    assert "No balance due" in text


async def test_given_another_accounts_invoice_then_it_is_not_found(
    october: BillingMonth, open_usage_account: OpenAccount
) -> None:
    # Given an account with an October invoice, and another account
    owner = await open_usage_account()
    await october.use(owner, [october.event("sms-1", "sms-outbound", "10", 20)])
    invoice_id = (await october_invoice(october, owner))["invoice_id"]
    stranger = await open_usage_account()
    gateway, auth = october.gateway, october.auth(stranger)

    # When the stranger asks for the owner's invoice under its own SID, and under the owner's
    own_sid = f"/v1/Accounts/{stranger['sid']}/Invoices/{invoice_id}"
    owner_sid = f"/v1/Accounts/{owner['sid']}/Invoices/{invoice_id}"
    answers = [
        await gateway.get(path, headers=auth)
        for path in (own_sid, f"{own_sid}.pdf", owner_sid, f"{owner_sid}.pdf")
    ]
    listed = await gateway.get(f"/v1/Accounts/{stranger['sid']}/Invoices", headers=auth)

    # Then every answer is a 404, like an invoice that does not exist, naming nobody else's
    # account, and the stranger's own list is empty
    assert [answer.status_code for answer in answers] == [404, 404, 404, 404]
    assert all(owner["sid"] not in answer.text for answer in answers[:2])
    assert listed.json() == {"invoices": []}


async def test_given_an_invoiced_invoice_then_payments_mark_it_paid_once_per_reference(
    october: BillingMonth,
    open_account_in_state: OpenAccountInState,
    invoiced_state: AccountState,
) -> None:
    # Given an invoiced account's October invoice: 100 inbound minutes x 0.0085 = 0.85, less
    # 10 % (0.085, rounded half-even to 0.08): 0.77, its PDF read once
    account = await open_account_in_state(invoiced_state)
    await october.use(account, [october.event("in-1", "calls-inbound", "100", 4)])
    summary = await october_invoice(october, account)
    assert (summary["total"], summary["amount_due"]) == ("0.77", "0.77")
    pdf_path = f"/v1/Accounts/{account['sid']}/Invoices/{summary['invoice_id']}.pdf"
    unpaid_pdf = await october.gateway.get(pdf_path, headers=october.auth(account))

    # When ops records the payment, twice under the same reference
    body = {"invoice_id": summary["invoice_id"], "amount": "0.77", "reference": "wire-0001"}
    first = await october.gateway.post("/v1/Ops/Payments", json=body, headers=OPS)
    again = await october.gateway.post("/v1/Ops/Payments", json=body, headers=OPS)
    paid_pdf = await october.gateway.get(pdf_path, headers=october.auth(account))

    # Then the invoice is paid, and the repeat answers the same invoice
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "paid"
    assert again.status_code == 200, again.text
    assert again.json() == first.json()

    # and its PDF, kept since it was first asked for, now shows it paid, with the same numbers
    assert "Status: issued" in pdf_text(unpaid_pdf.content)
    assert "Status: paid" in pdf_text(paid_pdf.content)
    assert "Total (USD) 0.77" in pdf_text(paid_pdf.content)


async def test_given_money_ops_then_they_need_the_ops_key_and_a_valid_body(
    october: BillingMonth, open_usage_account: OpenAccount
) -> None:
    account, gateway = await open_usage_account(), october.gateway

    # When an account's own credentials, no credentials or bad bodies are sent
    as_account = await gateway.post(
        "/v1/Ops/BillingRuns", json={"month": "2026-10"}, headers=october.auth(account)
    )
    anonymous = await gateway.post("/v1/Ops/OverdueScans", json={"as_of": october.AFTER})
    bad_month = await gateway.post("/v1/Ops/BillingRuns", json={"month": "2026-13"}, headers=OPS)
    naive = await gateway.post(
        "/v1/Ops/OverdueScans", json={"as_of": "2026-11-01T00:00:00"}, headers=OPS
    )
    extra = await gateway.post(
        "/v1/Ops/Payments",
        json={"invoice_id": "IN1", "amount": "1.00", "reference": "r", "status": "paid"},
        headers=OPS,
    )
    unknown = await gateway.post(
        "/v1/Ops/Payments",
        json={"invoice_id": "IN" + "0" * 32, "amount": "1.00", "reference": "r-unknown"},
        headers=OPS,
    )
    scan = await gateway.post("/v1/Ops/OverdueScans", json={"as_of": october.AFTER}, headers=OPS)

    # Then the first two are 401, the bodies 422 naming the field, an unknown invoice 404, and
    # a scan with the ops key answers how many it marked
    assert (as_account.status_code, anonymous.status_code) == (401, 401)
    for response, field in ((bad_month, "month"), (naive, "as_of"), (extra, "status")):
        assert response.status_code == 422, response.text
        assert [error["field"] for error in response.json()["errors"]] == [field]
    assert unknown.status_code == 404, unknown.text
    assert scan.status_code == 200, scan.text
    assert isinstance(scan.json()["overdue"], int)
