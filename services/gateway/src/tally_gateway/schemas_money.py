"""Bodies of the invoice, billing-page and money-ops routes (CONTRACTS.md §3, Money and Ops).

The invoicing service already writes money to the cent ("12.50"); these models keep its
decimal strings as they are, so the gateway never re-rounds what an invoice says.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer
from tally_contracts.accounts import Address

MONTH_PATTERN = r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$"  # years 1900-2999: each has a next month


def _in_calendar_range(instant: datetime) -> datetime:
    # Dates around it are computed (the day before, the local month): year 1 has no day before.
    if not 1900 <= instant.year <= 2999:
        raise ValueError("must be in the years 1900 to 2999")
    return instant


Instant = Annotated[AwareDatetime, AfterValidator(_in_calendar_range)]
"""An instant with its offset, in the years the services compute dates in."""

Amount = Annotated[Decimal, PlainSerializer(lambda amount: format(amount, "f"), return_type=str)]
"""USD as a decimal string, written as the invoicing service wrote it ("12.50")."""


class InvoiceSummary(BaseModel):
    """One invoice in a list: what it is for, what it came to and what is still owed."""

    invoice_id: str
    month: str = Field(description="`YYYY-MM`, the billing month in the account's time zone")
    status: Literal["issued", "paid", "overdue", "void"]
    total: Amount
    amount_due: Amount
    due_date: date | None = Field(description="invoiced accounts only: issue date + net terms")
    no_balance_due: bool = Field(description="true for pay-as-you-go and trial invoices")
    issued_at: datetime


class InvoiceList(BaseModel):
    """The account's invoices, newest first."""

    invoices: list[InvoiceSummary]


class InvoicePeriod(BaseModel):
    start: datetime = Field(description="the UTC instant the local billing month begins")
    end: datetime = Field(description="the UTC instant it ends (exclusive)")


class InvoiceLine(BaseModel):
    """One invoice line; `category`, `quantity`, `unit` and `unit_price` for usage lines."""

    kind: Literal["usage", "discount", "adjustment"]
    category: str | None = None
    description: str
    quantity: Amount | None = None
    unit: str | None = None
    unit_price: Amount | None = None
    amount: Amount


class Invoice(BaseModel):
    """One invoice, whole."""

    invoice_id: str
    account_sid: str
    month: str
    time_zone: str
    period: InvoicePeriod
    billing_mode: Literal["trial", "pay_as_you_go", "invoiced"] = Field(
        description="the account's mode when the month was closed: the invoice's kind"
    )
    status: Literal["issued", "paid", "overdue", "void"]
    issued_at: datetime
    currency: Literal["USD"] = "USD"
    lines: list[InvoiceLine]
    subtotal: Amount
    total: Amount = Field(description="the sum of the lines")
    prepaid_applied: Amount = Field(description="what the prepaid balance already paid")
    amount_due: Amount = Field(description="`total` - `prepaid_applied`")
    no_balance_due: bool
    due_date: date | None
    po_number: str | None
    billing_address: Address | None
    recipients: list[str]


class SnapshotTaken(BaseModel):
    through: date = Field(description="the local date the snapshot covers, inclusive")
    taken_at: datetime


class UpstreamUsageLine(BaseModel):
    category: str
    unit: str
    quantity: Decimal


class MonthSnapshot(BaseModel):
    """The usage service's answer: the month's latest nightly snapshot."""

    month: str
    time_zone: str
    period: InvoicePeriod
    snapshot: SnapshotTaken | None
    usage: list[UpstreamUsageLine]


class PricedLine(BaseModel):
    category: str
    quantity: Decimal
    amount: Decimal


class ChargeQuote(BaseModel):
    """The invoicing service's pricing of a month's quantities on the account's card."""

    usage: list[PricedLine]
    discount: Decimal
    total_amount: Decimal
    currency: Literal["USD"] = "USD"


class BillingUsageLine(BaseModel):
    """One category of the month so far: its quantity and what it costs, to the cent."""

    category: str
    unit: str = Field(description="minutes, messages or number-days")
    quantity: Amount = Field(description="a decimal string")
    amount: Amount = Field(description="USD, the price of `quantity`, rounded half-even")


class BillingPage(BaseModel):
    """The billing page's data for one local month."""

    month: str
    time_zone: str
    period: InvoicePeriod
    snapshot: SnapshotTaken | None
    usage: list[BillingUsageLine]
    total_amount: Amount
    currency: Literal["USD"] = "USD"
    invoice: InvoiceSummary | None


class BillingRunCreate(BaseModel):
    """The body of `POST /v1/Ops/BillingRuns`."""

    model_config = ConfigDict(extra="forbid")

    month: str = Field(pattern=MONTH_PATTERN, description="`YYYY-MM`, each account's local month")


class BillingRunPublic(BaseModel):
    month: str
    invoices_issued: int = Field(description="invoices this run issued")
    already_issued: int = Field(description="accounts whose invoice for the month already existed")
    not_concluded: int = Field(description="accounts whose local month has not ended yet")


class OverdueScanCreate(BaseModel):
    """The body of `POST /v1/Ops/OverdueScans`."""

    model_config = ConfigDict(extra="forbid")

    as_of: Instant = Field(description="an instant with its offset, years 1900 to 2999")


class OverdueScanPublic(BaseModel):
    overdue: int = Field(description="invoices this scan marked overdue")


class PaymentCreate(BaseModel):
    """The body of `POST /v1/Ops/Payments`."""

    model_config = ConfigDict(extra="forbid")

    invoice_id: str = Field(min_length=1, max_length=128)
    amount: Annotated[
        Decimal, Field(gt=0, decimal_places=2, description="USD received, at most 2 decimals")
    ]
    reference: str = Field(
        min_length=1,
        max_length=128,
        description="the payment's reference (bank transfer id, cheque number): a repeat of the"
        " same reference is the same payment, counted once",
    )
