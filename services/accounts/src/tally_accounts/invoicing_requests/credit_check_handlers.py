"""Use cases of credit-check data: record it sealed, read it back with an audit row.

The data is opened only in memory, here: to merge a new post into what is stored (not a read
by a person, so not audited) and to answer the audited ops read. It is never logged and never
goes into an event.
"""

from typing import Any

import asyncpg
from tally_runtime.clock import Clock
from tally_runtime.database import Connection

from tally_accounts.invoicing_requests import repository
from tally_accounts.invoicing_requests.credit_checks import merged
from tally_accounts.invoicing_requests.crypto import CreditCheckCipher
from tally_accounts.invoicing_requests.domain import (
    InvoicingRequest,
    RequestNotFound,
    credit_check_received,
)
from tally_accounts.invoicing_requests.handlers import take_step


async def record_credit_check(
    request_id: str,
    data: dict[str, Any],
    *,
    by: str,
    cipher: CreditCheckCipher,
    pool: asyncpg.Pool,
    clock: Clock,
) -> InvoicingRequest:
    """Add `data` to the request's credit check, sealed; raises IllegalStep out of it."""

    async def change(conn: Connection, request: InvoicingRequest) -> InvoicingRequest:
        now = clock()
        after = credit_check_received(request, by=by, now=now)  # refused before any data moves
        sealed = await repository.fetch_sealed_credit_check(conn, request_id)
        stored = cipher.open(sealed) if sealed is not None else {}
        resealed = cipher.seal(merged(stored, data))
        await repository.store_sealed_credit_check(conn, request_id, resealed, now=now)
        return after

    return await take_step(request_id, change, pool=pool)


async def read_credit_check(
    request_id: str,
    *,
    caller: str,
    read_by: str | None,
    cipher: CreditCheckCipher,
    pool: asyncpg.Pool,
    clock: Clock,
) -> dict[str, Any]:
    """The request's credit-check data (empty if none yet); the read is audited first.

    The audit row and the read share one transaction: data that could not be recorded as
    read is never returned.
    """
    async with pool.acquire() as conn, conn.transaction():
        if await repository.fetch_request(conn, request_id) is None:
            raise RequestNotFound(request_id)
        await repository.record_credit_check_read(
            conn, request_id, caller=caller, read_by=read_by, now=clock()
        )
        sealed = await repository.fetch_sealed_credit_check(conn, request_id)
        return cipher.open(sealed) if sealed is not None else {}
