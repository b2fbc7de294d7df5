"""Notifications built with its real composition root against real Kafka and PostgreSQL."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI
from pydantic import BaseModel
from tally_notifications.app import create_app
from tally_notifications.config import NotificationsSettings
from tally_testkit import NewDatabase

T = TypeVar("T")

Eventually = Callable[[Callable[[], Awaitable[T]], Callable[[T], bool]], Awaitable[T]]
Publish = Callable[[str, BaseModel], Awaitable[Any]]


async def _eventually(
    probe: Callable[[], Awaitable[T]], until: Callable[[T], bool], within: float = 30.0
) -> T:
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {within} s; last result: {result!r}")
        await asyncio.sleep(0.2)


@pytest.fixture
def eventually() -> Callable[..., Awaitable[Any]]:
    """Poll a probe until a condition holds; fail with the last result after 30 s."""
    return _eventually


@pytest.fixture
def new_sid() -> Callable[[], str]:
    """Fresh account SIDs: the topics are shared, so each test keeps to its own accounts."""
    return lambda: "AC" + uuid.uuid4().hex


@pytest.fixture
async def settings(kafka_bootstrap: str, new_database: NewDatabase) -> NotificationsSettings:
    """Settings for one test: its own database and its own consumer group."""
    return NotificationsSettings(
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=await new_database("notifications"),
        consumer_group=f"test-notifications-{uuid.uuid4().hex}",
    )


@pytest.fixture
async def app(settings: NotificationsSettings) -> AsyncIterator[FastAPI]:
    """The notifications process, started: migrated database and consumers."""
    service = create_app(settings)
    async with service.router.lifespan_context(service):
        yield service


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the service's HTTP API."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifications") as client:
        yield client


@pytest.fixture(scope="session")
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """A plain Kafka producer, standing in for the services upstream."""
    kafka = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


@pytest.fixture
def publish(producer: AIOKafkaProducer) -> Publish:
    """Publish an event keyed by its account SID, as the outbox relay would."""

    async def send(topic: str, event: BaseModel) -> Any:
        key = str(event.account_sid).encode()
        return await producer.send_and_wait(
            topic,
            event.model_dump_json().encode(),
            key=key,
            headers=[("content-type", b"application/json")],
        )

    return send


@pytest.fixture
def wait_consumed(
    kafka_bootstrap: str, settings: NotificationsSettings
) -> Callable[[Any], Awaitable[None]]:
    """Wait until the service's consumer group has committed past a published record."""

    async def wait(sent: Any) -> None:
        group = AIOKafkaConsumer(
            bootstrap_servers=kafka_bootstrap,
            group_id=settings.consumer_group,
            enable_auto_commit=False,
        )
        await group.start()
        try:
            partition = TopicPartition(sent.topic, sent.partition)
            await _eventually(
                lambda: group.committed(partition),
                lambda committed: committed is not None and committed > sent.offset,
            )
        finally:
            await group.stop()

    return wait
