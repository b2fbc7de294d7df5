"""Month close: 100,000 accounts with a month of usage, invoiced by one billing run.

The month is loaded straight into the invoicing database with COPY (rating it through the
pipeline would take minutes and measure rating again): each account's state (a mix of zones
and of trial, pay-as-you-go and invoiced accounts with negotiated terms), its balance row, its
rated charges in several categories and the running quantities rating keeps beside them. Then
one `POST /ops/billing-runs` closes the month; the figure is accounts invoiced per minute of
that request's wall time (every invoice's lines written, its events in the outbox; PDFs are
rendered on first request, not here). The run is checked: one invoice per account, and the
month's usage lines add up to the charges' quantities.

`python -m bench.month_close` runs this alone against an invoicing service it starts itself
(Kafka and PostgreSQL from `KAFKA_BOOTSTRAP` / `DATABASE_URL`, or the development ones).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from tally_contracts.accounts import (
    AccountState,
    AccountStatus,
    Address,
    BillingMode,
    BillingPreferences,
    InvoicingTerms,
)
from tally_contracts.periods import EARLIEST, ZoneSpan, period_key
from tally_runtime.database import with_database
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_runtime.settings import PLACEHOLDER_SECRET

from bench.offsets import prepare
from bench.processes import Services, database_name, drop_databases, recreate_databases
from bench.settings import ROOT, Target

ACCOUNTS = 100_000
CHARGES_PER_CATEGORY = 4
ZONES = (
    "America/Chicago",
    "America/New_York",
    "Europe/Paris",
    "Asia/Tokyo",
    "Pacific/Apia",
    "Pacific/Honolulu",
    "UTC",
)
MODES = (BillingMode.PAY_AS_YOU_GO,) * 3 + (BillingMode.TRIAL, BillingMode.INVOICED)
# (category, flat unit price used for the loaded charges, quantity per charge)
CATEGORIES = (
    ("calls-inbound", Decimal("0.0085"), Decimal("12.5")),
    ("calls-outbound", Decimal("0.0140"), Decimal("30")),
    ("sms-inbound", Decimal("0.0079"), Decimal("3")),
    ("sms-outbound", Decimal("0.0079"), Decimal("7")),
    ("phone-numbers", Decimal("0.0400"), Decimal("2")),
)
ADDRESS = Address(line1="1 Bench Way", city="Springfield", postal_code="12345", country="US")


@dataclass
class MonthCloseResult:
    accounts: int = 0
    charges: int = 0
    month: str = ""
    load_s: float | None = None
    run_s: float | None = None
    billing_run: dict[str, Any] = field(default_factory=dict)
    invoices: int = 0
    lines: int = 0
    month_close_accounts_per_min: float | None = None
    reason: str | None = None


def bench_month(now: datetime) -> str:
    """The month before the previous one (UTC): concluded everywhere, whatever the grace."""
    first = now.date().replace(day=1)
    month_before = (first - timedelta(days=1)).replace(day=1) - timedelta(days=1)
    return f"{month_before:%Y-%m}"


def account_state(n: int, sid: str) -> AccountState:
    zone, mode = ZONES[n % len(ZONES)], MODES[n % len(MODES)]
    invoiced = mode is BillingMode.INVOICED
    return AccountState(
        event_id=f"account:{sid}:v1",
        occurred_at=datetime.now(UTC),
        account_sid=sid,
        version=1,
        owner=f"bench-owner-{n % 1000}",
        friendly_name=f"bench {n}",
        time_zone=zone,
        time_zones=[ZoneSpan(time_zone=zone, effective_from=EARLIEST)],
        status=AccountStatus.ACTIVE,
        billing_mode=mode,
        terms=InvoicingTerms(
            request_id=f"IR{n}",
            rates={"sms-outbound": Decimal("0.0050")} if n % 2 else {},
            discount_percent=Decimal(5),
            net_terms_days=30,
            credit_limit=Decimal(10_000),
        )
        if invoiced
        else None,
        billing=BillingPreferences(
            billing_address=ADDRESS if invoiced else None,
            po_number=f"PO-{n}" if invoiced else None,
            invoice_recipients=[f"ap{n}@example.com"] if invoiced else [],
        ),
    )


def charge_rows(
    accounts: list[tuple[int, str]], month: str, rated_at: datetime
) -> Iterator[tuple[object, ...]]:
    """Several categories per account (3 to 5), a few charges each, on day 10 of the month."""
    day = date.fromisoformat(f"{month}-10")
    for n, sid in accounts:
        zone = ZONES[n % len(ZONES)]
        period = period_key(month, zone)
        at = datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(zone)).astimezone(UTC)
        prepaid = MODES[n % len(MODES)] is not BillingMode.INVOICED
        for category, unit_price, quantity in CATEGORIES[: 3 + n % 3]:
            for k in range(CHARGES_PER_CATEGORY):
                yield (
                    f"CH{n:08d}{category}{k}", sid, f"bench-{n}-{category}-{k}", category,
                    quantity, unit_price, quantity * unit_price, "USD", at, rated_at, period, day,
                    False, prepaid,
                )  # fmt: skip


def quantity_rows(accounts: list[tuple[int, str]], month: str) -> Iterator[tuple[object, ...]]:
    for n, sid in accounts:
        period = period_key(month, ZONES[n % len(ZONES)])
        for category, unit_price, quantity in CATEGORIES[: 3 + n % 3]:
            total = quantity * CHARGES_PER_CATEGORY
            yield (sid, period, category, total, total * unit_price)


async def load(database_url: str, accounts: list[tuple[int, str]], month: str) -> float:
    """COPY the accounts' states, balances, charges and running quantities; -> seconds."""
    began = time.monotonic()
    now = datetime.now(UTC)
    conn = await asyncpg.connect(database_url, timeout=30)
    try:
        await conn.copy_records_to_table(
            "account_profiles",
            records=((sid, 1, account_state(n, sid).model_dump_json(), now) for n, sid in accounts),
            columns=["account_sid", "version", "state", "updated_at"],
        )
        await conn.copy_records_to_table(
            "balances",
            records=((sid, Decimal(0), "USD", now) for _, sid in accounts),
            columns=["account_sid", "balance", "currency", "updated_at"],
        )
        await conn.copy_records_to_table(
            "charges",
            records=charge_rows(accounts, month, now),
            columns=[
                "charge_id", "account_sid", "usage_event_id", "category", "quantity",
                "unit_price", "amount", "currency", "usage_occurred_at", "charged_at", "period",
                "local_date", "late", "prepaid",
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "period_quantities",
            records=quantity_rows(accounts, month),
            columns=["account_sid", "period", "category", "quantity", "amount"],
        )
        for table in ("account_profiles", "balances", "charges", "period_quantities"):
            await conn.execute(f"ANALYZE {table}")
    finally:
        await conn.close()
    return round(time.monotonic() - began, 1)


async def check(database_url: str, month: str, sids: list[str], result: MonthCloseResult) -> None:
    """One invoice per loaded account; its usage lines carry exactly the charges' quantities.

    Only the loaded accounts count: on a shared broker the service may see others too.
    """
    conn = await asyncpg.connect(database_url, timeout=30)
    try:
        result.invoices = await conn.fetchval(
            "SELECT count(*) FROM invoices WHERE month = $1 AND account_sid = ANY($2::text[])",
            month,
            sids,
        )
        result.lines = await conn.fetchval(
            "SELECT count(*) FROM invoice_lines l JOIN invoices i USING (invoice_id)"
            " WHERE i.account_sid = ANY($1::text[])",
            sids,
        )
        billed = await conn.fetchval(
            "SELECT sum(l.quantity) FROM invoice_lines l JOIN invoices i USING (invoice_id)"
            " WHERE l.kind = 'usage' AND i.account_sid = ANY($1::text[])",
            sids,
        )
        charged = await conn.fetchval(
            "SELECT sum(quantity) FROM charges WHERE account_sid = ANY($1::text[])", sids
        )
    finally:
        await conn.close()
    if result.invoices != result.accounts:
        result.reason = f"{result.invoices:,} accounts invoiced of {result.accounts:,}"
    elif billed != charged:
        result.reason = f"usage lines carry {billed} units, the charges {charged}"


async def measure(
    invoicing_url: str, database_url: str, *, accounts: int = ACCOUNTS, service_token: str
) -> MonthCloseResult:
    """Load `accounts` accounts' month, run billing once, check it; -> the figure."""
    month = bench_month(datetime.now(UTC))
    result = MonthCloseResult(accounts=accounts, month=month)
    chosen = [(n, "AC" + uuid.uuid4().hex) for n in range(accounts)]
    result.load_s = await load(database_url, chosen, month)
    result.charges = sum(CHARGES_PER_CATEGORY * (3 + n % 3) for n, _ in chosen)
    headers = {SERVICE_TOKEN_HEADER: service_token}
    async with httpx.AsyncClient(base_url=invoicing_url, headers=headers, timeout=900) as http:
        began = time.perf_counter()
        response = await http.post("/ops/billing-runs", json={"month": month})
        elapsed = time.perf_counter() - began
    if response.status_code != 200:
        result.reason = f"billing run answered {response.status_code}: {response.text[:300]}"
        return result
    result.billing_run = response.json()
    result.run_s = round(elapsed, 2)
    await check(database_url, month, [sid for _, sid in chosen], result)
    # The loaded accounts' invoices: on a shared broker the run may also bill a few others.
    result.month_close_accounts_per_min = round(result.invoices / elapsed * 60, 1)
    return result


def _start_invoicing(services: Services) -> None:
    """Start the invoicing service alone (no scheduler) and wait until it answers /health."""
    services.log_dir.mkdir(parents=True, exist_ok=True)
    env = services.environment("invoicing") | {"TALLY_INVOICING_SCHEDULER_ENABLED": "false"}
    with (services.log_dir / "invoicing.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tally_invoicing"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    services.processes["invoicing"] = process
    deadline = time.monotonic() + 90
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{services.url('invoicing')}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"invoicing did not start; {services.tail('invoicing')}")


@contextlib.asynccontextmanager
async def invoicing_service(target: Target, log_dir: Path) -> AsyncIterator[tuple[str, str]]:
    """An invoicing service of its own on a fresh database: -> (its URL, its database URL)."""
    services = Services(target, uuid.uuid4().hex[:8], log_dir)
    database = database_name("invoicing")
    await recreate_databases(target, [database])
    await prepare(target.kafka_bootstrap, [services.group("invoicing")])
    try:
        await asyncio.to_thread(_start_invoicing, services)
        yield services.url("invoicing"), with_database(target.postgres_url, database)
    finally:
        services.stop_all()
        await drop_databases(target, [database])


async def alone(accounts: int) -> MonthCloseResult:
    target = Target.from_environment()
    async with invoicing_service(target, ROOT / ".run" / "bench" / "month-close") as (url, db):
        token = os.environ.get("TALLY_SERVICE_TOKEN", PLACEHOLDER_SECRET)
        return await measure(url, db, accounts=accounts, service_token=token)


def cli() -> int:
    parser = argparse.ArgumentParser(description="time the month close of many accounts")
    parser.add_argument("--accounts", type=int, default=ACCOUNTS)
    args = parser.parse_args()
    result = asyncio.run(alone(args.accounts))
    print(json.dumps(vars(result), indent=2, default=str))
    return 0 if result.reason is None else 1


if __name__ == "__main__":
    sys.exit(cli())
