"""Use cases: record one raw usage message exactly once; read receipts and usage totals."""

from collections.abc import Sequence
from datetime import datetime

import asyncpg
from tally_contracts.topics import USAGE_RECORDED, USAGE_REJECTED
from tally_contracts.usage import UsageEvent
from tally_runtime import inbox, outbox
from tally_runtime.clock import Clock
from tally_runtime.database import Connection

from tally_usage import repository
from tally_usage.domain import (
    UNKNOWN_KEY,
    CategoryTotal,
    EventHistory,
    InvalidUsage,
    Outcome,
    RawUsageMessage,
    classify,
    conflict_error,
    dead_letter,
    payload_hash,
    usage_recorded,
    validate_usage,
)

CONSUMER = "usage.record-usage"
"""The inbox's name for this handler: it remembers which records it has applied."""


async def record_usage(message: RawUsageMessage, *, pool: asyncpg.Pool, clock: Clock) -> Outcome:
    """Apply one record of `usage.events.v1` in one transaction; a redelivery changes nothing."""
    now = clock()
    verdict = validate_usage(message, now)
    async with pool.acquire() as conn, conn.transaction():
        if not await inbox.first_delivery(conn, CONSUMER, message.message_id):
            return Outcome.REDELIVERED
        if isinstance(verdict, InvalidUsage):
            await _reject(conn, message, verdict, now)
            return Outcome.REJECTED
        return await _apply(conn, message, verdict, now)


async def _reject(
    conn: Connection, message: RawUsageMessage, invalid: InvalidUsage, now: datetime
) -> None:
    letter = dead_letter(message, invalid.errors, now)
    await repository.insert_rejections(conn, [(invalid, letter)])
    await outbox.enqueue(conn, USAGE_REJECTED, message.key_text or UNKNOWN_KEY, letter)


async def _apply(
    conn: Connection, message: RawUsageMessage, event: UsageEvent, now: datetime
) -> Outcome:
    key = (event.account_sid, event.event_id)
    incoming_hash = payload_hash(event)
    stored = await repository.payload_hashes(conn, [key])
    outcome = classify(stored.get(key), incoming_hash)
    if outcome is Outcome.RECORDED:
        # A concurrent insert of the same key (only during a rebalance) fails this transaction;
        # the message is retried and then classified against the stored row.
        await repository.insert_events(conn, [(event, incoming_hash)], now)
        await outbox.enqueue(conn, USAGE_RECORDED, event.account_sid, usage_recorded(event, now))
    elif outcome is Outcome.DUPLICATE:
        await repository.count_duplicates(conn, [key])
    else:
        letter = dead_letter(message, [conflict_error(event.event_id)], now, reason="conflict")
        await repository.insert_conflicts(conn, [(event, incoming_hash, letter)])
        await outbox.enqueue(conn, USAGE_REJECTED, event.account_sid, letter)
    return outcome


async def event_histories(
    account_sid: str, event_ids: Sequence[str], *, pool: asyncpg.Pool
) -> dict[str, EventHistory]:
    """What became of each event id of the account (ids never seen map to an empty history)."""
    async with pool.acquire() as conn:
        found = await repository.event_histories(conn, account_sid, event_ids)
    return {event_id: found.get(event_id, EventHistory()) for event_id in event_ids}


async def usage_summary(account_sid: str, *, pool: asyncpg.Pool) -> list[CategoryTotal]:
    """Stored events and total quantity per category of the account."""
    async with pool.acquire() as conn:
        return await repository.category_totals(conn, account_sid)
