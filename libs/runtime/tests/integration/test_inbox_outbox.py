"""The exactly-once plumbing against real PostgreSQL and Kafka."""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import asyncpg
import pytest
from aiokafka.errors import KafkaTimeoutError
from faststream.kafka import KafkaBroker
from tally_contracts.balances import BalanceChanged
from tally_contracts.topics import BALANCE_CHANGED
from tally_runtime.database import apply_migrations
from tally_runtime.inbox import first_delivery
from tally_runtime.outbox import OutboxRelay, enqueue
from tally_testkit import NewDatabase, Tail, by_key, new_sid


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
    pool: asyncpg.Pool, kafka_bootstrap: str, tail: Tail
) -> None:
    sid = new_sid()
    events = [balance_event(sid) for _ in range(3)]
    async with pool.acquire() as conn, conn.transaction():
        for event in events:
            await enqueue(conn, BALANCE_CHANGED, sid, event)
    published = by_key(await tail(BALANCE_CHANGED))

    broker = KafkaBroker(kafka_bootstrap)
    await broker.start()
    try:
        assert await OutboxRelay(pool, broker).publish_pending() == 3
        received = [json.loads(r.value)["event_id"] for r in await published(sid, 3)]
    finally:
        await broker.stop()

    assert received == [event.event_id for event in events]  # one key keeps its order
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


class FlakyBroker:
    """Refuses the first publishes as a restarting broker would, then passes them on."""

    def __init__(self, broker: KafkaBroker, failures: int) -> None:
        self.broker = broker
        self.failures = failures

    async def publish(self, *args: Any, **kwargs: Any) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise KafkaTimeoutError()
        return await self.broker.publish(*args, **kwargs)


async def test_given_kafka_failing_for_a_while_then_the_running_relay_publishes_once_it_is_back(
    pool: asyncpg.Pool, kafka_bootstrap: str, tail: Tail
) -> None:
    sid = new_sid()
    published = by_key(await tail(BALANCE_CHANGED))
    broker = KafkaBroker(kafka_bootstrap)
    await broker.start()
    flaky = FlakyBroker(broker, failures=3)
    relay = asyncio.create_task(
        OutboxRelay(pool, cast(KafkaBroker, flaky), poll_interval=0.1).run()
    )
    try:
        # when an event is committed while Kafka refuses publishes
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, BALANCE_CHANGED, sid, event := balance_event(sid))
        # then the relay keeps trying and the event is published once Kafka takes it
        [record] = await published(sid, 1)
    finally:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
        await broker.stop()

    assert json.loads(record.value)["event_id"] == event.event_id
    assert flaky.failures == 0
