"""Invoicing's internal HTTP API for invoices: read them, run billing, payments, overdue scans.

Money is a decimal string with two places ("12.50"); quantities and unit prices are plain
decimal strings. The gateway relays these shapes (CONTRACTS.md §3, Money and Ops).
"""

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator
from tally_contracts.accounts import Address
from tally_contracts.decimals import plain_decimal
from tally_contracts.envelope import UtcDatetime
from tally_runtime.http import AccountSidPath, DatabasePool, internal_caller
from tally_runtime.problems import PROBLEM_JSON, Problem, ProblemError

from tally_invoicing import close_month, invoice_payments
from tally_invoicing.config import InvoicingSettings

router = APIRouter(dependencies=[Depends(internal_caller)], tags=["invoices"])

_PROBLEM: dict[str, Any] = {"model": Problem, "content": {PROBLEM_JSON: {}}}
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

Cents = Annotated[Decimal, PlainSerializer(lambda v: f"{v:.2f}", return_type=str)]
Plain = Annotated[Decimal, PlainSerializer(plain_decimal, return_type=str)]
Month = Annotated[str, Field(pattern=_MONTH.pattern, description="`YYYY-MM`, local")]


class Period(BaseModel):
    start: datetime
    end: datetime = Field(description="exclusive: the next month's first instant")


class LinePublic(BaseModel):
    kind: str = Field(description="`usage`, `discount` or `adjustment`")
    category: str | None = None
    description: str
    quantity: Plain | None = None
    unit: str | None = None
    unit_price: Plain | None = Field(
        None, description="the card's unit price; for graduated tiers the month's average"
    )
    amount: Cents


class InvoiceSummary(BaseModel):
    invoice_id: str
    month: str
    status: str
    total: Cents
    amount_due: Cents
    due_date: date | None
    no_balance_due: bool
    issued_at: datetime


class InvoicesPublic(BaseModel):
    invoices: list[InvoiceSummary] = Field(description="newest first")


class InvoicePublic(BaseModel):
    invoice_id: str
    account_sid: str
    month: str
    time_zone: str
    period: Period
    billing_mode: str
    status: str
    issued_at: datetime
    currency: str
    lines: list[LinePublic]
    subtotal: Cents = Field(description="the usage lines, before discount and adjustments")
    total: Cents = Field(description="the sum of the lines")
    prepaid_applied: Cents = Field(description="what the prepaid balance already paid")
    amount_due: Cents = Field(description="total - prepaid_applied, never below 0.00")
    no_balance_due: bool
    due_date: date | None
    po_number: str | None
    billing_address: Address | None
    recipients: list[str]


_COMPOSED = {"period", "lines", "billing_address"}


def _invoice(row: dict[str, Any]) -> InvoicePublic:
    address = row["billing_address"]
    return InvoicePublic(
        **{k: row[k] for k in InvoicePublic.model_fields if k in row and k not in _COMPOSED},
        period=Period(start=row["period_start"], end=row["period_end"]),
        billing_address=Address.model_validate_json(address) if address else None,
        lines=[LinePublic(**line) for line in row["lines"]],
    )


@router.get("/accounts/{sid}/invoices", responses={422: _PROBLEM})
async def list_invoices(
    sid: AccountSidPath,
    pool: DatabasePool,
    month: Annotated[str | None, Query(pattern=_MONTH.pattern)] = None,
) -> InvoicesPublic:
    """The account's invoices, newest first; `month` keeps one month's."""
    rows = await invoice_payments.account_invoices(pool, sid, month)
    return InvoicesPublic(
        invoices=[InvoiceSummary(**{k: r[k] for k in InvoiceSummary.model_fields}) for r in rows]
    )


@router.get("/accounts/{sid}/invoices/{invoice_id}", responses={404: _PROBLEM, 422: _PROBLEM})
async def get_invoice(sid: AccountSidPath, invoice_id: str, pool: DatabasePool) -> InvoicePublic:
    """One of the account's invoices; another account's invoice is 404, like a missing one."""
    try:
        return _invoice(await invoice_payments.account_invoice(pool, sid, invoice_id))
    except invoice_payments.InvoiceNotFoundError:
        raise ProblemError(404, "Invoice not found", f"{sid} has no invoice {invoice_id}") from None


class BillingRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    month: Month


class BillingRunPublic(BaseModel):
    month: str
    invoices_issued: int
    already_issued: int
    not_concluded: int


@router.post("/ops/billing-runs", responses={422: _PROBLEM})
async def run_billing(
    body: BillingRunRequest, pool: DatabasePool, request: Request
) -> BillingRunPublic:
    """Close `month` for every account whose local month ended (and its grace window passed)."""
    settings: InvoicingSettings = request.app.state.settings
    run = await close_month.close_month(
        pool,
        body.month,
        now=request.app.state.clock(),
        grace=settings.month_close_grace,
        chunk_size=settings.month_close_chunk,
    )
    return BillingRunPublic(**run.__dict__)


class OverdueScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: UtcDatetime


class OverdueScanPublic(BaseModel):
    overdue: int = Field(description="invoices this scan marked overdue")


@router.post("/ops/overdue-scans", responses={422: _PROBLEM})
async def scan_overdue(body: OverdueScanRequest, pool: DatabasePool) -> OverdueScanPublic:
    """Mark unpaid invoiced invoices whose due date (local) has passed at `as_of` overdue."""
    return OverdueScanPublic(overdue=await invoice_payments.scan_overdue(pool, body.as_of))


class PaymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_id: str = Field(min_length=1, max_length=64)
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    reference: str = Field(min_length=1, max_length=200, description="idempotency key")

    @field_validator("amount", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        return str(value) if isinstance(value, float | int) else value


@router.post("/ops/payments", responses={404: _PROBLEM, 409: _PROBLEM, 422: _PROBLEM})
async def record_payment(
    body: PaymentRequest, pool: DatabasePool, request: Request
) -> InvoicePublic:
    """Apply a payment (once per reference); the invoice is `paid` once fully paid."""
    try:
        invoice = await invoice_payments.record_payment(
            pool, body.invoice_id, body.amount, body.reference, request.app.state.clock()
        )
    except invoice_payments.InvoiceNotFoundError:
        raise ProblemError(404, "Invoice not found", f"no invoice {body.invoice_id}") from None
    except invoice_payments.PaymentRefusedError as refused:
        raise ProblemError(409, "Payment refused", str(refused)) from None
    return _invoice(invoice)
