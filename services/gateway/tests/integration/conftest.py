"""The gateway and the accounts service, each built by its own create_app, on real infrastructure.

Accounts is served by uvicorn on a free loopback port, so the gateway reaches it over real
HTTP exactly as in production (and the trace crosses the wire); the gateway is called in
process through httpx's ASGI transport.
"""

import asyncio
import base64
import contextlib
import json
import secrets
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from starlette.types import ASGIApp
from tally_accounts.app import create_app as create_accounts_app
from tally_accounts.config import Settings as AccountsSettings
from tally_contracts.accounts import (
    AccountState,
    Address,
    BillingMode,
    BillingPreferences,
    InvoicingTerms,
)
from tally_contracts.topics import ACCOUNT_STATE, ALL_TOPICS, USAGE_EVENTS
from tally_gateway.app import create_app as create_gateway_app
from tally_gateway.config import Settings as GatewaySettings
from tally_gateway.domain import hash_token
from tally_gateway.repository import save_auth_token_hash
from tally_notifications.app import create_app as create_notifications_app
from tally_notifications.config import NotificationsSettings
from tally_runtime.account_states import ACCOUNT_STATE_MIGRATIONS
from tally_runtime.clock import Clock, utc_now
from tally_runtime.database import apply_migrations
from tally_runtime.kafka import ensure_topics
from tally_testkit import (
    NewDatabase,
    Publish,
    ReadKeyed,
    Tail,
    account_state,
    by_key,
    commit_groups_at_end,
    eventually,
    new_sid,
)
from tally_usage.app import MIGRATIONS as USAGE_MIGRATIONS
from tally_usage.app import create_app as create_usage_app
from tally_usage.config import UsageSettings

OPS_KEY = "integration-ops-key"
SERVICE_TOKEN = "integration-service-token"


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where both services write their finished spans (`<service>.jsonl`)."""
    return tmp_path_factory.mktemp("traces")


@pytest.fixture(scope="module")
async def accounts_url(
    kafka_bootstrap: str, new_database: NewDatabase, trace_dir: Path, invoicing_url: str
) -> AsyncIterator[str]:
    """Base URL of a running accounts service."""
    settings = AccountsSettings(
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=await new_database("accounts"),
        consumer_group=f"test-accounts-{uuid.uuid4().hex[:8]}",
        trace_dir=trace_dir,
        service_token=SecretStr(SERVICE_TOKEN),
        credit_check_keys=SecretStr("Z2F0ZXdheS10ZXN0cy1jcmVkaXQtY2hlY2sta2V5ISE="),
        invoicing_url=invoicing_url,
    )
    # A fresh group skips the backlog other tests left on the shared topics.
    await commit_groups_at_end(
        kafka_bootstrap, [settings.consumer_group], [t.name for t in ALL_TOPICS]
    )
    async with serving(create_accounts_app(settings)) as url:
        yield url


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
async def gateway_settings(
    kafka_bootstrap: str, new_database: NewDatabase, accounts_url: str, trace_dir: Path
) -> GatewaySettings:
    """Settings of a gateway that talks to the accounts service above."""
    return GatewaySettings(
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=await new_database("gateway"),
        accounts_url=accounts_url,
        ops_key=SecretStr(OPS_KEY),
        token_pepper=SecretStr("integration-pepper"),
        service_token=SecretStr(SERVICE_TOKEN),
        trace_dir=trace_dir,
    )


@contextlib.asynccontextmanager
async def running_gateway(
    settings: GatewaySettings, clock: Clock = utc_now
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a gateway started (database, producer, accounts client) with `settings`."""
    app = create_gateway_app(settings, clock=clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gateway") as client,
    ):
        yield client


@pytest.fixture(scope="module")
def start_gateway() -> Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]:
    """`async with start_gateway(settings[, clock]) as client`: a gateway for tests of its own."""
    return running_gateway


@pytest.fixture(scope="module")
def serve() -> Callable[[ASGIApp], AbstractAsyncContextManager[str]]:
    """`async with serve(app) as url`: an ASGI app served over real HTTP, e.g. a faulty proxy."""
    return serving


