"""The accounts service built by its own create_app against real PostgreSQL and Kafka.

Invoicing, which the upgrade and auto-recharge ask for top-ups and card authorizations, is the
real invoicing service (its own create_app), served by uvicorn on a loopback port so accounts
reaches it over HTTP as in production. Time is a clock the tests move.
"""

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.types import ASGIApp
from tally_accounts.app import create_app
from tally_accounts.config import Settings
from tally_contracts.topics import ACCOUNT_LIFECYCLE, ACCOUNT_STATE, ALL_TOPICS
from tally_invoicing.app import create_app as create_invoicing_app
from tally_invoicing.config import InvoicingSettings
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_testkit import NewDatabase, Tail, by_key, commit_groups_at_end

SERVICE_TOKEN = "accounts-tests-service-token"

ReadKeyed = Callable[[str, int], Awaitable[list[dict[str, Any]]]]
"""`await read(key, count)`: the JSON values of the first `count` new records with that key."""


class MovableClock:
    """A clock the test moves: it starts a minute from now and only moves when told."""

    def __init__(self) -> None:
        # A minute ahead: the balance facts a test publishes at this clock's time are newer
        # than those invoicing publishes meanwhile on its own clock (the trial credit).
        self.now = datetime.now(UTC) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        """Move time forward."""
        self.now += by


@pytest.fixture
def clock() -> MovableClock:
    """The accounts service's clock in this test."""
    return MovableClock()


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        listener.close()


@pytest.fixture(scope="module")
async def invoicing_url(kafka_bootstrap: str, new_database: NewDatabase) -> AsyncIterator[str]:
    """Base URL of a running invoicing service (top-ups, card authorizations, balances)."""
    settings = InvoicingSettings(
        # Months close when a test asks (a billing run), never behind its back.
        scheduler_enabled=False,
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=await new_database("invoicing"),
        consumer_group=f"test-accounts-invoicing-{uuid.uuid4().hex[:8]}",
        service_token=SecretStr(SERVICE_TOKEN),
    )
    await commit_groups_at_end(
        kafka_bootstrap, [settings.consumer_group], [t.name for t in ALL_TOPICS]
    )
    async with serving(create_invoicing_app(settings)) as url:
        yield url


@pytest.fixture
async def invoicing(invoicing_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of invoicing's internal API, to see the balances it keeps."""
    async with httpx.AsyncClient(
        base_url=invoicing_url, headers={SERVICE_TOKEN_HEADER: SERVICE_TOKEN}
    ) as client:
        yield client


@pytest.fixture
async def settings(kafka_bootstrap: str, new_database: NewDatabase, invoicing_url: str) -> Settings:
    """The accounts service's settings in one test: its own database and consumer group."""
    settings = Settings(
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=await new_database("accounts"),
        consumer_group=f"test-accounts-{uuid.uuid4().hex[:8]}",
        service_token=SecretStr(SERVICE_TOKEN),
        credit_check_keys=SecretStr("YWNjb3VudHMtdGVzdHMtY3JlZGl0LWNoZWNrLWtleSE="),
        invoicing_url=invoicing_url,
        suspension_check_seconds=0.2,
        batch_max_wait_ms=50,
    )
    # A fresh group skips the backlog other tests left on the shared topics.
    await commit_groups_at_end(
        kafka_bootstrap, [settings.consumer_group], [t.name for t in ALL_TOPICS]
    )
    return settings


@pytest.fixture
async def accounts_app(settings: Settings, clock: MovableClock) -> AsyncIterator[FastAPI]:
    """The accounts process, started: migrated database, consumer, relay and timer."""
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def accounts(accounts_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a running accounts service with a database of its own."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(accounts_app),
        base_url="http://accounts",
        headers={SERVICE_TOKEN_HEADER: SERVICE_TOKEN},
    ) as client:
        yield client


def _reader(read: Callable[[str, int], Awaitable[list[Any]]]) -> ReadKeyed:
    async def values(key: str, count: int) -> list[dict[str, Any]]:
        return [json.loads(record.value) for record in await read(key, count)]

    return values


@pytest.fixture
async def account_states(tail: Tail, accounts: httpx.AsyncClient) -> ReadKeyed:
    """States published on `accounts.state.v1` since the test began (the service created it)."""
    return _reader(by_key(await tail(ACCOUNT_STATE)))


@pytest.fixture
async def lifecycle_events(tail: Tail, accounts: httpx.AsyncClient) -> ReadKeyed:
    """Events published on `accounts.lifecycle.v1` since the test began."""
    return _reader(by_key(await tail(ACCOUNT_LIFECYCLE)))


OpenAccount = Callable[..., Awaitable[dict[str, Any]]]
"""`await open_account(owner=..., **fields)`: a new trial account, as POST /accounts answers."""


@pytest.fixture
def open_account(accounts: httpx.AsyncClient) -> OpenAccount:
    """Open a trial account (owner `acme-corp` unless told) and return it."""

    async def open_one(owner: str = "acme-corp", **fields: Any) -> dict[str, Any]:
        body = {
            "owner": owner,
            "friendly_name": "Acme",
            "time_zone": "America/Chicago",
            "contact_email": "billing@acme.example",
        }
        response = await accounts.post("/accounts", json=body | fields)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return open_one


APPROVED_RATES = {"calls-inbound": "0.0070", "sms-outbound": "0.0065"}


@pytest.fixture
def approve_owner(accounts: httpx.AsyncClient) -> Callable[[str], Awaitable[str]]:
    """`await approve_owner(sid)`: an approved invoicing request for that account's owner."""

    async def approve(sid: str) -> str:
        ops = {"caller": "ops-key:tests"}
        created = await accounts.post(
            "/invoicing-requests",
            params=ops,
            json={
                "account_sid": sid,
                "committed_annual_spend": "15000.00",
                "contact_email": "finance@acme.example",
            },
        )
        assert created.status_code == 201, created.text
        request_id = created.json()["request_id"]
        priced = await accounts.post(
            f"/invoicing-requests/{request_id}/pricing",
            json={
                "rates": APPROVED_RATES,
                "discount_percent": "5",
                "net_terms_days": 30,
                "by": "sales@tally",
            },
        )
        assert priced.status_code == 200, priced.text
        decided = await accounts.post(
            f"/invoicing-requests/{request_id}/decision",
            json={"approved": True, "credit_limit": "5000.00", "by": "credit@tally"},
        )
        assert decided.status_code == 200, decided.text
        return str(request_id)

    return approve
