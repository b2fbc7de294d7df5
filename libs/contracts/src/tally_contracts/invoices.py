"""Invoice facts published by invoicing."""

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field

from tally_contracts.envelope import Envelope


class MonthClosed(Envelope):
    """Invoicing closed one billing month of the account; usage for it is now late."""

    type: Literal["invoices.month_closed"] = "invoices.month_closed"
    period: str = Field(description="the closed billing period's key, `2026-10@America/Chicago`")


class InvoiceIssued(Envelope):
    """An invoice was issued for one concluded billing month (published on `invoices.events.v1`)."""

    type: Literal["invoice.issued"] = "invoice.issued"
    invoice_id: str
    period: str
    billing_mode: str = Field(description="the account's mode at the close: the invoice's kind")
    total: Decimal
    amount_due: Decimal
    due_date: date | None
    no_balance_due: bool
    recipients: list[str] = Field(default_factory=list)
    currency: Literal["USD"] = "USD"


class InvoiceOverdue(Envelope):
    """An invoiced account's invoice passed its due date unpaid."""

    type: Literal["invoice.overdue"] = "invoice.overdue"
    invoice_id: str
    period: str
    amount_due: Decimal
    due_date: date
    currency: Literal["USD"] = "USD"


class InvoicePaid(Envelope):
    """Payments covered an invoice's amount due."""

    type: Literal["invoice.paid"] = "invoice.paid"
    invoice_id: str
    period: str
    currency: Literal["USD"] = "USD"
