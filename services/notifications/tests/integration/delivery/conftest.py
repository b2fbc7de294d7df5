"""Delivery against real things: a migrated database, an in-process SMTP server (aiosmtpd),
a local HTTP receiver for webhooks (uvicorn on a loopback port), and the accounts service the
send-time guard asks (the real one, or a stand-in answering its account read).

Deliveries are written straight into the `deliveries` table, as the decision side writes them.
"""

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from starlette.types import ASGIApp
from tally_accounts.app import create_app as create_accounts_app
from tally_accounts.config import Settings as AccountsSettings
from tally_notifications.app import MIGRATIONS, PROJECTIONS
from tally_runtime.database import apply_migrations, create_pool
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_testkit import NewDatabase

from services.notifications.tests.integration.delivery.support import (
    SERVICE_TOKEN,
    AccountsStandIn,
    Mailbox,
    ManualClock,
    RealAccounts,
    Received,
    Receiver,
    free_port,
)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on a loopback port, keeping what it receives."""
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, lifespan: str = "off") -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a free loopback port; its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        listener.close()


@pytest.fixture(autouse=True)
async def accounts(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AccountsStandIn]:
    """A local HTTP server standing in for the accounts service's internal account read, which
    the worker asks before sending a prepaid-only kind; every delivery test's settings point at
    it (`TALLY_NOTIFICATIONS_ACCOUNTS_URL`)."""
    stand_in = AccountsStandIn(token=SERVICE_TOKEN)
    app = FastAPI()

    @app.get("/accounts/{sid}")
    async def account(sid: str, request: Request) -> Response:
        if request.headers.get(SERVICE_TOKEN_HEADER) != stand_in.token:
            return Response(status_code=401)
        stand_in.asked.append(sid)
        mode = stand_in.modes.get(sid, "pay_as_you_go")
        return JSONResponse({"sid": sid, "billing_mode": mode, "version": 2})

    async with serving(app) as url:
        stand_in.url = url
        monkeypatch.setenv("TALLY_NOTIFICATIONS_ACCOUNTS_URL", url)
        yield stand_in


@pytest.fixture
async def real_accounts(
    kafka_bootstrap: str, new_database: NewDatabase
) -> AsyncIterator[RealAccounts]:
    """The accounts service (its own create_app, database and consumer group) on a loopback
    port, with the service token the notifications tests' settings carry."""
    settings = AccountsSettings(
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=await new_database("accounts"),
        consumer_group=f"test-notifications-accounts-{uuid.uuid4().hex[:8]}",
        service_token=SecretStr(SERVICE_TOKEN),
        credit_check_keys=SecretStr(Fernet.generate_key().decode()),
    )
    app = create_accounts_app(settings)
    async with (
        serving(app, lifespan="on") as url,
        httpx.AsyncClient(base_url=url, headers={SERVICE_TOKEN_HEADER: SERVICE_TOKEN}) as http,
    ):
        yield RealAccounts(url, http)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A local HTTP server standing in for a customer's webhook endpoint."""
    received = Receiver()
    app = FastAPI()

    @app.post("/hooks/tally")
    async def hook(request: Request) -> Response:
        received.requests.append(Received(dict(request.headers), await request.body()))
        status = received.statuses.pop(0) if received.statuses else 200
        return Response(status_code=status)

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        assert not task.done(), "the receiver did not start"
        await asyncio.sleep(0.02)
    received.url = f"http://127.0.0.1:{listener.getsockname()[1]}/hooks/tally"
    try:
        yield received
    finally:
        server.should_exit = True
        await task
        listener.close()


@pytest.fixture
async def database_url(new_database: NewDatabase) -> str:
    """A fresh notifications database, migrated (decisions, deliveries, secrets, buckets)."""
    url = await new_database("notifications")
    await apply_migrations(url, MIGRATIONS, projections=PROJECTIONS)
    return url


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))
