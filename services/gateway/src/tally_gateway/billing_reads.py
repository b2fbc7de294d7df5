"""The billing page's data, composed from usage's snapshot, invoicing's prices and invoices.

Usage owns the quantities (the month's latest nightly snapshot), invoicing owns the prices
and the invoices: the gateway asks each for its part and puts them side by side.
"""

import asyncio
from datetime import datetime

from starlette.responses import Response
from tally_runtime.problems import ProblemError

from tally_gateway.schemas_money import (
    BillingPage,
    BillingUsageLine,
    ChargeQuote,
    Invoice,
    InvoiceList,
    InvoiceSummary,
    MonthSnapshot,
)
from tally_gateway.upstream import ServiceClient, relayed


def invoice_not_found(invoice_id: str) -> ProblemError:
    """The one answer for an invoice that is not the caller's, whoever's it is or whether not."""
    return ProblemError(404, "Invoice not found", f"no invoice {invoice_id} on this account")


async def invoice(sid: str, invoice_id: str, *, invoicing: ServiceClient) -> Invoice:
    """One of the account's invoices; another account's is a 404, like one that does not exist."""
    try:
        found = await invoicing.call(Invoice, "GET", f"/accounts/{sid}/invoices/{invoice_id}")
    except ProblemError as error:
        if error.problem.status == 404:
            raise invoice_not_found(invoice_id) from None
        raise
    if found.account_sid != sid:  # never shown, even if invoicing were to answer it
        raise invoice_not_found(invoice_id)
    return found


async def invoice_pdf(sid: str, invoice_id: str, *, invoicing: ServiceClient) -> Response:
    """The PDF of one of the account's invoices, as invoicing rendered it, shown inline."""
    response = await invoicing.send("GET", f"/accounts/{sid}/invoices/{invoice_id}/pdf")
    if response.status_code == 404:
        raise invoice_not_found(invoice_id)
    if response.is_client_error:
        raise relayed(response)
    return Response(
        response.content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{invoice_id}.pdf"'},
    )


async def billing_page(
    sid: str, month: str | None, *, usage: ServiceClient, invoicing: ServiceClient, now: datetime
) -> BillingPage:
    """The month's usage so far priced on the account's card, and its invoice once concluded."""
    params = {"month": month} if month else None
    snapshot = await usage.call(MonthSnapshot, "GET", f"/accounts/{sid}/snapshots", params=params)
    quote_body = {
        "usage": [
            {"category": line.category, "quantity": format(line.quantity, "f")}
            for line in snapshot.usage
        ]
    }
    quoting = invoicing.call(ChargeQuote, "POST", f"/accounts/{sid}/charge-quotes", quote_body)
    if snapshot.period.end <= now:
        quote, issued = await asyncio.gather(
            quoting, _month_invoice(sid, snapshot.month, invoicing)
        )
    else:
        quote, issued = await quoting, None
    amounts = {line.category: line.amount for line in quote.usage}
    return BillingPage(
        month=snapshot.month,
        time_zone=snapshot.time_zone,
        period=snapshot.period,
        snapshot=snapshot.snapshot,
        usage=[
            BillingUsageLine(
                category=line.category,
                unit=line.unit,
                quantity=line.quantity,
                amount=amounts[line.category],
            )
            for line in snapshot.usage
        ],
        total_amount=quote.total_amount,
        invoice=issued,
    )


async def _month_invoice(sid: str, month: str, invoicing: ServiceClient) -> InvoiceSummary | None:
    # The newest invoice of the month that stands; a voided one only if nothing replaced it.
    found = await invoicing.call(
        InvoiceList, "GET", f"/accounts/{sid}/invoices", params={"month": month}
    )
    standing = [summary for summary in found.invoices if summary.status != "void"]
    chosen = standing or found.invoices
    return chosen[0] if chosen else None
