"""The exactly-once plumbing against real PostgreSQL and Kafka."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker
from tally_contracts.balances import BalanceChanged
from tally_contracts.topics import BALANCE_CHANGED
from tally_runtime.database import apply_migrations
from tally_runtime.inbox import first_delivery
from tally_runtime.outbox import OutboxRelay, enqueue
from tally_testkit.plugin import NewDatabase


@pytest.fixture
async def pool(new_database: NewDatabase, tmp_path: Path) -> AsyncIterator[asyncpg.Pool]:
    """A database with only the shared inbox/outbox schema (an empty service migrations dir)."""
    url = await new_database("runtime")
    await apply_migrations(url, tmp_path)
    async with asyncpg.create_pool(url) as opened:
        yield opened


def balance_event(sid: str) -> BalanceChanged:
    return BalanceChanged(
        event_id=f"charge:{uuid.uuid4().hex}",
        occurred_at=datetime.now(UTC),
        account_sid=sid,
        charge_id="c1",
        usage_event_id="u1",
        amount="0.01",
        balance="-0.01",
    )


async def test_given_a_message_recorded_then_its_redelivery_is_recognised(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        assert await first_delivery(conn, "invoicing", "m-1") is True
        assert await first_delivery(conn, "invoicing", "m-1") is False
        assert await first_delivery(conn, "notifications", "m-1") is True


async def test_given_a_rolled_back_transaction_then_neither_inbox_nor_outbox_keep_anything(
    pool: asyncpg.Pool,
) -> None:
    sid = "AC" + uuid.uuid4().hex
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await first_delivery(conn, "invoicing", "m-2")
                await enqueue(conn, BALANCE_CHANGED, sid, balance_event(sid))
                raise RuntimeError("the state change failed")
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
        assert await first_delivery(conn, "invoicing", "m-2") is True


async def test_given_committed_outbox_rows_then_the_relay_publishes_them_and_empties_the_table(
    pool: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    sid = "AC" + uuid.uuid4().hex
    events = [balance_event(sid) for _ in range(3)]
    async with pool.acquire() as conn, conn.transaction():
        for event in events:
            await enqueue(conn, BALANCE_CHANGED, sid, event)

    broker = KafkaBroker(kafka_bootstrap)
    await broker.start()
    consumer = AIOKafkaConsumer(
        BALANCE_CHANGED,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=f"runtime-test-{uuid.uuid4().hex}",
    )
    await consumer.start()
    try:
        assert await OutboxRelay(pool, broker).publish_pending() == 3
        received: list[str] = []
        async with asyncio.timeout(30):
            while len(received) < 3:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    received += [
                        json.loads(r.value)["event_id"] for r in records if r.key == sid.encode()
                    ]
    finally:
        await consumer.stop()
        await broker.stop()

    assert received == [event.event_id for event in events]  # one key keeps its order
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