@pytest.fixture(scope="module")
async def gateway(gateway_settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a running gateway that talks to the accounts service above."""
    async with running_gateway(gateway_settings) as client:
        yield client


@pytest.fixture
def create_account(gateway: httpx.AsyncClient) -> Callable[[], Awaitable[dict[str, Any]]]:
    """Open an account through the gateway with the ops key; returns the 201 body."""

    async def create() -> dict[str, Any]:
        response = await gateway.post(
            "/v1/Accounts",
            json={
                "owner": "acme-corp",
                "friendly_name": "Acme",
                "time_zone": "America/Chicago",
                "contact_email": "billing@acme.example",
            },
            headers={"Authorization": f"Bearer {OPS_KEY}"},
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    return create


@pytest.fixture
async def usage_events(tail: Tail, gateway: httpx.AsyncClient) -> ReadKeyed:
    """Records published on `usage.events.v1` since the test began, by key."""
    return by_key(await tail(USAGE_EVENTS))


@pytest.fixture
async def account_states(tail: Tail, gateway: httpx.AsyncClient) -> ReadKeyed:
    """Records published on `accounts.state.v1` since the test began, by key."""
    return by_key(await tail(ACCOUNT_STATE))


@pytest.fixture
def spans(trace_dir: Path) -> Callable[[str], list[dict[str, Any]]]:
    """`spans("accounts")`: the spans a service has written so far."""

    def written_by(service: str) -> list[dict[str, Any]]:
        path = trace_dir / f"{service}.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line) for line in lines]

    return written_by


# --- The usage service behind the gateway: receipts, reports and snapshots read from it. ---


@pytest.fixture(scope="module")
async def usage_service_settings(
    kafka_bootstrap: str, new_database: NewDatabase, trace_dir: Path
) -> UsageSettings:
    """A usage service's settings: its own database (migrated), its group at the topics' end."""
    settings = UsageSettings(
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=await new_database("usage"),
        consumer_group=f"test-usage-{uuid.uuid4().hex[:8]}",
        trace_dir=trace_dir,
        service_token=SecretStr(SERVICE_TOKEN),
    )
    # Migrated up front (known_accounts included), so tests can write rows before it starts.
    await apply_migrations(
        settings.database_url, USAGE_MIGRATIONS, projections=[ACCOUNT_STATE_MIGRATIONS]
    )
    await ensure_topics(settings, ALL_TOPICS)
    topics = [topic.name for topic in ALL_TOPICS]
    await commit_groups_at_end(kafka_bootstrap, [settings.consumer_group], topics)
    return settings


@pytest.fixture(scope="module")
async def usage_url(usage_service_settings: UsageSettings) -> AsyncIterator[str]:
    """Base URL of a running usage service, consuming what the gateway publishes."""
    async with serving(create_usage_app(usage_service_settings)) as url:
        yield url


@pytest.fixture(scope="module")
async def gateway_with_usage(
    gateway_settings: GatewaySettings, usage_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a gateway that talks to the accounts and usage services above."""
    async with running_gateway(
        gateway_settings.model_copy(update={"usage_url": usage_url})
    ) as client:
        yield client


UsageSql = Callable[..., Awaitable[None]]


@pytest.fixture
def usage_sql(usage_service_settings: UsageSettings) -> UsageSql:
    """`await usage_sql(statement, *args)`: run SQL in the usage service's database."""

    async def execute(statement: str, *args: object) -> None:
        conn = await asyncpg.connect(usage_service_settings.database_url)
        try:
            await conn.execute(statement, *args)
        finally:
            await conn.close()

    return execute


@pytest.fixture
def open_usage_account(
    gateway_settings: GatewaySettings, usage_sql: UsageSql, publish: Publish
) -> Callable[[], Awaitable[dict[str, Any]]]:
    """`await open_usage_account()`: `{sid, auth_token}` of an account in America/Chicago.

    Its credentials go straight into the gateway's store and its state onto
    `accounts.state.v1` as the accounts service publishes it (usage's own copy written too,
    so reads need not wait for it): for tests about usage, whatever account opening does.
    """

    async def open_one() -> dict[str, Any]:
        sid, token = new_sid(), secrets.token_hex(16)
        pepper = gateway_settings.token_pepper.get_secret_value().encode()
        conn = await asyncpg.connect(gateway_settings.database_url)
        try:
            await save_auth_token_hash(conn, sid, hash_token(pepper, token))
        finally:
            await conn.close()
        state = account_state(sid, 1)
        await publish(ACCOUNT_STATE, state)
        await usage_sql(
            "INSERT INTO known_accounts (account_sid, version, billing_mode, status, time_zone,"
            " state_occurred_at) VALUES ($1, 1, 'trial', 'active', $2, now())"
            " ON CONFLICT DO NOTHING",
            sid,
            state.time_zone,
        )
        return {"sid": sid, "auth_token": token}

    return open_one


# --- invoicing, which accounts asks for top-ups and card authorizations (the upgrade) -------


@pytest.fixture(scope="module")
async def invoicing_url(kafka_bootstrap: str, new_database: NewDatabase) -> AsyncIterator[str]:
    """Base URL of a running invoicing service, served like accounts."""
    from tally_invoicing.app import create_app as create_invoicing_app
    from tally_invoicing.config import InvoicingSettings

    settings = InvoicingSettings(
        # Months close when a test asks (a billing run), never behind its back.
        scheduler_enabled=False,
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=await new_database("invoicing"),
        consumer_group=f"test-gateway-invoicing-{uuid.uuid4().hex[:8]}",
        service_token=SecretStr(SERVICE_TOKEN),
    )
    await commit_groups_at_end(
        kafka_bootstrap, [settings.consumer_group], [t.name for t in ALL_TOPICS]
    )
    async with serving(create_invoicing_app(settings)) as url:
        yield url


# --- usage and invoicing behind one gateway: the billing page, invoices and money ops ----------


@pytest.fixture(scope="module")
async def gateway_with_money(
    gateway_settings: GatewaySettings, usage_url: str, invoicing_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a gateway that talks to the accounts, usage and invoicing services above."""
    services = {"usage_url": usage_url, "invoicing_url": invoicing_url}
    async with running_gateway(gateway_settings.model_copy(update=services)) as client:
        yield client


@pytest.fixture
async def invoicing_http(invoicing_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the invoicing service's internal API (service token), to see what it holds."""
    headers = {"X-Tally-Service-Token": SERVICE_TOKEN}
    async with httpx.AsyncClient(base_url=invoicing_url, headers=headers) as client:
        yield client


@pytest.fixture
def open_account_in_state(
    gateway_settings: GatewaySettings, usage_sql: UsageSql, publish: Publish
) -> Callable[[AccountState], Awaitable[dict[str, Any]]]:
    """`await open_account_in_state(state)`: `{sid, auth_token}` of an account in `state`.

    As `open_usage_account`, for any state (an invoiced account with terms, say): credentials
    in the gateway's store, the state on `accounts.state.v1` (invoicing and usage follow it) and
    usage's copy written at once.
    """

    async def open_one(state: AccountState) -> dict[str, Any]:
        token = secrets.token_hex(16)
        pepper = gateway_settings.token_pepper.get_secret_value().encode()
        conn = await asyncpg.connect(gateway_settings.database_url)
        try:
            await save_auth_token_hash(conn, state.account_sid, hash_token(pepper, token))
        finally:
            await conn.close()
        await publish(ACCOUNT_STATE, state)
        await usage_sql(
            "INSERT INTO known_accounts (account_sid, version, billing_mode, status, time_zone,"
            " state_occurred_at) VALUES ($1, $2, $3, 'active', $4, now())"
            " ON CONFLICT DO NOTHING",
            state.account_sid,
            state.version,
            state.billing_mode.value,
            state.time_zone,
        )
        return {"sid": state.account_sid, "auth_token": token}

    return open_one


class BillingMonth:
    """Drives usage through a whole billing month, October 2026 in Chicago, into its invoice.

    Usage goes the whole way: posted to the gateway, recorded by usage, rated by invoicing,
    snapshotted, and closed into an invoice by a billing run, each through its public route.
    """

    MONTH = "2026-10"
    """A concluded month in Chicago: usage is backdated into it (producers may backfill)."""
    AFTER = "2026-11-01T12:00:00-06:00"
    """Midday on 1 November in Chicago: the snapshot then is October's, through the 31st."""
    OPS = {"Authorization": f"Bearer {OPS_KEY}"}

    def __init__(self, gateway: httpx.AsyncClient, invoicing: httpx.AsyncClient) -> None:
        self.gateway = gateway
        self._invoicing = invoicing

    @staticmethod
    def auth(account: dict[str, Any]) -> dict[str, str]:
        """The account's `Authorization: Basic` header."""
        pair = f"{account['sid']}:{account['auth_token']}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    @staticmethod
    def event(event_id: str, category: str, quantity: str, day: int) -> dict[str, Any]:
        """One usage event at noon on `day` October 2026, Chicago time."""
        return {
            "event_id": event_id,
            "category": category,
            "quantity": quantity,
            "occurred_at": f"2026-10-{day:02d}T12:00:00-05:00",
        }

    async def use(self, account: dict[str, Any], events: list[dict[str, Any]]) -> None:
        """Post October usage, wait until usage recorded and invoicing rated it, snapshot it."""
        sid, auth = account["sid"], self.auth(account)
        await self.page(account, self.MONTH)  # both services know the account
        response = await self.gateway.post(
            f"/v1/Accounts/{sid}/Usage", json={"events": events}, headers=auth
        )
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == len(events)

        async def charges() -> httpx.Response:
            return await self._invoicing.get(f"/accounts/{sid}/charges")

        async def receipts() -> httpx.Response:
            ids = {"event_ids": [event["event_id"] for event in events]}
            return await self.gateway.post(
                f"/v1/Accounts/{sid}/Usage/Receipts", json=ids, headers=auth
            )

        await eventually(
            charges, lambda r: r.status_code == 200 and r.json()["count"] == len(events)
        )
        await eventually(
            receipts, lambda r: {x["status"] for x in r.json()["receipts"]} == {"recorded"}
        )
        taken = await self.gateway.post(
            "/v1/Ops/UsageSnapshots", json={"as_of": self.AFTER}, headers=self.OPS
        )
        assert taken.status_code == 200, taken.text

    async def page(self, account: dict[str, Any], month: str) -> Any:
        """The billing page's data for `month`, once invoicing and usage both know the account."""

        async def read() -> httpx.Response:
            return await self.gateway.get(
                f"/v1/Accounts/{account['sid']}/Billing",
                params={"month": month},
                headers=self.auth(account),
            )

        response = await eventually(read, lambda r: r.status_code != 404)
        assert response.status_code == 200, response.text
        return response.json()

    async def close(self) -> None:
        """Run billing for October, as ops."""
        run = await self.gateway.post(
            "/v1/Ops/BillingRuns", json={"month": self.MONTH}, headers=self.OPS
        )
        assert run.status_code == 200, run.text
        assert run.json()["month"] == self.MONTH


@pytest.fixture
def october(
    gateway_with_money: httpx.AsyncClient, invoicing_http: httpx.AsyncClient
) -> BillingMonth:
    """Usage through October 2026 into its invoice, on the gateway with usage and invoicing."""
    return BillingMonth(gateway_with_money, invoicing_http)


@pytest.fixture
def invoiced_state() -> AccountState:
    """An invoiced account's state: outbound SMS agreed at 0.0050, 10 % off, net 30, PO-4471."""
    state = account_state(new_sid(), 1, BillingMode.INVOICED)
    terms = InvoicingTerms(
        request_id="IR-billing-page",
        rates={"sms-outbound": Decimal("0.0050")},
        discount_percent=Decimal(10),
        net_terms_days=30,
        credit_limit=Decimal(50000),
    )
    address = Address(
        line1="1 Main St", city="Chicago", region="IL", postal_code="60601", country="US"
    )
    billing = BillingPreferences(
        billing_address=address, po_number="PO-4471", invoice_recipients=["ap@acme.example"]
    )
    return state.model_copy(update={"terms": terms, "billing": billing})


# --- notifications behind the gateway: decisions and webhook secrets ----------------------------

WEBHOOK_SECRET_KEYS = "RhuNHUtsWaRBrbk56PYuViKf1g-9sHdPlrvcOlPCVyk="  # a Fernet key, tests only


@pytest.fixture(scope="module")
async def notifications_url(
    kafka_bootstrap: str,
    new_database: NewDatabase,
    serve: Callable[[ASGIApp], AbstractAsyncContextManager[str]],
) -> AsyncIterator[str]:
    """Base URL of a running notifications service, reading the topics from their ends."""
    settings = NotificationsSettings(
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=await new_database("notifications"),
        consumer_group=f"test-gateway-notifications-{uuid.uuid4().hex[:8]}",
        service_token=SecretStr(SERVICE_TOKEN),
        webhook_secret_keys=SecretStr(WEBHOOK_SECRET_KEYS),
    )
    await commit_groups_at_end(
        kafka_bootstrap, [settings.consumer_group], [t.name for t in ALL_TOPICS]
    )
    async with serve(create_notifications_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
async def gateway_with_notifications(
    gateway_settings: GatewaySettings,
    notifications_url: str,
    start_gateway: Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]],
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a gateway that talks to the accounts and notifications services."""
    update = {"notifications_url": notifications_url}
    async with start_gateway(gateway_settings.model_copy(update=update)) as client:
        yield client
