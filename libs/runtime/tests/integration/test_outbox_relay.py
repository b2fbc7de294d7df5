"""The outbox relay against real PostgreSQL and Kafka: in order, at least once, never stuck,
and on its own thread, never waiting for the service's event loop."""

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from tally_contracts.balances import BalanceChanged
from tally_contracts.topics import BALANCE_CHANGED
from tally_runtime import metrics
from tally_runtime.kafka import make_producer
from tally_runtime.lifecycle import RelayThread
from tally_runtime.outbox import OutboxRelay, enqueue
from tally_runtime.settings import ServiceSettings
from tally_testkit import Tail, by_key, eventually, new_sid


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


@pytest.fixture
async def relay_producer(settings: ServiceSettings) -> AsyncIterator[AIOKafkaProducer]:
    producer = make_producer("relay-test", settings)
    await producer.start()
    yield producer
    await producer.stop()


@contextlib.asynccontextmanager
async def relaying(pool: asyncpg.Pool, producer: AIOKafkaProducer) -> AsyncIterator[OutboxRelay]:
    relay = OutboxRelay(pool, producer, poll_interval=0.05)
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def commit_events(pool: asyncpg.Pool, events: list[BalanceChanged]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for event in events:
            await enqueue(conn, BALANCE_CHANGED, event.account_sid, event)


async def outbox_size(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox"))


def event_ids(records: list[Any]) -> list[str]:
    return [json.loads(record.value)["event_id"] for record in records]


async def test_given_committed_rows_then_they_are_published_in_order_and_removed(
    pool: asyncpg.Pool, relay_producer: AIOKafkaProducer, tail: Tail
) -> None:
    sid = new_sid()
    events = [balance_event(sid) for _ in range(5)]
    await commit_events(pool, events)
    published = by_key(await tail(BALANCE_CHANGED))

    async with pool.acquire() as conn:
        relay = OutboxRelay(pool, relay_producer)
        assert await relay.publish_pending(conn) == 5

    assert event_ids(await published(sid, 5)) == [event.event_id for event in events]
    assert await outbox_size(pool) == 0


class DiesBeforeDelete:
    """A connection that dies when the relay deletes what it published, as a killed relay would."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def fetch(self, *args: Any) -> Any:
        return await self._conn.fetch(*args)

    async def execute(self, query: str, *args: Any) -> Any:
        if query.startswith("DELETE"):
            raise asyncpg.ConnectionDoesNotExistError("killed between publish and delete")
        return await self._conn.execute(query, *args)


async def test_given_a_relay_killed_between_publish_and_delete_then_the_next_one_publishes_again(
    pool: asyncpg.Pool, relay_producer: AIOKafkaProducer, tail: Tail
) -> None:
    sid = new_sid()
    events = [balance_event(sid) for _ in range(3)]
    await commit_events(pool, events)
    published = by_key(await tail(BALANCE_CHANGED))

    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.ConnectionDoesNotExistError):
            await OutboxRelay(pool, relay_producer).publish_pending(DiesBeforeDelete(conn))
    assert await outbox_size(pool) == 3  # published, but not forgotten

    async with relaying(pool, relay_producer):
        records = await published(sid, 6)
        await eventually(lambda: outbox_size(pool), lambda size: size == 0)

    # at least once: the same events twice, each time in order, under the same ids
    ids = [event.event_id for event in events]
    assert event_ids(records) == ids + ids


async def test_given_two_relays_on_one_database_then_each_event_is_published_once_in_order(
    settings: ServiceSettings, pool: asyncpg.Pool, relay_producer: AIOKafkaProducer, tail: Tail
) -> None:
    sids = [new_sid() for _ in range(3)]
    reader = await tail(BALANCE_CHANGED)
    committed: dict[str, list[str]] = {sid: [] for sid in sids}

    async with (
        asyncpg.create_pool(settings.database_url) as other_pool,
        relaying(pool, relay_producer),
        relaying(other_pool, relay_producer),
    ):
        for _ in range(40):
            events = [balance_event(sid) for sid in sids for _ in range(5)]
            await commit_events(pool, events)
            for event in events:
                committed[event.account_sid].append(event.event_id)
        await eventually(lambda: outbox_size(pool), lambda size: size == 0)

    # every record the relays sent for these accounts, read until the topic stays quiet
    received: dict[str, list[str]] = {sid: [] for sid in sids}
    while batches := await reader.getmany(timeout_ms=2000):
        for record in (r for records in batches.values() for r in records):
            if (sid := record.key.decode()) in received:
                received[sid].append(json.loads(record.value)["event_id"])
    assert received == committed  # each event once, each account's in commit order


async def test_given_the_relays_connections_cut_as_by_a_restart_then_it_publishes_again(
    settings: ServiceSettings, pool: asyncpg.Pool, relay_producer: AIOKafkaProducer, tail: Tail
) -> None:
    sid = new_sid()
    published = by_key(await tail(BALANCE_CHANGED))
    async with relaying(pool, relay_producer):
        await commit_events(pool, [first := balance_event(sid)])
        assert event_ids(await published(sid, 1)) == [first.event_id]
        after_the_cut = await tail(BALANCE_CHANGED)

        # when the server drops every connection of the database, as a restart does
        database = settings.database_url.rsplit("/", 1)[1]
        async with pool.acquire() as conn:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
        # then an event committed afterwards is still published, without anyone's help
        async with asyncpg.create_pool(settings.database_url, min_size=1) as fresh:
            await commit_events(fresh, [second := balance_event(sid)])
        arrived: list[str] = []

        async def second_arrived() -> list[str]:
            batches = await after_the_cut.getmany(timeout_ms=200)
            mine = [r for records in batches.values() for r in records if r.key == sid.encode()]
            arrived.extend(event_ids(mine))
            return arrived

        # (the first may come again: the cut can fall between its publish and its delete)
        await eventually(second_arrived, lambda found: second.event_id in found)
        assert set(arrived) <= {first.event_id, second.event_id}
        assert arrived[-1] == second.event_id


def published_count(topic: str) -> float:
    """What relays of this process have published to `topic` (the /metrics counter)."""
    return float(metrics.PUBLISHED.labels(topic)._value.get())


async def test_given_a_blocked_event_loop_when_a_commit_wrote_the_outbox_then_the_relay_publishes(
    settings: ServiceSettings, pool: asyncpg.Pool, tail: Tail
) -> None:
    # Given the relay on its own thread (as every service runs it), and a reader of the topic
    published = by_key(await tail(BALANCE_CHANGED))
    relay = RelayThread("relay-thread-test", settings)
    await relay.start()
    try:
        # When a commit writes an event and the service's loop then stops yielding, as a
        # consumer's batch does for long stretches of Python
        sid = new_sid()
        before = published_count(BALANCE_CHANGED)
        await commit_events(pool, [balance_event(sid)])
        relay.wake()
        blocked_until = time.monotonic() + 30.0
        while published_count(BALANCE_CHANGED) == before and time.monotonic() < blocked_until:
            time.sleep(0.05)  # noqa: ASYNC251 - the point: this loop runs nothing else meanwhile

        # Then the relay published it while the loop was blocked, and removed the row after
        assert published_count(BALANCE_CHANGED) > before
        assert len(await published(sid, 1)) == 1
        await eventually(lambda: outbox_size(pool), lambda size: size == 0)
    finally:
        await relay.stop()
