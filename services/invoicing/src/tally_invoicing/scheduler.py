"""The jobs invoicing runs by itself: closing concluded months and scanning for overdue invoices.

Every replica runs both. The close is safe concurrently (one invoice per account and month is
a key of the database), and so is the scan (an invoice turns overdue in one UPDATE, once).
"""

import logging
from datetime import timedelta

import asyncpg
from tally_runtime.clock import Clock
from tally_runtime.periodic import Periodic

from tally_invoicing import close_month, invoice_payments
from tally_invoicing.config import InvoicingSettings

log = logging.getLogger(__name__)


def scheduled_jobs(settings: InvoicingSettings) -> list[Periodic]:
    """The month close, after each month's grace window, and the overdue scan."""
    if not settings.scheduler_enabled:
        return []
    grace: timedelta = settings.month_close_grace

    async def close_due_months(pool: asyncpg.Pool, clock: Clock) -> None:
        now = clock()
        for month in close_month.months_due(now, grace):
            run = await close_month.close_month(
                pool, month, now=now, grace=grace, chunk_size=settings.month_close_chunk
            )
            if run.invoices_issued:
                log.info("closed %s: %d invoices issued", month, run.invoices_issued)

    async def scan_overdue(pool: asyncpg.Pool, clock: Clock) -> None:
        overdue = await invoice_payments.scan_overdue(pool, clock())
        if overdue:
            log.info("%d invoices are now overdue", overdue)

    return [
        Periodic("month-close", settings.month_close_every, close_due_months),
        Periodic("overdue-scan", settings.overdue_scan_every, scan_overdue),
    ]
