"""Invoicing's internal HTTP API for the billing page and invoices for people: prices and PDFs.

`POST /accounts/{sid}/charge-quotes` prices quantities (the gateway sends usage's snapshot) on
the account's card and stores nothing. `GET /accounts/{sid}/invoices/{invoice_id}/pdf` is the
invoice as a PDF: a path of its own under the invoice, not `{invoice_id}.pdf`, so no route
order can hand it to the JSON route (whose `{invoice_id}` would match `IN….pdf` too).
"""

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from tally_contracts.decimals import plain_decimal
from tally_contracts.usage import MAX_QUANTITY, UsageCategory
from tally_runtime.clock import Clock
from tally_runtime.http import AccountSidPath, DatabasePool, internal_caller
from tally_runtime.problems import PROBLEM_JSON, Problem, ProblemError

from tally_invoicing import billing_reads, invoices_api
from tally_invoicing.domain import CURRENCY
from tally_invoicing.invoice_document import InvoiceDocument

router = APIRouter(dependencies=[Depends(internal_caller)])  # Tally's services only

_PROBLEM: dict[str, Any] = {"model": Problem, "content": {PROBLEM_JSON: {}}}

Cents = Annotated[Decimal, PlainSerializer(lambda amount: format(amount, "f"), return_type=str)]
"""Money already rounded to the cent, as a decimal string ("12.50")."""

Quantity = Annotated[Decimal, PlainSerializer(plain_decimal, return_type=str)]


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


RequestClock = Annotated[Clock, Depends(_clock)]


class QuantityIn(BaseModel):
    """A month's total quantity of one category so far."""

    model_config = ConfigDict(extra="forbid")

    category: UsageCategory
    # A month's total may exceed one event's 1e9; a thousand times that is still no typo.
    quantity: Annotated[Decimal, Field(ge=0, le=MAX_QUANTITY * 1000, decimal_places=6)]


class QuoteCreate(BaseModel):
    """Quantities to price; a category named twice counts its quantities together."""

    model_config = ConfigDict(extra="forbid")

    usage: list[QuantityIn] = Field(max_length=100)


class QuotedLine(BaseModel):
    category: UsageCategory
    unit: str
    quantity: Quantity
    amount: Cents = Field(description="round half-even to the cent of the quantity's exact price")


class QuotePublic(BaseModel):
    """What the quantities cost on the account's card, as the month's invoice would say."""

    account_sid: str
    currency: str = CURRENCY
    usage: list[QuotedLine] = Field(description="one line per category asked, in that order")
    discount: Cents = Field(description="0.00, or the negative discount line")
    total_amount: Cents = Field(description="the lines' amounts plus the discount")


def _not_known(error: billing_reads.AccountNotKnownError) -> ProblemError:
    return ProblemError(
        404,
        "Account not known to invoicing",
        f"no state for {error} yet: invoicing follows accounts.state.v1, so an account opened a"
        " moment ago is known within seconds",
    )


@router.post("/accounts/{sid}/charge-quotes", responses={404: _PROBLEM, 422: _PROBLEM})
async def quote_charges(sid: AccountSidPath, body: QuoteCreate, pool: DatabasePool) -> QuotePublic:
    """Price a month's quantities per category on the account's card, with its discount."""
    quantities: dict[UsageCategory, Decimal] = {}
    for line in body.usage:
        quantities[line.category] = quantities.get(line.category, Decimal(0)) + line.quantity
    try:
        quote = await billing_reads.quote_charges(sid, quantities, pool=pool)
    except billing_reads.AccountNotKnownError as error:
        raise _not_known(error) from None
    amounts = {line.category: line.amount for line in quote.lines}
    return QuotePublic(
        account_sid=sid,
        usage=[
            QuotedLine(
                category=category,
                unit=category.unit,
                quantity=quantity,
                amount=amounts[category],
            )
            for category, quantity in quantities.items()
        ],
        discount=quote.discount,
        total_amount=quote.total,
    )


@router.get(
    "/accounts/{sid}/invoices/{invoice_id}/pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
        404: _PROBLEM,
        422: _PROBLEM,
    },
)
async def invoice_pdf(
    sid: AccountSidPath,
    invoice_id: Annotated[str, Path(max_length=128)],
    pool: DatabasePool,
    clock: RequestClock,
) -> Response:
    """The invoice as a PDF, made from the JSON this service answers for it; 404 like the JSON."""
    invoice = await invoices_api.get_invoice(sid, invoice_id, pool)
    document = InvoiceDocument.model_validate(invoice.model_dump(mode="json"))
    pdf = await billing_reads.invoice_pdf(document, pool=pool, clock=clock)
    return Response(pdf, media_type="application/pdf")
