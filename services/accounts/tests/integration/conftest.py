"""The accounts service built by its own create_app against real PostgreSQL and Kafka."""

import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from tally_accounts.app import create_app
from tally_accounts.config import Settings
from tally_contracts.topics import ACCOUNT_STATE
from tally_testkit import NewDatabase

WAIT_FOR_RECORDS_SECONDS = 30.0

ReadKeyed = Callable[[str, int], Awaitable[list[dict[str, Any]]]]
"""`await read(key, count)`: the JSON values of the first `count` new records with that key."""


@pytest.fixture
async def accounts(
    kafka_bootstrap: str, new_database: NewDatabase
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a running accounts service with a database of its own."""
    settings = Settings(
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=await new_database("accounts"),
        consumer_group=f"test-accounts-{uuid.uuid4().hex[:8]}",
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://accounts") as client,
    ):
        yield client


@pytest.fixture
async def account_states(
    kafka_bootstrap: str, accounts: httpx.AsyncClient
) -> AsyncIterator[ReadKeyed]:
    """States published on `accounts.state.v1` since the test began (the service created it)."""
    async with _tail(kafka_bootstrap, ACCOUNT_STATE) as read:
        yield read


async def _partitions_of(bootstrap: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in description["partitions"]]
    assert partitions, f"topic {topic} does not exist"
    return partitions


@contextlib.asynccontextmanager
async def _tail(bootstrap: str, topic: str) -> AsyncIterator[ReadKeyed]:
    partitions = await _partitions_of(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for partition in partitions:
            await consumer.position(partition)  # pin "now" before the test acts
        seen: list[ConsumerRecord[bytes, bytes]] = []  # every key: one read may serve the next

        async def read(key: str, count: int) -> list[dict[str, Any]]:
            deadline = time.monotonic() + WAIT_FOR_RECORDS_SECONDS
            while len(found := [r for r in seen if r.key == key.encode()]) < count:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{len(found)} of {count} records keyed {key} arrived")
                batches = await consumer.getmany(timeout_ms=500)
                seen.extend(record for records in batches.values() for record in records)
            return [json.loads(record.value) for record in found[:count]]

        yield read
    finally:
        await consumer.stop()
