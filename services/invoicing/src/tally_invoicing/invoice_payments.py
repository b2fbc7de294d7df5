"""Payments against invoices and the overdue scan: use cases over issued invoices."""

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from tally_contracts.invoices import InvoiceOverdue, InvoicePaid
from tally_contracts.topics import INVOICE_EVENTS
from tally_runtime.outbox import Outbox, current_traceparent, enqueue

from tally_invoicing import payments_repository as repository


class InvoiceNotFoundError(LookupError):
    """No invoice has that id (for that account)."""


class PaymentRefusedError(Exception):
    """The payment cannot be applied: the reason says why."""


async def account_invoice(pool: asyncpg.Pool, account_sid: str, invoice_id: str) -> dict[str, Any]:
    """One of the account's invoices; another account's invoice is not found, like a missing one."""
    invoice = await repository.fetch_invoice(pool, invoice_id)
    if invoice is None or invoice["account_sid"] != account_sid:
        raise InvoiceNotFoundError(invoice_id)
    return invoice


async def account_invoices(
    pool: asyncpg.Pool, account_sid: str, month: str | None
) -> list[dict[str, Any]]:
    """The account's invoices (one month's, if given), newest first."""
    return await repository.list_invoices(pool, account_sid, month)


async def record_payment(
    pool: asyncpg.Pool, invoice_id: str, amount: Decimal, reference: str, now: datetime
) -> dict[str, Any]:
    """Apply a payment once per reference; the invoice is `paid` once payments cover what is due.

    A repeat of a reference with the same invoice and amount answers the invoice as it is now
    and moves nothing; with another invoice or amount it is refused.
    """
    async with pool.acquire() as conn, conn.transaction():
        invoice = await repository.fetch_invoice(conn, invoice_id, for_update=True)
        if invoice is None:
            raise InvoiceNotFoundError(invoice_id)
        earlier = await repository.fetch_payment(conn, reference)
        if earlier is not None:
            if (earlier.invoice_id, earlier.amount) != (invoice_id, amount):
                raise PaymentRefusedError(
                    f"reference {reference!r} was already used for another payment"
                )
            return invoice
        if invoice["no_balance_due"]:
            raise PaymentRefusedError("the invoice states no balance due: it was prepaid")
        if invoice["status"] in ("paid", "void"):
            raise PaymentRefusedError(f"the invoice is {invoice['status']}")
        payment = repository.StoredPayment(reference, invoice_id, amount)
        await repository.insert_payment(conn, payment, now)
        paid = invoice["paid_amount"] + amount >= invoice["amount_due"]
        status = "paid" if paid else invoice["status"]
        await repository.add_payment(conn, invoice_id, amount, status, now)
        if paid:
            event = InvoicePaid(
                event_id=f"invoice-paid:{invoice_id}",
                occurred_at=now,
                account_sid=invoice["account_sid"],
                invoice_id=invoice_id,
                period=invoice["period"],
            )
            await enqueue(conn, INVOICE_EVENTS, invoice["account_sid"], event)
        updated = await repository.fetch_invoice(conn, invoice_id)
    assert updated is not None
    return updated


async def scan_overdue(pool: asyncpg.Pool, as_of: datetime) -> int:
    """Mark unpaid invoiced invoices past their due date overdue, each announced once."""
    async with pool.acquire() as conn, conn.transaction():
        overdue = await repository.mark_overdue(conn, as_of)
        outbox = Outbox()
        traceparent = current_traceparent()
        for invoice in overdue:
            event = InvoiceOverdue(
                event_id=f"invoice-overdue:{invoice.invoice_id}",
                occurred_at=as_of,
                account_sid=invoice.account_sid,
                invoice_id=invoice.invoice_id,
                period=invoice.period,
                amount_due=invoice.amount_due,
                due_date=invoice.due_date,
            )
            outbox.add(INVOICE_EVENTS, invoice.account_sid, event, traceparent)
        await outbox.write(conn)
    return len(overdue)
