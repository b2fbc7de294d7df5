"""Usage in the account's time zone as the service runs: real Kafka in and out, real PostgreSQL."""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from tally_contracts.accounts import AccountState
from tally_contracts.invoices import MonthClosed
from tally_contracts.topics import ACCOUNT_STATE, MONTH_CLOSED, USAGE_RECORDED
from tally_testkit import account_state, eventually, new_sid
from tally_usage.repository import awaiting_counts

from services.usage.tests.integration.test_usage_pipeline import (
    WAIT_SECONDS,
    KeyedReader,
    RunningUsage,
    publish,
    receipts,
    usage,  # noqa: F401 - the running service, a fixture
    usage_event,
)


def in_zone(sid: str, time_zone: str) -> AccountState:
    return account_state(sid, 1).model_copy(update={"time_zone": time_zone})


async def send(producer: AIOKafkaProducer, topic: str, event: AccountState | MonthClosed) -> None:
    sid = event.account_sid
    await producer.send_and_wait(topic, event.model_dump_json().encode(), key=sid.encode())


async def daily(pool: asyncpg.Pool, sid: str) -> set[tuple[Any, ...]]:
    rows = await pool.fetch(
        "SELECT period, local_date, late, quantity, events FROM usage_daily WHERE account_sid = $1",
        sid,
    )
    return {tuple(row) for row in rows}


async def awaiting_for(pool: asyncpg.Pool, sid: str) -> int:
    async with pool.acquire() as conn:
        _, per_account = await awaiting_counts(conn)
    return per_account.get(sid, 0)


async def test_given_usage_published_before_its_account_then_it_counts_once_its_state_arrives(
    usage: RunningUsage,  # noqa: F811 - the fixture imported above
    producer: AIOKafkaProducer,
    kafka_bootstrap: str,
) -> None:
    sid = new_sid()
    # Kathmandu is at +5:45: 2026-11-01 begins at 2026-10-31T18:15Z.
    before = usage_event(sid, quantity="2", occurred_at="2026-10-31T18:14:59Z")
    after = usage_event(sid, quantity="3", occurred_at="2026-10-31T18:15:00Z")

    async with KeyedReader(usage, kafka_bootstrap, USAGE_RECORDED, sid) as recorded:
        for event in (before, after, before):
            await publish(producer, sid, event)
        await eventually(
            lambda: awaiting_for(usage.pool, sid), lambda n: n == 3, within=WAIT_SECONDS
        )
        await send(producer, ACCOUNT_STATE, in_zone(sid, "Asia/Kathmandu"))
        found = await recorded.until(lambda found: len(found) >= 2)

    assert [(e["usage_event_id"], e["local_date"], e["period"]) for e in found] == [
        (before["event_id"], "2026-10-31", "2026-10@Asia/Kathmandu"),
        (after["event_id"], "2026-11-01", "2026-11@Asia/Kathmandu"),
    ]
    assert await daily(usage.pool, sid) == {
        ("2026-10@Asia/Kathmandu", date(2026, 10, 31), False, Decimal(2), 1),
        ("2026-11@Asia/Kathmandu", date(2026, 11, 1), False, Decimal(3), 1),
    }
    assert await awaiting_for(usage.pool, sid) == 0
    receipt = (await receipts(usage, sid, before["event_id"]))[before["event_id"]]
    assert (receipt["status"], receipt["duplicates"]) == ("recorded", 1)


async def test_given_a_closed_month_then_usage_arriving_for_it_is_recorded_late(
    usage: RunningUsage,  # noqa: F811 - the fixture imported above
    producer: AIOKafkaProducer,
    kafka_bootstrap: str,
) -> None:
    sid = new_sid()
    await send(producer, ACCOUNT_STATE, in_zone(sid, "Pacific/Honolulu"))
    on_time = usage_event(sid, quantity="4", occurred_at="2026-10-20T20:00:00Z")
    october = "2026-10@Pacific/Honolulu"
    closed = MonthClosed(
        event_id=f"closed:{sid}:{october}",
        occurred_at=datetime.now(UTC),
        account_sid=sid,
        period=october,
    )
    # Honolulu is at -10: 2026-11-01 begins at 2026-11-01T10:00Z.
    late = usage_event(sid, quantity="5", occurred_at="2026-11-01T09:59:59Z")
    november = usage_event(sid, quantity="1", occurred_at="2026-11-01T10:00:00Z")

    async with KeyedReader(usage, kafka_bootstrap, USAGE_RECORDED, sid) as recorded:
        await publish(producer, sid, on_time)
        await recorded.until(lambda found: len(found) >= 1)
        await send(producer, MONTH_CLOSED, closed)
        await eventually(
            lambda: usage.pool.fetchval(
                "SELECT count(*) FROM closed_periods WHERE account_sid = $1", sid
            ),
            lambda n: n == 1,
            within=WAIT_SECONDS,
        )
        await publish(producer, sid, late)
        await publish(producer, sid, november)
        found = await recorded.until(lambda found: len(found) >= 3)

    assert [(e["period"], e["late"]) for e in found] == [
        (october, False),
        (october, True),
        ("2026-11@Pacific/Honolulu", False),
    ]
    assert await daily(usage.pool, sid) == {
        (october, date(2026, 10, 20), False, Decimal(4), 1),
        (october, date(2026, 10, 31), True, Decimal(5), 1),
        ("2026-11@Pacific/Honolulu", date(2026, 11, 1), False, Decimal(1), 1),
    }
