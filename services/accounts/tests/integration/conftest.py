"""The accounts service built by its own create_app against real PostgreSQL and Kafka."""

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from tally_accounts.app import create_app
from tally_accounts.config import Settings
from tally_contracts.topics import ACCOUNT_STATE
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_testkit import NewDatabase, Tail, by_key

SERVICE_TOKEN = "accounts-tests-service-token"

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
        service_token=SecretStr(SERVICE_TOKEN),
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app),
            base_url="http://accounts",
            headers={SERVICE_TOKEN_HEADER: SERVICE_TOKEN},
        ) as client,
    ):
        yield client


@pytest.fixture
async def account_states(tail: Tail, accounts: httpx.AsyncClient) -> ReadKeyed:
    """States published on `accounts.state.v1` since the test began (the service created it)."""
    read = by_key(await tail(ACCOUNT_STATE))

    async def states(key: str, count: int) -> list[dict[str, Any]]:
        return [json.loads(record.value) for record in await read(key, count)]

    return states
