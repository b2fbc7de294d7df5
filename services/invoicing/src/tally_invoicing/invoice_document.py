"""The invoice as people read it (CONTRACTS.md §3, Money): the JSON model the PDF is made from.

Pure data: the renderer and the billing page read an invoice through this model, whatever
module stores it, so what the PDF prints is exactly what the JSON says.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict
from tally_contracts.accounts import Address
from tally_contracts.periods import zone


class InvoicePeriod(BaseModel):
    """The billing month as UTC instants: `end` is exclusive."""

    start: datetime
    end: datetime


class InvoiceLine(BaseModel):
    """One line: `usage` per category, the `discount`, or an `adjustment`."""

    model_config = ConfigDict(extra="ignore")

    kind: str
    category: str | None = None
    description: str
    quantity: Decimal | None = None
    unit: str | None = None
    unit_price: Decimal | None = None
    amount: Decimal


class InvoiceDocument(BaseModel):
    """One issued invoice, field for field as `GET …/Invoices/{invoice_id}` answers it."""

    model_config = ConfigDict(extra="ignore")

    invoice_id: str
    account_sid: str
    month: str
    time_zone: str
    period: InvoicePeriod
    billing_mode: str
    status: str
    issued_at: datetime
    currency: str = "USD"
    lines: list[InvoiceLine]
    subtotal: Decimal
    total: Decimal
    prepaid_applied: Decimal
    amount_due: Decimal
    no_balance_due: bool
    due_date: date | None = None
    po_number: str | None = None
    billing_address: Address | None = None
    recipients: list[str] = []

    def local_period(self) -> tuple[date, date]:
        """The month's first and last local dates in the account's time zone."""
        tz = zone(self.time_zone)
        first = self.period.start.astimezone(tz).date()
        # `end` is the next month's first instant: the month's last day is the day before.
        last = self.period.end.astimezone(tz).date() - timedelta(days=1)
        return first, last

    def local_issued_at(self) -> datetime:
        """When the invoice was issued, on the account's clock."""
        return self.issued_at.astimezone(zone(self.time_zone))
