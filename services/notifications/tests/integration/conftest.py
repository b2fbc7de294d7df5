"""Notifications built with its real composition root against real Kafka and PostgreSQL.

Kafka plumbing (`producer`, `publish`) comes from the tally_testkit plugin.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from tally_contracts.topics import ALL_TOPICS
from tally_notifications.app import create_app
from tally_notifications.config import NotificationsSettings
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_testkit import NewDatabase, commit_groups_at_end, wait_committed

SERVICE_TOKEN = "notifications-tests-service-token"
WEBHOOK_SECRET_KEYS = "RhuNHUtsWaRBrbk56PYuViKf1g-9sHdPlrvcOlPCVyk="  # a Fernet key, tests only


@pytest.fixture
async def settings(kafka_bootstrap: str, new_database: NewDatabase) -> NotificationsSettings:
    """Settings for one test: its own database and its own consumer group."""
    settings = NotificationsSettings(
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=await new_database("notifications"),
        consumer_group=f"test-notifications-{uuid.uuid4().hex}",
        service_token=SecretStr(SERVICE_TOKEN),
        webhook_secret_keys=SecretStr(WEBHOOK_SECRET_KEYS),
    )
    # A fresh group would read the shared topics' whole backlog first (every other test's
    # balance changes); the test's own events come after this point.
    await commit_groups_at_end(
        kafka_bootstrap, [settings.consumer_group], [topic.name for topic in ALL_TOPICS]
    )
    return settings


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
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://notifications",
        headers={SERVICE_TOKEN_HEADER: SERVICE_TOKEN},
    ) as client:
        yield client


@pytest.fixture
def wait_consumed(
    kafka_bootstrap: str, settings: NotificationsSettings
) -> Callable[[Any], Awaitable[None]]:
    """Wait until the service's consumer group has committed past a published record."""
    return lambda sent: wait_committed(kafka_bootstrap, settings.consumer_group, sent)
