"""The record-usage handler against real PostgreSQL: every path is safe to run twice.

Each record is applied as a batch of one, in the transaction the engine would open; a record
handled twice is a redelivery, recognised by the position it came from."""

import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from tally_contracts.topics import ACCOUNT_STATE
from tally_runtime.consumer import apply_batch
from tally_runtime.lifecycle import migrated_database
from tally_runtime.records import ConsumedRecord
from tally_testkit import NewDatabase, account_state, consumed, new_sid
from tally_usage.account_handlers import record_account_states
from tally_usage.app import MIGRATIONS, PROJECTIONS
from tally_usage.config import UsageSettings
from tally_usage.domain import Outcome
from tally_usage.handlers import record_usage

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


@pytest.fixture
async def pool(new_database: NewDatabase) -> AsyncIterator[asyncpg.Pool]:
    settings = UsageSettings(database_url=await new_database("usage_handler"))
    async with migrated_database(settings, MIGRATIONS, projections=PROJECTIONS) as opened:
        yield opened


async def known_sid(pool: asyncpg.Pool) -> str:
    """A new account whose state usage has consumed, so its usage is recorded, not parked."""
    sid = new_sid()
    await apply_batch(
        pool, record_account_states, [consumed(ACCOUNT_STATE, account_state(sid, 1))], clock=clock
    )
    return sid


async def outcome_of(pool: asyncpg.Pool, record: ConsumedRecord) -> Outcome:
    """Apply a batch of one record as the engine would, and say what became of it."""
    applied = await apply_batch(pool, record_usage, [record], clock=clock)
    assert isinstance(applied.result, Counter)
    [(outcome, count)] = [(o, n) for o, n in applied.result.items() if n]
    assert count == 1
    return outcome


def raw(sid: str, offset: int, **changes: Any) -> ConsumedRecord:
    fields = {
        "event_id": "call-1",
        "account_sid": sid,
        "category": "calls-outbound",
        "quantity": "1.5",
        "occurred_at": "2026-11-21T11:00:00Z",
    } | changes
    return ConsumedRecord(
        topic="usage.events.v1",
        partition=0,
        offset=offset,
        key=sid.encode(),
        value=json.dumps(fields).encode(),
    )


async def counts(pool: asyncpg.Pool, sid: str) -> dict[str, int]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT"
            " (SELECT count(*) FROM usage_events WHERE account_sid = $1) AS events,"
            " (SELECT count(*) FROM usage_duplicates WHERE account_sid = $1) AS duplicates,"
            " (SELECT count(*) FROM usage_conflicts WHERE account_sid = $1) AS conflicts,"
            " (SELECT count(*) FROM usage_rejections WHERE account_sid = $1) AS rejections,"
            " (SELECT count(*) FROM outbox WHERE key = $1) AS outbox",
            sid,
        )
    assert row is not None
    return dict(row)


async def test_given_the_same_message_handled_twice_then_one_row_and_one_outbox_entry(
    pool: asyncpg.Pool,
) -> None:
    sid = await known_sid(pool)
    message = raw(sid, offset=7)

    first = await outcome_of(pool, message)
    second = await outcome_of(pool, message)

    assert (first, second) == (Outcome.RECORDED, Outcome.REDELIVERED)
    assert await counts(pool, sid) == {
        "events": 1,
        "duplicates": 0,
        "conflicts": 0,
        "rejections": 0,
        "outbox": 1,
    }
    async with pool.acquire() as conn:
        stored = await conn.fetchrow(
            "SELECT quantity, occurred_at, recorded_at FROM usage_events WHERE account_sid = $1",
            sid,
        )
        payload = await conn.fetchval("SELECT payload FROM outbox WHERE key = $1", sid)
    assert stored is not None
    assert str(stored["quantity"]) == "1.5"
    assert stored["recorded_at"] == NOW
    assert json.loads(payload)["event_id"] == f"usage:{sid}:call-1"


