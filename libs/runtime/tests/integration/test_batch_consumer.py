"""The exactly-once engine against real Kafka and PostgreSQL: batches, poison, redelivery."""

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from tally_runtime.clock import utc_now
from tally_runtime.consumer import BatchConsumer, Subscription
from tally_runtime.parking import count_parked, list_parked
from tally_runtime.records import ConsumedRecord
from tally_runtime.settings import ServiceSettings
from tally_runtime.units import UnitOfWork
from tally_testkit import eventually, wait_committed


class Applier:
    """A handler keyed by its data, as every Tally handler is; `fail` decides what breaks it."""

    def __init__(self) -> None:
        self.calls = 0
        self.transient_failures = 0
        self.cured: set[bytes] = set()

    async def __call__(self, records: Sequence[ConsumedRecord], unit: UnitOfWork) -> None:
        self.calls += 1
        if self.transient_failures:
            self.transient_failures -= 1
            raise asyncpg.PostgresConnectionError("the server went away")
        for record in records:
            if record.value.startswith(b"poison") and record.value not in self.cured:
                raise ValueError(f"cannot apply {record.value!r}")
        # The key goes into a text column: a key with a NUL byte is refused by PostgreSQL.
        await unit.conn.executemany(
            "INSERT INTO applied (value, key, partition, position) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (value) DO NOTHING",
            [(r.value.decode(), r.key_text, r.partition, r.offset) for r in records],
        )


