"""Fixtures for end-to-end tests: the whole system running as processes, and ways to drive it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from tally_testkit.plugin import NewDatabase

from tests.e2e.system import OPS_KEY, SERVICES, System

T = TypeVar("T")


@pytest.fixture(scope="session")
async def system(
    kafka_bootstrap: str, new_database: NewDatabase, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[System]:
    """Every service as its own process, each with a fresh database of its own."""
    run_dir = tmp_path_factory.mktemp("system")
    databases = {service: await new_database(service) for service in SERVICES}
    running = System(
        kafka_bootstrap=kafka_bootstrap,
        databases=databases,
        trace_dir=run_dir / "traces",
        log_dir=run_dir,
        run_id=uuid.uuid4().hex[:8],
    )
    await running.start_consumer_groups_at_end()
    try:
        for service in SERVICES:
            running.start(service)
        yield running
    finally:
        running.stop_all()


@pytest.fixture(scope="session")
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """A plain Kafka producer, as a customer's usage producer would use."""
    kafka = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def create_account(
    system: System, http: httpx.AsyncClient
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Create an account through the gateway with the ops key; returns its SID and token."""

    async def create(**overrides: Any) -> dict[str, Any]:
        body = {"owner": "e2e-customer", "friendly_name": "e2e", "time_zone": "America/Chicago"}
        response = await http.post(
            f"{system.url('gateway')}/v1/Accounts",
            json=body | overrides,
            headers={"Authorization": f"Bearer {OPS_KEY}"},
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    return create


async def eventually(
    probe: Callable[[], Awaitable[T]], until: Callable[[T], bool], within: float = 30.0
) -> T:
    """Poll `probe` until `until(result)` holds; fail with the last result after `within` s."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {within} s; last result: {result!r}")
        await asyncio.sleep(0.2)


@pytest.fixture
def trace_dir(system: System) -> Iterator[Path]:
    yield system.trace_dir
