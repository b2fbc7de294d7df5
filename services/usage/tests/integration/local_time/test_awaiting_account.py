"""Usage of an account usage has no state for waits for it, and is applied exactly once."""

import asyncio
from datetime import date
from decimal import Decimal

import asyncpg
from tally_contracts.topics import ACCOUNT_STATE
from tally_runtime.units import UnitOfWork
from tally_testkit import consumed, eventually, new_sid
from tally_usage.account_handlers import record_account_states
from tally_usage.accounts_repository import AWAITING_LOCK_CLASS
from tally_usage.handlers import record_usage
from tally_usage.repository import awaiting_counts

from services.usage.tests.integration.local_time.write_path import (
    WritePath,
    clock,
    state,
    usage,
)

KOLKATA = "Asia/Kolkata"  # +5:30: 2026-11-01 begins at 2026-10-31T18:30Z


async def awaiting(pool: asyncpg.Pool) -> tuple[int, dict[str, int]]:
    async with pool.acquire() as conn:
        return await awaiting_counts(conn)


async def waiting_for_the_lock(pool: asyncpg.Pool) -> int:
    """Transactions of this database waiting for an awaited account's lock."""
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND classid = $1 AND database ="
            "   (SELECT oid FROM pg_database WHERE datname = current_database())",
            AWAITING_LOCK_CLASS,
        )
    )


async def test_given_usage_before_its_account_then_it_waits_and_is_applied_once(
    write_path: WritePath,
) -> None:
    sid = new_sid()
    batch = [
        usage(sid, 1, "2026-10-31T18:29:59Z", quantity="2"),  # 23:59:59 on 10-31 in Kolkata
        usage(sid, 2, "2026-10-31T18:30:00Z", quantity="3"),  # midnight: November
        usage(sid, 3, "2026-10-31T18:29:59Z", quantity="2", event_id="e-1"),  # a duplicate
        usage(sid, 4, "2026-10-31T18:30:00Z", quantity="-1"),  # invalid whoever sends it
    ]

    parked = await write_path.record(*batch)
    parked_again = await write_path.record(*batch)

    assert parked == {"parked": 3, "rejected": 1}
    assert parked_again == {"redelivered": 4}
    assert await awaiting(write_path.pool) == (3, {sid: 3})
    assert await write_path.daily(sid) == set()

    applied = await write_path.account(state(sid, 1, KOLKATA))
    state_again = await write_path.account_record(consumed(ACCOUNT_STATE, state(sid, 1, KOLKATA)))
    usage_again = await write_path.record(*batch)

    assert applied == {"recorded": 2, "duplicate": 1}
    assert state_again == {}
    assert usage_again == {"redelivered": 4}
    assert await awaiting(write_path.pool) == (0, {})
    assert await write_path.daily(sid) == {
        ("2026-10@Asia/Kolkata", date(2026, 10, 31), "calls-outbound", False, Decimal(2), 1),
        ("2026-11@Asia/Kolkata", date(2026, 11, 1), "calls-outbound", False, Decimal(3), 1),
    }
    facts = await write_path.recorded(sid)
    assert [(f["usage_event_id"], f["local_date"], f["late"]) for f in facts] == [
        ("e-1", "2026-10-31", False),
        ("e-2", "2026-11-01", False),
    ]


async def test_given_a_state_committing_while_usage_looks_then_the_usage_is_not_stranded(
    write_path: WritePath,
) -> None:
    sid = new_sid()
    async with write_path.pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        unit = UnitOfWork(conn, clock)
        await record_account_states([consumed(ACCOUNT_STATE, state(sid, 1, KOLKATA))], unit)
        # The state is written, not committed: the usage batch finds no account yet.
        recording = asyncio.create_task(write_path.record(usage(sid, 1, "2026-11-05T12:00:00Z")))
        await eventually(lambda: waiting_for_the_lock(write_path.pool), lambda n: n == 1)
        await transaction.commit()

    assert await recording == {"recorded": 1}
    assert await awaiting(write_path.pool) == (0, {})
    assert len(await write_path.daily(sid)) == 1


async def test_given_usage_parking_while_its_state_arrives_then_the_state_applies_it(
    write_path: WritePath,
) -> None:
    sid = new_sid()
    async with write_path.pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        unit = UnitOfWork(conn, clock)
        parked = await record_usage([usage(sid, 1, "2026-11-05T12:00:00Z")], unit)
        # Parked, not committed: the state batch must not miss it.
        applying = asyncio.create_task(write_path.account(state(sid, 1, KOLKATA)))
        await eventually(lambda: waiting_for_the_lock(write_path.pool), lambda n: n == 1)
        await unit.outbox.write(conn)
        await transaction.commit()

    assert +parked == {"parked": 1}
    assert await applying == {"recorded": 1}
    assert await awaiting(write_path.pool) == (0, {})
    assert await write_path.daily(sid) == {
        ("2026-11@Asia/Kolkata", date(2026, 11, 5), "calls-outbound", False, Decimal(1), 1)
    }
