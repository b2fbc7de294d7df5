"""Invoicing built with its real composition root against real Kafka and PostgreSQL.

Kafka plumbing (`producer`, `publish`, `tail`) comes from the tally_testkit plugin.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from tally_contracts.topics import ALL_TOPICS
from tally_invoicing.app import create_app
from tally_invoicing.config import InvoicingSettings
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_testkit import NewDatabase, commit_groups_at_end, wait_committed

from .month_close_support import MovableClock

SERVICE_TOKEN = "invoicing-tests-service-token"


@pytest.fixture
async def settings(kafka_bootstrap: str, new_database: NewDatabase) -> InvoicingSettings:
    """Settings for one test: its own database and its own consumer group."""
    settings = InvoicingSettings(
        # Months close when a test asks (a billing run), never behind its back.
        scheduler_enabled=False,
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=await new_database("invoicing"),
        consumer_group=f"test-invoicing-{uuid.uuid4().hex}",
        service_token=SecretStr(SERVICE_TOKEN),
        # No accounts service here: the charge guard cannot prove a mode, so auto-recharges
        # stay pending (the guard's own tests run accounts: test_charge_guard.py).
        accounts_url="http://127.0.0.1:9",
        recharge_every_seconds=0.2,
    )
    # A fresh group would read the shared topics' whole backlog: other tests' accounts, which
    # it would credit and publish about. The test's own events come after this point.
    await commit_groups_at_end(
        kafka_bootstrap, [settings.consumer_group], [topic.name for topic in ALL_TOPICS]
    )
    return settings


@pytest.fixture
async def app(settings: InvoicingSettings) -> AsyncIterator[FastAPI]:
    """The invoicing process, started: migrated database, consumers and outbox relay."""
    service = create_app(settings)
    async with service.router.lifespan_context(service):
        yield service


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the service's HTTP API."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://invoicing",
        headers={SERVICE_TOKEN_HEADER: SERVICE_TOKEN},
    ) as client:
        yield client


@pytest.fixture
def wait_consumed(
    kafka_bootstrap: str, settings: InvoicingSettings
) -> Callable[[Any], Awaitable[None]]:
    """Wait until the service's consumer group has committed past a published record."""
    return lambda sent: wait_committed(kafka_bootstrap, settings.consumer_group, sent)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def closing_settings(settings: InvoicingSettings) -> InvoicingSettings:
    """No grace window and no scheduler: each test runs billing when it says so."""
    return settings.model_copy(
        update={"month_close_grace": timedelta(0), "scheduler_enabled": False}
    )
