"""The number usage report of one big account: 10,000 numbers, 1,000,000 events in the month.

The account's month is loaded straight into the usage database with COPY (building it through
the pipeline would take minutes and measure the pipeline again): its stored events, and the
per-number daily rows the pipeline keeps beside them, which the report reads. Every number is
held every day of the account's previous local month (one `phone-numbers` event a day) and
the rest of the million are calls naming it. Then the report is asked for several times; the
figure is the median wall time of a whole request, answer read.

`python -m bench.number_report` runs this alone against a usage service it starts itself
(Kafka and PostgreSQL from `KAFKA_BOOTSTRAP` / `DATABASE_URL`, or the development ones).
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import contextlib
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from tally_runtime.database import with_database
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_runtime.settings import PLACEHOLDER_SECRET

from bench.offsets import prepare
from bench.processes import Services, database_name, drop_databases, recreate_databases
from bench.settings import ROOT, Target

NUMBERS = 10_000
EVENTS = 1_000_000
REQUESTS = 7
"""Measured requests (after one warm-up); the figure is their median."""
TIME_ZONE = "America/Chicago"
MINUTES_PER_CALL = Decimal("1.5")
NUMBER_TYPES = ("local", "mobile", "toll-free", "promo")


@dataclass
class NumberReportResult:
    numbers: int = NUMBERS
    events: int = 0
    daily_rows: int = 0
    month: str = ""
    load_s: float | None = None
    usage_ms: list[float] = field(default_factory=list)
    """Each measured request straight to the usage service's internal API."""
    gateway_ms: list[float] = field(default_factory=list)
    """Each measured request through the gateway (HTTP Basic), when one was given."""
    csv_ms: float | None = None
    report_ms: float | None = None
    """The figure: the gateway's median if measured through it, else the usage service's."""
    reason: str | None = None


def previous_month(now: datetime, time_zone: str = TIME_ZONE) -> tuple[str, list[date]]:
    """The account's previous local month: `YYYY-MM` and its days."""
    first = now.astimezone(ZoneInfo(time_zone)).date().replace(day=1)
    last = first - timedelta(days=1)
    days = [
        last.replace(day=d) for d in range(1, calendar.monthrange(last.year, last.month)[1] + 1)
    ]
    return f"{last:%Y-%m}", days


def phone_number(n: int) -> str:
    return f"+1555{n:07d}"


def _calls_of(row: int, rows: int, calls: int) -> int:
    # Spread `calls` over `rows` number-days as evenly as whole numbers allow.
    return calls // rows + (1 if row < calls % rows else 0)


def daily_rows(sid: str, period: str, days: list[date]) -> Iterator[tuple[object, ...]]:
    """(account, period, number, day, type, calls, minutes, held) for every number and day."""
    rows = NUMBERS * len(days)
    calls = EVENTS - rows  # one phone-numbers event per number-day, calls for the rest
    row = 0
    for n in range(NUMBERS):
        number, number_type = phone_number(n), NUMBER_TYPES[n % len(NUMBER_TYPES)]
        for day in days:
            count = _calls_of(row, rows, calls)
            yield (sid, period, number, day, number_type, count, count * MINUTES_PER_CALL, True)
            row += 1


def event_rows(
    sid: str, period: str, days: list[date], recorded_at: datetime
) -> Iterator[tuple[object, ...]]:
    """The stored events behind `daily_rows`: a `phone-numbers` event and the calls per row."""
    zone = ZoneInfo(TIME_ZONE)
    payload_hash = hashlib.sha256(b"bench").hexdigest()
    sequence = 0
    for sid_, period_, number, day, number_type, count, _, _ in daily_rows(sid, period, days):
        assert isinstance(day, date) and isinstance(count, int)
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=zone)
        for category, quantity in [("phone-numbers", Decimal(1))] + [
            ("calls-outbound", MINUTES_PER_CALL)
        ] * count:
            yield (
                sid_, f"n-{sequence}", category, quantity, noon, number, number_type,
                payload_hash, recorded_at, 0, sequence, day, period_,
            )  # fmt: skip
            sequence += 1