@contextlib.asynccontextmanager
async def consuming(
    settings: ServiceSettings, pool: asyncpg.Pool, topic: str, handler: Applier
) -> AsyncIterator[None]:
    consumer = BatchConsumer(settings, pool, [Subscription(topic, handler)], clock=utc_now)
    task = asyncio.create_task(consumer.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def send_all(
    producer: AIOKafkaProducer, topic: str, values: list[bytes], key: bytes = b"k"
) -> RecordMetadata:
    """Send `values` in order on one key (so one partition); the last one's metadata."""
    last = None
    for value in values:
        last = await producer.send_and_wait(topic, value, key=key)
    assert last is not None
    return last


async def applied(pool: asyncpg.Pool) -> list[str]:
    return [row["value"] for row in await pool.fetch("SELECT value FROM applied ORDER BY value")]


async def test_given_a_poison_record_among_good_ones_then_it_is_parked_and_the_rest_applied(
    settings: ServiceSettings, pool: asyncpg.Pool, producer: AIOKafkaProducer, scratch_topic: str
) -> None:
    # given a poison record between good ones on one partition
    values = [b"good-1", b"good-2", b"poison-3", b"good-4", b"good-5"]
    last = await send_all(producer, scratch_topic, values)

    # when the engine consumes them
    async with consuming(settings, pool, scratch_topic, Applier()):
        await wait_committed(settings.kafka_bootstrap, settings.consumer_group, last)

    # then every good record is applied, the poison one is parked whole, and the partition moved on
    assert await applied(pool) == ["good-1", "good-2", "good-4", "good-5"]
    [parked] = await list_parked(pool)
    assert (parked.topic, parked.partition, parked.value) == (
        scratch_topic,
        last.partition,
        b"poison-3",
    )
    assert parked.offset == last.offset - 2
    assert parked.error == "ValueError: cannot apply b'poison-3'"
    assert parked.attempts == settings.poison_attempts
    assert await count_parked(pool) == 1


async def test_given_a_key_postgresql_cannot_store_then_that_record_alone_is_parked(
    settings: ServiceSettings, pool: asyncpg.Pool, producer: AIOKafkaProducer, scratch_topic: str
) -> None:
    await send_all(producer, scratch_topic, [b"before"], key=b"k")
    await send_all(producer, scratch_topic, [b"nul-key"], key=b"k\x00")
    last = await send_all(producer, scratch_topic, [b"after"], key=b"k")

    async with consuming(settings, pool, scratch_topic, Applier()):
        await wait_committed(settings.kafka_bootstrap, settings.consumer_group, last)

    assert await applied(pool) == ["after", "before"]
    [parked] = await list_parked(pool)
    assert (parked.key, parked.value) == (b"k\x00", b"nul-key")
    assert "CharacterNotInRepertoire" in parked.error


async def test_given_transient_failures_then_the_batch_waits_and_applies_without_parking(
    settings: ServiceSettings, pool: asyncpg.Pool, producer: AIOKafkaProducer, scratch_topic: str
) -> None:
    handler = Applier()
    handler.transient_failures = 3  # the database is away for three tries
    last = await send_all(producer, scratch_topic, [b"a", b"b"])

    async with consuming(settings, pool, scratch_topic, handler):
        await wait_committed(settings.kafka_bootstrap, settings.consumer_group, last)

    assert await applied(pool) == ["a", "b"]
    assert await count_parked(pool) == 0
    assert handler.calls >= 4


async def test_given_a_batch_applied_then_delivered_again_then_nothing_changes(
    settings: ServiceSettings, pool: asyncpg.Pool, producer: AIOKafkaProducer, scratch_topic: str
) -> None:
    last = await send_all(producer, scratch_topic, [b"x", b"poison-y", b"z"])
    async with consuming(settings, pool, scratch_topic, Applier()):
        await wait_committed(settings.kafka_bootstrap, settings.consumer_group, last)
    before = await pool.fetch("SELECT * FROM applied ORDER BY value")

    # when a new group (as after a lost offset commit) consumes the same records again
    again = settings.model_copy(update={"consumer_group": settings.consumer_group + "-again"})
    async with consuming(again, pool, scratch_topic, Applier()):
        await wait_committed(again.kafka_bootstrap, again.consumer_group, last)

    assert await pool.fetch("SELECT * FROM applied ORDER BY value") == before
    assert await count_parked(pool) == 1  # the poison record is parked once, not twice


@pytest.mark.parametrize("records", [1, 4000])
async def test_given_records_on_two_partitions_then_each_is_applied_once(
    records: int,
    settings: ServiceSettings,
    pool: asyncpg.Pool,
    producer: AIOKafkaProducer,
    scratch_topic: str,
) -> None:
    sent = [
        producer.send(scratch_topic, f"v-{n:05d}".encode(), key=f"k{n % 7}".encode())
        for n in range(records)
    ]
    metadata = await asyncio.gather(*[await s for s in sent])

    async with consuming(settings, pool, scratch_topic, Applier()):
        for partition in {m.partition for m in metadata}:
            last = max((m for m in metadata if m.partition == partition), key=lambda m: m.offset)
            await wait_committed(settings.kafka_bootstrap, settings.consumer_group, last)

    assert len(await applied(pool)) == records


async def test_given_a_parked_record_replayed_by_the_operator_then_it_is_applied(
    settings: ServiceSettings, pool: asyncpg.Pool, producer: AIOKafkaProducer, scratch_topic: str
) -> None:
    # given a record parked because the handler could not apply it
    handler = Applier()
    last = await send_all(producer, scratch_topic, [b"poison-then-fixed"])
    async with consuming(settings, pool, scratch_topic, handler):
        await wait_committed(settings.kafka_bootstrap, settings.consumer_group, last)
        [parked] = await list_parked(pool)

        # when the cause is fixed and the operator replays it with the ops command
        handler.cured = {b"poison-then-fixed"}
        replay = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tally_runtime.parked",
            "--service=runtime-test",
            f"--database-url={settings.database_url}",
            "replay",
            str(parked.id),
            env={**os.environ, "KAFKA_BOOTSTRAP": settings.kafka_bootstrap},
            stdout=asyncio.subprocess.PIPE,
        )
        output, _ = await replay.communicate()

        # then it is applied, and no longer counted as waiting
        assert replay.returncode == 0
        assert f"#{parked.id}: sent again to {scratch_topic}" in output.decode()
        await eventually(lambda: applied(pool), lambda values: values == ["poison-then-fixed"])
    assert await count_parked(pool) == 0
