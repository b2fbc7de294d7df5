"""The billing run: close a month for every account whose local month has ended.

Accounts are walked in SID order, a chunk at a time; each chunk is one transaction that reads
the chunk's usage and adjustments in a few set-based statements, issues its invoices, closes
its periods and writes `MonthClosed` and `InvoiceIssued` to the outbox. Exactly one invoice
per account and month comes from the database, not from being the only worker: the invoice id
is derived from (account, month) and (account, month) is unique, so a second worker's insert
waits for the first's transaction and then finds the row (`ON CONFLICT DO NOTHING`), and a
worker killed mid-run loses only its open chunk, which the next run issues.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from tally_contracts.invoices import InvoiceIssued, MonthClosed
from tally_contracts.periods import first_day, month_of, next_month
from tally_contracts.topics import INVOICE_EVENTS, MONTH_CLOSED
from tally_runtime.outbox import Outbox, current_traceparent

from tally_invoicing import closing, profiles_repository
from tally_invoicing import invoices_repository as repository

log = logging.getLogger(__name__)

CHUNK_SIZE = 2000
CHUNK_ATTEMPTS = 3


class ConcurrentCloseError(RuntimeError):
    """Another invoice took a late charge or remainder this chunk meant to settle: read again."""


@dataclass(frozen=True)
class BillingRun:
    """What a billing run did: `already_issued` counts the month's invoices it did not issue."""

    month: str
    invoices_issued: int
    already_issued: int
    not_concluded: int


@dataclass(frozen=True)
class _ChunkResult:
    issued: list[closing.Invoice]
    not_concluded: int


async def close_month(
    pool: asyncpg.Pool,
    month: str,
    *,
    now: datetime,
    grace: timedelta,
    chunk_size: int = CHUNK_SIZE,
) -> BillingRun:
    """Issue `month`'s invoice of every account whose month ended `grace` before `now`."""
    after, issued, not_concluded = "", 0, 0
    while True:
        async with pool.acquire() as conn:
            sids = await repository.candidate_accounts(conn, month, after, chunk_size)
        if not sids:
            break
        after = sids[-1]
        result = await _close_chunk_retrying(pool, month, sids, now, grace)
        issued += len(result.issued)
        not_concluded += result.not_concluded
    async with pool.acquire() as conn:
        existing = await repository.count_invoices(conn, month)
    return BillingRun(
        month=month,
        invoices_issued=issued,
        already_issued=max(existing - issued, 0),
        not_concluded=not_concluded,
    )


async def _close_chunk_retrying(
    pool: asyncpg.Pool, month: str, sids: list[str], now: datetime, grace: timedelta
) -> _ChunkResult:
    for attempt in range(1, CHUNK_ATTEMPTS + 1):
        try:
            return await _close_chunk(pool, month, sids, now, grace)
        except (ConcurrentCloseError, asyncpg.DeadlockDetectedError):
            if attempt == CHUNK_ATTEMPTS:
                raise
            log.info("month close of %s: chunk after %s raced another close; again", month, sids[0])
    raise AssertionError("unreachable")


async def _close_chunk(
    pool: asyncpg.Pool, month: str, sids: list[str], now: datetime, grace: timedelta
) -> _ChunkResult:
    async with pool.acquire() as conn, conn.transaction():
        done = await repository.invoiced_among(conn, month, sids)
        pending = [sid for sid in sids if sid not in done]
        if not pending:  # a scheduler tick after the close: nothing to lock, nothing to do
            return _ChunkResult(issued=[], not_concluded=0)
        await repository.hold_accounts(conn, pending)
        states = await profiles_repository.profiles(conn, pending)
        accounts: dict[str, closing.AccountAtClose] = {}
        periods: dict[str, str] = {}
        not_concluded = 0
        for sid, state in states.items():
            period = closing.period_of(state.zone_history(), month)
            if not closing.concluded(period, now, grace):
                not_concluded += 1
                continue
            periods[sid] = period.key
            accounts[sid] = closing.AccountAtClose(
                account_sid=sid,
                billing_mode=state.billing_mode,
                terms=state.terms,
                billing=state.billing,
                zones=state.zone_history(),
            )
        unknown = len(sids) - len(done) - len(states)
        if unknown:
            log.warning("month close of %s: %d accounts have no state yet; later", month, unknown)
        usage = await repository.month_usage(conn, periods)
        late = await repository.late_charges(conn, month, list(periods))
        remainders = await repository.open_remainders(conn, list(periods))
        built = [
            closing.build_invoice(
                account, month, usage.get(sid, {}), late.get(sid, []), remainders.get(sid, []), now
            )
            for sid, account in accounts.items()
        ]
        invoices = [invoice for invoice in built if invoice is not None]
        new_ids = await repository.insert_invoices(conn, invoices)
        new = [invoice for invoice in invoices if invoice.invoice_id in new_ids]
        await repository.insert_lines(conn, new)
        adjusted, settled = await repository.settle(conn, new)
        if adjusted != sum(len(i.adjusted_charges) for i in new) or settled != sum(
            len(i.settled_remainders) for i in new
        ):
            raise ConcurrentCloseError(month)
        outbox = Outbox()
        traceparent = current_traceparent()
        for invoice in new:
            outbox.add(MONTH_CLOSED, invoice.account_sid, month_closed(invoice), traceparent)
            outbox.add(INVOICE_EVENTS, invoice.account_sid, invoice_issued(invoice), traceparent)
        await outbox.write(conn)
    return _ChunkResult(issued=new, not_concluded=not_concluded)


def month_closed(invoice: closing.Invoice) -> MonthClosed:
    """The fact that the invoice's period is closed: its usage is late from now on."""
    return MonthClosed(
        event_id=f"month-closed:{invoice.account_sid}:{invoice.period}",
        occurred_at=invoice.issued_at,
        account_sid=invoice.account_sid,
        period=invoice.period,
    )


def invoice_issued(invoice: closing.Invoice) -> InvoiceIssued:
    """The fact that the invoice was issued."""
    return InvoiceIssued(
        event_id=f"invoice-issued:{invoice.invoice_id}",
        occurred_at=invoice.issued_at,
        account_sid=invoice.account_sid,
        invoice_id=invoice.invoice_id,
        period=invoice.period,
        billing_mode=invoice.billing_mode.value,
        total=invoice.total,
        amount_due=invoice.amount_due,
        due_date=invoice.due_date,
        no_balance_due=invoice.no_balance_due,
        recipients=list(invoice.recipients),
    )


EARLIEST_OFFSET = timedelta(hours=14)
"""The furthest ahead of UTC a zone is (Pacific/Kiritimati): its months end first."""
LATEST_OFFSET = timedelta(hours=12)
"""The furthest behind UTC a zone is: its months end last."""
RECHECK = timedelta(days=1)
"""How long after the last zone's month end the scheduler still looks for stragglers."""


def months_due(now: datetime, grace: timedelta) -> list[str]:
    """The months some account may have concluded at `now`, for the scheduler to close."""
    this_month = month_of(now.date())
    previous = month_of(first_day(this_month) - timedelta(days=1))
    due = []
    for month in (previous, this_month):
        end = datetime.combine(first_day(next_month(month)), datetime.min.time(), now.tzinfo)
        if end - EARLIEST_OFFSET + grace <= now <= end + LATEST_OFFSET + grace + RECHECK:
            due.append(month)
    return due