async def test_given_the_event_sent_again_at_another_offset_then_it_is_a_counted_duplicate(
    pool: asyncpg.Pool,
) -> None:
    sid = await known_sid(pool)
    await outcome_of(pool, raw(sid, offset=1, quantity=1.5))

    again = await outcome_of(pool, raw(sid, offset=2, quantity="1.50"))
    redelivered = await outcome_of(pool, raw(sid, offset=2, quantity="1.50"))

    assert (again, redelivered) == (Outcome.DUPLICATE, Outcome.REDELIVERED)
    assert await counts(pool, sid) == {
        "events": 1,
        "duplicates": 1,
        "conflicts": 0,
        "rejections": 0,
        "outbox": 1,
    }


async def test_given_a_conflicting_payload_handled_twice_then_one_conflict_and_one_dead_letter(
    pool: asyncpg.Pool,
) -> None:
    sid = await known_sid(pool)
    await outcome_of(pool, raw(sid, offset=1, quantity="1.5"))

    conflict = raw(sid, offset=2, quantity="9")
    outcomes = [await outcome_of(pool, conflict) for _ in range(2)]

    assert outcomes == [Outcome.CONFLICT, Outcome.REDELIVERED]
    assert await counts(pool, sid) == {
        "events": 1,
        "duplicates": 0,
        "conflicts": 1,
        "rejections": 0,
        "outbox": 2,
    }
    async with pool.acquire() as conn:
        quantity = await conn.fetchval(
            "SELECT quantity FROM usage_events WHERE account_sid = $1", sid
        )
        letter = await conn.fetchval(
            "SELECT payload FROM outbox WHERE key = $1 ORDER BY id DESC LIMIT 1", sid
        )
    assert str(quantity) == "1.5"  # the first payload still counts
    assert json.loads(letter)["reason"] == "conflict"
    assert json.loads(letter)["errors"][0]["field"] == "event_id"


async def test_given_an_invalid_message_handled_twice_then_one_rejection_and_one_dead_letter(
    pool: asyncpg.Pool,
) -> None:
    sid = await known_sid(pool)
    broken = raw(sid, offset=3, quantity="-1", attributes={"note\u0000": "nul\u0000inside"})

    outcomes = [await outcome_of(pool, broken) for _ in range(2)]

    assert outcomes == [Outcome.REJECTED, Outcome.REDELIVERED]
    assert await counts(pool, sid) == {
        "events": 0,
        "duplicates": 0,
        "conflicts": 0,
        "rejections": 1,
        "outbox": 1,
    }
    async with pool.acquire() as conn:
        rejection = await conn.fetchrow(
            "SELECT event_id, errors, source_offset FROM usage_rejections WHERE account_sid = $1",
            sid,
        )
    assert rejection is not None
    assert rejection["event_id"] == "call-1"
    assert [e["field"] for e in json.loads(rejection["errors"])] == ["quantity"]
    assert rejection["source_offset"] == 3


async def test_given_attributes_with_a_nul_character_then_the_event_is_still_recorded(
    pool: asyncpg.Pool,
) -> None:
    sid = await known_sid(pool)

    outcome = await outcome_of(pool, raw(sid, offset=4, attributes={"note": "nul\u0000inside"}))

    assert outcome is Outcome.RECORDED
    assert (await counts(pool, sid))["events"] == 1


async def test_given_raw_nul_bytes_then_the_message_is_rejected_not_retried_forever(
    pool: asyncpg.Pool,
) -> None:
    sid = await known_sid(pool)
    message = ConsumedRecord(
        topic="usage.events.v1", partition=0, offset=5, key=sid.encode(), value=b'{"a": "\x00"}'
    )

    outcome = await outcome_of(pool, message)

    assert outcome is Outcome.REJECTED
    assert (await counts(pool, sid))["rejections"] == 1


async def test_given_a_lone_surrogate_in_the_event_id_then_the_rejection_is_still_stored(
    pool: asyncpg.Pool,
) -> None:
    sid = await known_sid(pool)
    message = ConsumedRecord(
        topic="usage.events.v1",
        partition=0,
        offset=6,
        key=sid.encode(),
        value=b'{"event_id": "bad\\ud800", "account_sid": "' + sid.encode() + b'"}',
    )

    outcome = await outcome_of(pool, message)

    assert outcome is Outcome.REJECTED
    assert (await counts(pool, sid))["rejections"] == 1
