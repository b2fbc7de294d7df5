"""Use cases of invoicing requests: each step in one transaction, under the request's lock."""

import hashlib
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal

import asyncpg
from tally_contracts.invoicing_requests import (
    InvoicingRequestCreate,
    InvoicingRequestInformationRequested,
    RequestState,
)
from tally_contracts.topics import INVOICING_REQUESTS
from tally_runtime import outbox
from tally_runtime.clock import Clock
from tally_runtime.database import Connection

from tally_accounts.billing_modes import switch_to_invoiced
from tally_accounts.invoicing_requests import repository
from tally_accounts.invoicing_requests.domain import (
    AccountNotFound,
    IdempotencyKeyReused,
    InvoicingRequest,
    OpenRequestExists,
    Pricing,
    RequestNotFound,
    activated,
    agreed_terms,
    approved,
    declined,
    information_event_id,
    information_requested,
    new_request_id,
    open_request,
    priced,
)

Change = Callable[[Connection, InvoicingRequest], Awaitable[InvoicingRequest]]
"""A step: the request as it stands (locked) → the request after it, with its side effects."""


def _fingerprint(body: InvoicingRequestCreate) -> bytes:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()


async def create_request(
    body: InvoicingRequestCreate,
    *,
    caller: str,
    idempotency_key: str | None,
    pool: asyncpg.Pool,
    clock: Clock,
) -> tuple[InvoicingRequest, bool]:
    """Open a request in `pricing`; True if it is new, False for a retry of the same body.

    Raises SpendBelowMinimum, AccountNotFound, OpenRequestExists (the account has one) or
    IdempotencyKeyReused (the key created a request from another body).
    """
    request = open_request(
        request_id=new_request_id(),
        account_sid=body.account_sid,
        contact_email=body.contact_email,
        committed_annual_spend=body.committed_annual_spend,
        by=caller,
        now=clock(),
    )
    fingerprint = _fingerprint(body)
    async with pool.acquire() as conn, conn.transaction():
        if idempotency_key and (retried := await _retried(conn, idempotency_key, fingerprint)):
            return retried, False
        if not await repository.account_exists(conn, body.account_sid):
            raise AccountNotFound(body.account_sid)
        try:
            async with conn.transaction():  # a savepoint: a unique violation ends only it
                inserted = await repository.insert_request(
                    conn, request, idempotency_key=idempotency_key, created_with=fingerprint
                )
        except asyncpg.UniqueViolationError:
            inserted = False  # the account has an open request, maybe one made just now
        if inserted:
            return request, True
        if idempotency_key and (retried := await _retried(conn, idempotency_key, fingerprint)):
            return retried, False
        raise OpenRequestExists(await repository.open_request_of(conn, body.account_sid) or "?")


async def _retried(conn: Connection, key: str, fingerprint: bytes) -> InvoicingRequest | None:
    found = await repository.fetch_by_idempotency_key(conn, key)
    if found is None:
        return None
    request, created_with = found
    if created_with != fingerprint:
        raise IdempotencyKeyReused(key)
    return request


async def find_request(request_id: str, *, pool: asyncpg.Pool) -> InvoicingRequest:
    """The request with this id; RequestNotFound if there is none."""
    request = await repository.fetch_request(pool, request_id)
    if request is None:
        raise RequestNotFound(request_id)
    return request


async def list_requests(
    state: RequestState | None, *, pool: asyncpg.Pool
) -> list[InvoicingRequest]:
    """Every request, or those in `state`, oldest first."""
    return await repository.list_requests(pool, state)


async def take_step(request_id: str, change: Change, *, pool: asyncpg.Pool) -> InvoicingRequest:
    """Apply `change` to the locked request and store the result, in one transaction.

    Raises RequestNotFound, or what the change raises (IllegalStep): then nothing is stored.
    """
    async with pool.acquire() as conn, conn.transaction():
        request = await repository.fetch_request(conn, request_id, lock=True)
        if request is None:
            raise RequestNotFound(request_id)
        after = await change(conn, request)
        await repository.update_request(conn, after)
    return after


async def record_pricing(
    request_id: str, pricing: Pricing, *, by: str, pool: asyncpg.Pool, clock: Clock
) -> InvoicingRequest:
    """The agreed pricing structure; the request moves on to its credit check."""

    async def change(_: Connection, request: InvoicingRequest) -> InvoicingRequest:
        return priced(request, pricing, by=by, now=clock())

    return await take_step(request_id, change, pool=pool)


async def request_information(
    request_id: str, items: list[str], *, by: str, pool: asyncpg.Pool, clock: Clock
) -> InvoicingRequest:
    """Ask the customer for more; the fact is published so that notifications tells them."""

    async def change(conn: Connection, request: InvoicingRequest) -> InvoicingRequest:
        now = clock()
        after = information_requested(request, items, by=by, now=now)
        fact = InvoicingRequestInformationRequested(
            event_id=information_event_id(after),
            occurred_at=now,
            account_sid=after.account_sid,
            request_id=after.request_id,
            contact_email=after.contact_email,
            items=items,
            requested_by=by,
        )
        await outbox.enqueue(conn, INVOICING_REQUESTS, after.account_sid, fact)
        return after

    return await take_step(request_id, change, pool=pool)


async def decide(
    request_id: str,
    *,
    credit_limit: Decimal | None,
    reason: str | None,
    by: str,
    pool: asyncpg.Pool,
    clock: Clock,
) -> InvoicingRequest:
    """Approve with `credit_limit`, or (without one) decline for `reason`."""

    async def change(_: Connection, request: InvoicingRequest) -> InvoicingRequest:
        if credit_limit is not None:
            return approved(request, credit_limit, by=by, now=clock())
        return declined(request, reason or "", by=by, now=clock())

    return await take_step(request_id, change, pool=pool)


async def activate(
    request_id: str, *, by: str, pool: asyncpg.Pool, clock: Clock
) -> InvoicingRequest:
    """Bill the account by invoice on the agreed terms, in the transaction that activates."""

    async def change(conn: Connection, request: InvoicingRequest) -> InvoicingRequest:
        now = clock()
        after = activated(request, by=by, now=now)
        await switch_to_invoiced(conn, after.account_sid, agreed_terms(after), now=now)
        return after

    return await take_step(request_id, change, pool=pool)
