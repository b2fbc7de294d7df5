"""SQL of issued invoices: reading them, payments against them, and marking them overdue."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
from tally_runtime.database import Connection

_INVOICE_COLUMNS = """
    invoice_id, account_sid, month, period, time_zone, period_start, period_end, billing_mode,
    status, issued_at, currency, subtotal, total, prepaid_applied, amount_due, no_balance_due,
    due_date, po_number, billing_address::text AS billing_address, recipients, paid_amount
"""


@dataclass(frozen=True)
class StoredPayment:
    """A payment received under its reference."""

    reference: str
    invoice_id: str
    amount: Decimal


async def fetch_invoice(
    conn: Connection | asyncpg.Pool, invoice_id: str, *, for_update: bool = False
) -> dict[str, Any] | None:
    """One invoice with its lines, as columns; None if there is none."""
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_INVOICE_COLUMNS} FROM invoices WHERE invoice_id = $1{lock}",  # noqa: S608
        invoice_id,
    )
    if row is None:
        return None
    lines = await conn.fetch(
        """
        SELECT kind, category, description, quantity, unit, unit_price, amount
        FROM invoice_lines WHERE invoice_id = $1 ORDER BY line_no
        """,
        invoice_id,
    )
    return {**dict(row), "lines": [dict(line) for line in lines]}


async def list_invoices(
    conn: Connection | asyncpg.Pool, account_sid: str, month: str | None
) -> list[dict[str, Any]]:
    """The account's invoices (of one month, if given), newest first, without lines."""
    rows = await conn.fetch(
        f"""
        SELECT {_INVOICE_COLUMNS} FROM invoices
        WHERE account_sid = $1 AND ($2::text IS NULL OR month = $2)
        ORDER BY month DESC, issued_at DESC
        """,  # noqa: S608
        account_sid,
        month,
    )
    return [dict(row) for row in rows]


async def fetch_payment(conn: Connection, reference: str) -> StoredPayment | None:
    """The payment received under `reference`, if any."""
    row = await conn.fetchrow(
        "SELECT reference, invoice_id, amount FROM invoice_payments WHERE reference = $1",
        reference,
    )
    return (
        None if row is None else StoredPayment(row["reference"], row["invoice_id"], row["amount"])
    )


async def insert_payment(conn: Connection, payment: StoredPayment, at: datetime) -> bool:
    """Record the payment unless its reference is recorded; whether it was recorded now."""
    stored = await conn.fetchval(
        """
        INSERT INTO invoice_payments (reference, invoice_id, amount, received_at)
        VALUES ($1, $2, $3, $4) ON CONFLICT (reference) DO NOTHING RETURNING true
        """,
        payment.reference,
        payment.invoice_id,
        payment.amount,
        at,
    )
    return bool(stored)


async def add_payment(
    conn: Connection, invoice_id: str, amount: Decimal, status: str, at: datetime
) -> None:
    """Add `amount` to what the invoice has been paid, and set its status."""
    await conn.execute(
        """
        UPDATE invoices SET paid_amount = paid_amount + $2, status = $3,
               paid_at = CASE WHEN $3 = 'paid' THEN $4 ELSE paid_at END
        WHERE invoice_id = $1
        """,
        invoice_id,
        amount,
        status,
        at,
    )


@dataclass(frozen=True)
class OverdueInvoice:
    """An invoice the scan marked overdue."""

    invoice_id: str
    account_sid: str
    period: str
    amount_due: Decimal
    due_date: date


async def mark_overdue(conn: Connection, as_of: datetime) -> list[OverdueInvoice]:
    """Mark overdue each unpaid invoiced invoice whose due date has passed in its zone at `as_of`.

    An invoice is due through its due date, on the account's clock: it is past due from the
    next local day.
    """
    rows = await conn.fetch(
        """
        UPDATE invoices SET status = 'overdue', overdue_at = $1
        WHERE status = 'issued' AND NOT no_balance_due AND amount_due > 0
          AND amount_due > paid_amount
          AND due_date < ($1 AT TIME ZONE time_zone)::date
        RETURNING invoice_id, account_sid, period, amount_due - paid_amount AS amount_due,
                  due_date
        """,
        as_of,
    )
    return [
        OverdueInvoice(
            invoice_id=row["invoice_id"],
            account_sid=row["account_sid"],
            period=row["period"],
            amount_due=row["amount_due"],
            due_date=row["due_date"],
        )
        for row in rows
    ]
