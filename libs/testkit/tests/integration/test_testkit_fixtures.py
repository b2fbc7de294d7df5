"""The testkit's fixtures against the real servers (scripts/infra.sh up, or Docker)."""

import asyncio
import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from tally_testkit import NewDatabase


async def test_new_database_gives_each_caller_its_own_empty_database(
    new_database: NewDatabase,
) -> None:
    # given two databases made for the same label
    first_url = await new_database("Usage Service")
    second_url = await new_database("Usage Service")
    assert first_url != second_url

    # when a table is written in the first
    first = await asyncpg.connect(first_url)
    try:
        name = await first.fetchval("SELECT current_database()")
        await first.execute("CREATE TABLE events (id text PRIMARY KEY)")
        await first.execute("INSERT INTO events VALUES ('e1')")
        assert await first.fetchval("SELECT count(*) FROM events") == 1
    finally:
        await first.close()

    # then its name says what it is for, and the second database does not see the table
    assert name.startswith("test_usage_service_")
    second = await asyncpg.connect(second_url)
    try:
        assert await second.fetchval("SELECT to_regclass('events')") is None
    finally:
        await second.close()


async def test_kafka_bootstrap_round_trips_a_message(kafka_bootstrap: str) -> None:
    # given a topic nobody else uses (auto-created on first produce)
    topic = f"testkit.roundtrip.{uuid.uuid4().hex}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        # when one keyed message is published
        await producer.send_and_wait(topic, b"hello", key=b"AC1")
    finally:
        await producer.stop()

    # then a consumer reading from the start gets it back
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"AC1", b"hello")
