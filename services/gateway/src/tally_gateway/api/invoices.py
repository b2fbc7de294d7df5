"""Invoices for people: the list, one invoice as JSON, and the same invoice as a PDF."""

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from tally_gateway import billing_reads
from tally_gateway.api.openapi import problems
from tally_gateway.dependencies import InvoicingService, OwnAccountSid
from tally_gateway.schemas_money import Invoice, InvoiceList

router = APIRouter(prefix="/v1", tags=["invoices"])

InvoiceId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_:-]{1,128}$", description="the invoice's `invoice_id`")
]


@router.get(
    "/Accounts/{sid}/Invoices",
    responses=problems(401, 404, 503),
    description="""The account's invoices, newest month first: one per concluded billing month
that had usage or adjustments. Money is a decimal string to the cent. `no_balance_due` is true
for pay-as-you-go and trial invoices, which the prepaid balance already paid (`amount_due`
`0.00`, `due_date` null).""",
)
async def list_invoices(sid: OwnAccountSid, invoicing: InvoicingService) -> InvoiceList:
    """The caller's invoices, newest first."""
    return await invoicing.call(InvoiceList, "GET", f"/accounts/{sid}/invoices")


# Declared before the JSON route: `{invoice_id}` alone would also match `IN….pdf`.
@router.get(
    "/Accounts/{sid}/Invoices/{invoice_id}.pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
        **problems(401, 404, 503),
    },
    description="""The same invoice as a PDF: every line, the subtotal, total, prepaid applied
and amount due as in the JSON; the billing period as local dates and the time zone; for
pay-as-you-go and trial invoices the words "No balance due", for invoiced ones the due date, PO
number and billing address. Rendered on first request and kept: the same invoice always gives
the same document (a status change, e.g. to `paid`, renders it anew). Another account's invoice
is a `404`, like one that does not exist.""",
)
async def invoice_pdf(
    sid: OwnAccountSid, invoice_id: InvoiceId, invoicing: InvoicingService
) -> Response:
    """One of the caller's invoices as a PDF."""
    return await billing_reads.invoice_pdf(sid, invoice_id, invoicing=invoicing)


@router.get(
    "/Accounts/{sid}/Invoices/{invoice_id}",
    responses=problems(401, 404, 503),
    description="""One invoice. `total` is the sum of `lines` (`usage` per category, one negative
`discount` line for a negotiated discount, `adjustment` lines for late usage of an earlier,
already invoiced month, credits and a frozen prepaid balance); `amount_due` = `total` -
`prepaid_applied`. `billing_mode` is the account's mode when the month was closed, which decides
the invoice's kind: pay-as-you-go and trial invoices have `no_balance_due` true; invoiced ones
have `due_date` (issue local date + net terms), `po_number`, `billing_address` and `recipients`.
Another account's invoice is a `404`, like one that does not exist.""",
)
async def get_invoice(
    sid: OwnAccountSid, invoice_id: InvoiceId, invoicing: InvoicingService
) -> Invoice:
    """One of the caller's invoices."""
    return await billing_reads.invoice(sid, invoice_id, invoicing=invoicing)
