"""The internal API of what usage reads back: snapshots, the number usage report, parked records.

Included in `api.router` (same service token). The gateway and invoicing compose the public
faces from these answers.
"""

import json
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from tally_contracts.decimals import plain_decimal
from tally_runtime.clock import Clock
from tally_runtime.http import AccountSidPath, DatabasePool
from tally_runtime.problems import ProblemError

from tally_usage import reading
from tally_usage.number_report import NumberUsageReport, report_csv

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"

router = APIRouter()


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


RequestClock = Annotated[Clock, Depends(_clock)]
Month = Annotated[
    str | None,
    Query(pattern=MONTH_PATTERN, description="`YYYY-MM`, local; default the current local month"),
]


def _not_known(error: reading.AccountNotKnown) -> ProblemError:
    return ProblemError(
        404,
        "Account not found",
        detail=f"usage has no state for {error.account_sid} yet: it follows accounts.state.v1,"
        " so an account opened a moment ago is known within seconds",
    )


class SnapshotsRun(BaseModel):
    """The instant to take snapshots for."""

    model_config = ConfigDict(extra="forbid")

    as_of: AwareDatetime = Field(description="an instant with its offset")


class SnapshotsTaken(BaseModel):
    snapshots: int = Field(
        description="snapshots taken by this call; those already taken (by an earlier run, the"
        " nightly job or another replica at the same time) are not counted"
    )


@router.post("/ops/usage-snapshots")
async def run_snapshots(
    body: SnapshotsRun, pool: DatabasePool, clock: RequestClock
) -> SnapshotsTaken:
    """For every known account, the snapshot through the day before `as_of`'s local date."""
    taken = await reading.take_snapshots(pool, as_of=body.as_of, taken_at=clock())
    return SnapshotsTaken(snapshots=taken)


class AwaitingAccounts(BaseModel):
    records: int = Field(description="usage records parked until their account's state arrives")
    accounts: dict[str, int] = Field(description="parked records per account SID")


@router.get("/ops/awaiting-accounts")
async def awaiting_accounts(pool: DatabasePool) -> AwaitingAccounts:
    """Records parked for accounts usage has no state for yet, per account."""
    records, per_account = await reading.awaiting_accounts(pool)
    return AwaitingAccounts(records=records, accounts=per_account)


class Period(BaseModel):
    start: datetime = Field(description="the UTC instant the local month begins")
    end: datetime = Field(description="the UTC instant it ends (exclusive)")


class SnapshotTaken(BaseModel):
    through: date = Field(description="the local date the snapshot covers up to, inclusive")
    taken_at: datetime


class UsageLine(BaseModel):
    category: str
    unit: str = Field(description="minutes, messages or number-days")
    quantity: str = Field(description="a decimal string")


class MonthUsage(BaseModel):
    """A billing month's usage as the billing page shows it: from its latest nightly snapshot."""

    month: str
    time_zone: str
    period: Period
    snapshot: SnapshotTaken | None = Field(description="null until the month's first snapshot")
    usage: list[UsageLine] = Field(
        description="every category, from the month's start to the end of `snapshot.through`;"
        " zero for every category while there is no snapshot"
    )


@router.get("/accounts/{sid}/snapshots")
async def month_snapshot(
    sid: AccountSidPath, pool: DatabasePool, clock: RequestClock, month: Month = None
) -> MonthUsage:
    """The latest snapshot of the account's local month."""
    try:
        found = await reading.month_snapshot(pool, sid, month, now=clock())
    except reading.AccountNotKnown as error:
        raise _not_known(error) from None
    return MonthUsage(
        month=found.month.month,
        time_zone=found.month.time_zone,
        period=Period(start=found.month.start, end=found.month.end),
        snapshot=SnapshotTaken(through=found.through, taken_at=found.taken_at)
        if found.through is not None and found.taken_at is not None
        else None,
        usage=[
            UsageLine(category=line.category, unit=line.unit, quantity=plain_decimal(line.quantity))
            for line in found.lines
        ],
    )


class DayUsage(BaseModel):
    local_date: date = Field(description="a local date of the account's zone")
    category: str
    quantity: str = Field(description="a decimal string")


class MonthDailyUsage(BaseModel):
    """A billing month's usage per local day, through its latest snapshot (the page's chart)."""

    month: str
    time_zone: str
    through: date | None = Field(description="the latest snapshot's day; null before the first")
    days: list[DayUsage] = Field(description="days and categories with usage, oldest first")


@router.get("/accounts/{sid}/daily-usage")
async def daily_usage(
    sid: AccountSidPath, pool: DatabasePool, clock: RequestClock, month: Month = None
) -> MonthDailyUsage:
    """The account's usage per local day of `month`, as far as the month's latest snapshot."""
    try:
        found = await reading.daily_usage(pool, sid, month, now=clock())
    except reading.AccountNotKnown as error:
        raise _not_known(error) from None
    return MonthDailyUsage(
        month=found.month.month,
        time_zone=found.month.time_zone,
        through=found.through,
        days=[
            DayUsage(local_date=day, category=category, quantity=plain_decimal(quantity))
            for day, category, quantity in found.days
        ],
    )


class NumberUsageRow(BaseModel):
    phone_number: str
    number_type: str | None = Field(description="local, mobile, toll-free or promo; null if unsaid")
    promo: bool
    first_used: date = Field(description="local date in the account's zone")
    last_used: date = Field(description="local date in the account's zone")
    days_used: int
    calls: int
    minutes: str = Field(description="a decimal string")
    in_use: bool


class NumberUsageReportBody(BaseModel):
    """The JSON form of the report (documented; built without this model, for speed)."""

    month: str
    time_zone: str
    generated_at: datetime
    numbers: list[NumberUsageRow]


@router.get(
    "/accounts/{sid}/number-usage-report",
    response_model=NumberUsageReportBody,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    description="`numbers[]` carry the fields of CONTRACTS.md §3, `first_used` and `last_used`"
    " as local dates of the account's zone; `format=csv` answers the same columns as CSV.",
)
async def number_usage_report(
    sid: AccountSidPath,
    pool: DatabasePool,
    clock: RequestClock,
    month: Month = None,
    format: Literal["json", "csv"] = "json",  # the query parameter's public name
) -> Response:
    """Every phone number the account's events named in the local month, built now."""
    try:
        report = await reading.number_usage_report(pool, sid, month, now=clock())
    except reading.AccountNotKnown as error:
        raise _not_known(error) from None
    if format == "csv":
        return Response(report_csv(report), media_type="text/csv; charset=utf-8")
    return Response(_report_json(report), media_type="application/json")


def _report_json(report: NumberUsageReport) -> bytes:
    # Thousands of rows: serialised in one pass, without a model per row.
    document: dict[str, Any] = {
        "month": report.month,
        "time_zone": report.time_zone,
        "generated_at": report.generated_at.isoformat().replace("+00:00", "Z"),
        "numbers": [number.as_row() for number in report.numbers],
    }
    return json.dumps(document, separators=(",", ":")).encode()