async def load(database_url: str, sid: str, now: datetime) -> NumberReportResult:
    """Make `sid` a known account in America/Chicago and load its previous month; -> sizes."""
    month, days = previous_month(now)
    period = f"{month}@{TIME_ZONE}"
    result = NumberReportResult(month=month)
    began = time.monotonic()
    conn = await asyncpg.connect(database_url, timeout=30)
    try:
        await conn.execute(
            "INSERT INTO known_accounts (account_sid, version, billing_mode, status, time_zone,"
            " state_occurred_at) VALUES ($1, 1, 'pay_as_you_go', 'active', $2, now())"
            " ON CONFLICT DO NOTHING",
            sid,
            TIME_ZONE,
        )
        await conn.execute(
            "INSERT INTO account_time_zones (account_sid, effective_from, time_zone)"
            " VALUES ($1, '-infinity', $2) ON CONFLICT DO NOTHING",
            sid,
            TIME_ZONE,
        )
        result.daily_rows = len(days) * NUMBERS
        await conn.copy_records_to_table(
            "number_usage_daily",
            records=daily_rows(sid, period, days),
            columns=[
                "account_sid", "period", "phone_number", "local_date", "number_type", "calls",
                "minutes", "held",
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "usage_events",
            records=event_rows(sid, period, days, now),
            columns=[
                "account_sid", "event_id", "category", "quantity", "occurred_at", "phone_number",
                "number_type", "payload_hash", "recorded_at", "source_partition",
                "source_offset", "local_date", "period",
            ],
        )  # fmt: skip
        result.events = await conn.fetchval(
            "SELECT count(*) FROM usage_events WHERE account_sid = $1", sid
        )
        await conn.execute("ANALYZE number_usage_daily")
        await conn.execute("ANALYZE usage_events")
    finally:
        await conn.close()
    result.load_s = round(time.monotonic() - began, 1)
    return result


async def _timed_gets(
    client: httpx.AsyncClient, url: str, params: dict[str, str], requests: int
) -> list[float]:
    """Wall time in ms of `requests` GETs, after one warm-up; each must list every number."""
    timings = []
    for attempt in range(requests + 1):
        began = time.perf_counter()
        response = await client.get(url, params=params)
        body = response.content
        elapsed = (time.perf_counter() - began) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}: {body[:300]!r}")
        if params.get("format") != "csv" and len(json.loads(body)["numbers"]) != NUMBERS:
            raise RuntimeError(f"GET {url} did not list the {NUMBERS:,} numbers")
        if attempt:
            timings.append(round(elapsed, 1))
    return timings


async def measure(
    usage_url: str,
    usage_database_url: str,
    *,
    service_token: str = PLACEHOLDER_SECRET,
    gateway: tuple[str, str, str] | None = None,
    requests: int = REQUESTS,
) -> NumberReportResult:
    """Load the big account, then time its report; `gateway` = (url, sid, auth token).

    Without a gateway the account is a new SID known to usage only.
    """
    sid = gateway[1] if gateway else "AC" + uuid.uuid4().hex
    result = await load(usage_database_url, sid, datetime.now(UTC))
    params = {"month": result.month}
    headers = {SERVICE_TOKEN_HEADER: service_token}
    async with httpx.AsyncClient(base_url=usage_url, headers=headers, timeout=60) as usage:
        path = f"/accounts/{sid}/number-usage-report"
        result.usage_ms = await _timed_gets(usage, path, params, requests)
        csv_ms = await _timed_gets(usage, path, params | {"format": "csv"}, 3)
        result.csv_ms = statistics.median(csv_ms)
    result.report_ms = statistics.median(result.usage_ms)
    if gateway:
        url, sid, token = gateway
        async with httpx.AsyncClient(base_url=url, auth=(sid, token), timeout=60) as public:
            path = f"/v1/Accounts/{sid}/NumberUsageReport"
            result.gateway_ms = await _timed_gets(public, path, params, requests)
        result.report_ms = statistics.median(result.gateway_ms)
    return result


def _start_usage(services: Services) -> None:
    """Start the usage service alone and wait until it answers /health."""
    services.log_dir.mkdir(parents=True, exist_ok=True)
    with (services.log_dir / "usage.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tally_usage"],
            env=services.environment("usage"),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    services.processes["usage"] = process
    deadline = time.monotonic() + 90
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{services.url('usage')}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"usage did not start; {services.tail('usage')}")


@contextlib.asynccontextmanager
async def usage_service(target: Target, log_dir: Path) -> AsyncIterator[tuple[str, str]]:
    """A usage service of its own on a fresh database: -> (its URL, its database URL)."""
    services = Services(target, uuid.uuid4().hex[:8], log_dir)
    database = database_name("usage")
    await recreate_databases(target, [database])
    await prepare(target.kafka_bootstrap, [services.group("usage")])  # skip the topics' backlog
    try:
        await asyncio.to_thread(_start_usage, services)
        yield services.url("usage"), with_database(target.postgres_url, database)
    finally:
        services.stop_all()
        await drop_databases(target, [database])


async def alone(requests: int) -> NumberReportResult:
    target = Target.from_environment()
    async with usage_service(target, ROOT / ".run" / "bench" / "number-report") as (url, db):
        token = os.environ.get("TALLY_SERVICE_TOKEN", PLACEHOLDER_SECRET)
        return await measure(url, db, service_token=token, requests=requests)


def cli() -> int:
    parser = argparse.ArgumentParser(description="time the number usage report of a big account")
    parser.add_argument("--requests", type=int, default=REQUESTS)
    args = parser.parse_args()
    result = asyncio.run(alone(args.requests))
    print(json.dumps({"number_report_ms": result.report_ms, **vars(result)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
