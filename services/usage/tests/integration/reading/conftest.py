"""The usage service as it runs, for the read side: snapshots and the number usage report.

Each test gets a database of its own; `start_usage(clock)` starts the service's real
composition root on it (as many instances as a test wants). `produce` publishes account states
and usage for the write path to store; `seed` writes the rows it keeps (account zones, daily
aggregates) straight into the database, where a test is about reading them alone.
"""

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from tally_contracts.topics import ACCOUNT_STATE, ALL_TOPICS, USAGE_EVENTS
from tally_runtime.account_states import ACCOUNT_STATE_MIGRATIONS
from tally_runtime.clock import Clock
from tally_runtime.database import apply_migrations
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_runtime.kafka import ensure_topics
from tally_testkit import NewDatabase, Publish, account_state, commit_groups_at_end, eventually
from tally_usage.app import MIGRATIONS, create_app
from tally_usage.config import UsageSettings

SERVICE_TOKEN = "usage-reading-tests-token"
WAIT_SECONDS = 60  # a bound on waiting for the pipeline, not a performance assertion


@dataclass
class RunningUsage:
    """One started instance of the usage service and a client of its internal API."""

    http: httpx.AsyncClient
    pool: asyncpg.Pool


StartUsage = Callable[[Clock], AbstractAsyncContextManager[RunningUsage]]


@pytest.fixture
async def usage_settings(kafka_bootstrap: str, new_database: NewDatabase) -> UsageSettings:
    """A fresh database (migrated, known_accounts included) and a group at the topics' end."""
    settings = UsageSettings(
        database_url=await new_database("usage_reading"),
        kafka_bootstrap=kafka_bootstrap,
        consumer_group=f"usage-reading-{uuid.uuid4().hex}",
        environment="test",
        service_token=SecretStr(SERVICE_TOKEN),
    )
    # Migrated before the service starts, so a test can seed accounts it finds at start-up.
    await apply_migrations(
        settings.database_url, MIGRATIONS, projections=[ACCOUNT_STATE_MIGRATIONS]
    )
    await ensure_topics(settings, ALL_TOPICS)
    # The topics are shared: a fresh group would read every other test's backlog first.
    topics = [topic.name for topic in ALL_TOPICS]
    await commit_groups_at_end(settings.kafka_bootstrap, [settings.consumer_group], topics)
    return settings


@pytest.fixture
def start_usage(usage_settings: UsageSettings) -> StartUsage:
    """`async with start_usage(clock) as usage`: an instance of the service on the test's DB."""

    @contextlib.asynccontextmanager
    async def start(clock: Clock) -> AsyncIterator[RunningUsage]:
        app = create_app(usage_settings, clock=clock)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://usage",
                headers={SERVICE_TOKEN_HEADER: SERVICE_TOKEN},
            ) as http,
        ):
            yield RunningUsage(http, app.state.pool)

    return start


class Seed:
    """Rows the write path keeps, written straight into the test's database."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    async def _execute(self, sql: str, *args: object) -> None:
        conn = await asyncpg.connect(self.database_url)
        try:
            await conn.execute(sql, *args)
        finally:
            await conn.close()

    async def account(self, sid: str, time_zone: str) -> None:
        """An account usage has the state of, in `time_zone` since it was opened."""
        await self._execute(
            "INSERT INTO known_accounts (account_sid, version, billing_mode, status, time_zone,"
            " state_occurred_at) VALUES ($1, 1, 'pay_as_you_go', 'active', $2, $3)",
            sid,
            time_zone,
            datetime(2026, 1, 1, tzinfo=UTC),
        )
        await self._execute(
            "INSERT INTO account_time_zones (account_sid, effective_from, time_zone, first_month)"
            " VALUES ($1, '-infinity', $2, NULL)",
            sid,
            time_zone,
        )

    async def daily(
        self,
        sid: str,
        period: str,
        local_date: date,
        category: str,
        quantity: str,
        *,
        late: bool = False,
    ) -> None:
        """One day of one category's usage, as the write path aggregates it."""
        await self._execute(
            "INSERT INTO usage_daily (account_sid, period, local_date, category, late, quantity,"
            " events) VALUES ($1, $2, $3, $4, $5, $6, 1)",
            sid,
            period,
            local_date,
            category,
            late,
            Decimal(quantity),
        )


@pytest.fixture
def seed(usage_settings: UsageSettings) -> Seed:
    return Seed(usage_settings.database_url)


class Producer:
    """Publishes what the write path consumes: account states and raw usage events."""

    def __init__(self, producer: AIOKafkaProducer, publish: Publish) -> None:
        self._producer = producer
        self._publish = publish

    async def account(self, sid: str, time_zone: str) -> None:
        """The account's first state, as the accounts service publishes it, in `time_zone`."""
        await self._publish(
            ACCOUNT_STATE, account_state(sid, 1).model_copy(update={"time_zone": time_zone})
        )

    async def usage(self, sid: str, *events: dict[str, object]) -> None:
        """Usage events of the account on `usage.events.v1`, in order, as a producer sends them."""
        for event in events:
            value = {
                "event_id": f"ev-{uuid.uuid4().hex}",
                "account_sid": sid,
                "category": "calls-outbound",
                "quantity": "1",
            } | event
            await self._producer.send_and_wait(
                USAGE_EVENTS, json.dumps(value).encode(), key=sid.encode()
            )


@pytest.fixture
def produce(producer: AIOKafkaProducer, publish: Publish) -> Producer:
    return Producer(producer, publish)


async def stored_events(usage: RunningUsage, sid: str, count: int) -> None:
    """Wait until the service has stored `count` events of the account."""

    async def summary() -> int:
        response = await usage.http.get(f"/accounts/{sid}/usage/summary")
        assert response.status_code == 200, response.text
        return int(response.json()["events"])

    await eventually(summary, lambda events: events == count, within=WAIT_SECONDS)


@pytest.fixture
def wait_stored() -> Callable[[RunningUsage, str, int], Awaitable[None]]:
    """`await wait_stored(usage, sid, n)`: until the service has stored n events of `sid`."""
    return stored_events
