"""What the month-close tests share: an invoicing app on a clock the test moves, and its inputs."""

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from tally_contracts.accounts import (
    AccountState,
    AccountStatus,
    Address,
    BillingMode,
    BillingPreferences,
    InvoicingTerms,
)
from tally_contracts.periods import EARLIEST, ZoneSpan, date_instant
from tally_contracts.topics import ACCOUNT_STATE, USAGE_RECORDED
from tally_contracts.usage import UsageCategory, UsageRecorded
from tally_invoicing.app import create_app
from tally_invoicing.config import InvoicingSettings
from tally_runtime.http import SERVICE_TOKEN_HEADER

ADDRESS = Address(line1="1 Main St", city="Springfield", postal_code="12345", country="US")


@dataclass
class MovableClock:
    """The service's clock: the test says what time it is."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 2, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


async def started(settings: InvoicingSettings, clock: MovableClock) -> AsyncIterator[FastAPI]:
    """The invoicing process on the test's clock, started and stopped around the test."""
    service = create_app(settings, clock=clock)
    async with service.router.lifespan_context(service):
        yield service


async def client(app: FastAPI, token: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the service's internal API."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://invoicing", headers={SERVICE_TOKEN_HEADER: token}
    ) as http:
        yield http


def state(
    sid: str,
    version: int,
    mode: BillingMode,
    time_zone: str = "America/Chicago",
    *,
    discount: str = "0",
    net_terms_days: int = 15,
    rates: dict[str, Decimal] | None = None,
) -> AccountState:
    """An account's state as the accounts service publishes it; invoiced ones with terms."""
    invoiced = mode is BillingMode.INVOICED
    return AccountState(
        event_id=f"account:{sid}:v{version}",
        occurred_at=datetime.now(UTC),
        account_sid=sid,
        version=version,
        owner="month-close-tests",
        friendly_name="mc",
        time_zone=time_zone,
        time_zones=[ZoneSpan(time_zone=time_zone, effective_from=EARLIEST)],
        status=AccountStatus.ACTIVE,
        billing_mode=mode,
        terms=InvoicingTerms(
            request_id="IR-test",
            rates=rates or {},
            discount_percent=Decimal(discount),
            net_terms_days=net_terms_days,
            credit_limit=Decimal(100_000),
        )
        if invoiced
        else None,
        billing=BillingPreferences(
            billing_address=ADDRESS if invoiced else None,
            po_number="PO-42" if invoiced else None,
            invoice_recipients=["ap@example.com"] if invoiced else [],
        ),
    )


def usage(
    sid: str, category: str, quantity: str, at: datetime, time_zone: str = "America/Chicago"
) -> UsageRecorded:
    """Recorded usage as the usage service publishes it, dated in the account's zone."""
    dated = date_instant([ZoneSpan(time_zone=time_zone, effective_from=EARLIEST)], at)
    event_id = f"mc-{uuid.uuid4().hex}"
    return UsageRecorded(
        event_id=f"usage:{sid}:{event_id}",
        occurred_at=at,
        account_sid=sid,
        usage_event_id=event_id,
        category=UsageCategory(category),
        quantity=Decimal(quantity),
        usage_occurred_at=at,
        local_date=dated.local_date,
        period=dated.period,
    )


running = contextlib.asynccontextmanager(started)
"""`started` as an `async with`: for tests that run several replicas."""
connected = contextlib.asynccontextmanager(client)
"""`client` as an `async with`."""

Publish = Callable[[str, Any], Awaitable[Any]]
WaitConsumed = Callable[[Any], Awaitable[None]]


async def feed(
    publish: Publish, wait_consumed: WaitConsumed, *events: AccountState | UsageRecorded
) -> None:
    """Publish account states and usage in order, and wait until invoicing has applied them."""
    sent = None
    for event in events:
        topic = ACCOUNT_STATE if isinstance(event, AccountState) else USAGE_RECORDED
        sent = await publish(topic, event)
        await wait_consumed(sent)


async def billing_run(http: httpx.AsyncClient, month: str) -> dict[str, Any]:
    """POST /ops/billing-runs for `month`."""
    response = await http.post("/ops/billing-runs", json={"month": month})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def invoices_of(http: httpx.AsyncClient, sid: str, month: str | None = None) -> list[Any]:
    """The account's invoice summaries."""
    params = {"month": month} if month else {}
    response = await http.get(f"/accounts/{sid}/invoices", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["invoices"])


async def invoice(http: httpx.AsyncClient, sid: str, invoice_id: str) -> dict[str, Any]:
    """One invoice, in full."""
    response = await http.get(f"/accounts/{sid}/invoices/{invoice_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())
