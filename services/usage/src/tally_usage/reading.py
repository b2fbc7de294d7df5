"""Use cases that read usage back: nightly snapshots, the billing month, the number report."""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfoNotFoundError

import asyncpg
from tally_runtime.clock import Clock
from tally_runtime.periodic import Periodic

from tally_usage import reports_repository, repository
from tally_usage.number_report import NumberUsageReport
from tally_usage.snapshots import (
    CATEGORIES,
    BillingMonth,
    History,
    SnapshotLine,
    billing_month,
    current_month,
    every_category,
    recent_days,
    snapshot_day,
)

log = logging.getLogger(__name__)

SNAPSHOT_EVERY = timedelta(minutes=1)
"""How often each replica looks for snapshots due: an account's comes within this of its
local midnight."""


class AccountNotKnown(Exception):
    """Usage has no state for the account yet, so it does not know the account's time zone."""

    def __init__(self, account_sid: str) -> None:
        super().__init__(f"usage has no state for account {account_sid} yet")
        self.account_sid = account_sid


async def take_snapshots(pool: asyncpg.Pool, *, as_of: datetime, taken_at: datetime) -> int:
    """Take, for every known account, its snapshot due at `as_of`; how many this call took.

    Set-based: the day and period are computed once per distinct zone history, then one
    statement per history takes the snapshots of all its accounts. Snapshots already taken
    (by an earlier run, or by another replica right now) are left alone and not counted.
    """
    taken = 0
    for history, account_sids in await reports_repository.accounts_by_history(pool):
        try:
            day = snapshot_day(history, as_of)
        except ZoneInfoNotFoundError:
            # One unreadable zone must not hold back every other account's snapshot.
            log.error("no snapshot for %d accounts: unknown zone in %s", len(account_sids), history)
            continue
        taken += await reports_repository.insert_snapshots(
            pool,
            account_sids,
            through=day.through,
            period=day.period,
            categories=[category.value for category in CATEGORIES],
            taken_at=taken_at,
        )
    return taken


async def take_due_snapshots(pool: asyncpg.Pool, clock: Clock) -> int:
    """The periodic job: the snapshots due now (each account's previous local day)."""
    now = clock()
    taken = await take_snapshots(pool, as_of=now, taken_at=now)
    if taken:
        log.info("took %d usage snapshots", taken)
    return taken


NIGHTLY_SNAPSHOTS = Periodic("usage-snapshots", SNAPSHOT_EVERY, take_due_snapshots)
"""Run in every replica: the snapshots' primary key makes concurrent runs take each once."""


async def _history(pool: asyncpg.Pool, account_sid: str) -> History:
    history = await reports_repository.zone_history(pool, account_sid)
    if history is None:
        raise AccountNotKnown(account_sid)
    return history


@dataclass(frozen=True)
class MonthSnapshot:
    """A billing month as the billing page shows it: its latest snapshot's usage."""

    month: BillingMonth
    through: date | None
    taken_at: datetime | None
    lines: list[SnapshotLine]


async def month_snapshot(
    pool: asyncpg.Pool, account_sid: str, month: str | None, *, now: datetime
) -> MonthSnapshot:
    """The latest snapshot of the account's `month` (default: the current local month).

    A month without a snapshot yet has zero for every category and no `through`.
    """
    history = await _history(pool, account_sid)
    chosen = billing_month(history, month or current_month(history, now))
    stored = await reports_repository.latest_snapshot(pool, account_sid, chosen.period)
    if stored is None:
        return MonthSnapshot(chosen, None, None, every_category({}))
    return MonthSnapshot(
        chosen,
        stored.through,
        stored.taken_at,
        every_category(stored.quantities),
    )


@dataclass(frozen=True)
class DailyUsage:
    """A billing month's usage per local day, as far as its latest snapshot goes."""

    month: BillingMonth
    through: date | None
    days: list[tuple[date, str, Decimal]]


async def daily_usage(
    pool: asyncpg.Pool, account_sid: str, month: str | None, *, now: datetime
) -> DailyUsage:
    """Each day's quantities of `month` (default: the current one) through its latest snapshot.

    The same days the snapshot sums, so the page's daily chart adds up to its totals.
    """
    history = await _history(pool, account_sid)
    chosen = billing_month(history, month or current_month(history, now))
    stored = await reports_repository.latest_snapshot(pool, account_sid, chosen.period)
    if stored is None:
        return DailyUsage(chosen, None, [])
    days = await reports_repository.daily_usage(pool, account_sid, chosen.period, stored.through)
    return DailyUsage(chosen, stored.through, days)


async def number_usage_report(
    pool: asyncpg.Pool, account_sid: str, month: str | None, *, now: datetime
) -> NumberUsageReport:
    """Every number the account used in `month` (default: the current local month), now."""
    history = await _history(pool, account_sid)
    chosen = billing_month(history, month or current_month(history, now))
    recent = [(day.local_date, day.period) for day in recent_days(history, now)]
    numbers = await reports_repository.number_usage(pool, account_sid, chosen.period, recent)
    return NumberUsageReport(
        month=chosen.month, time_zone=chosen.time_zone, generated_at=now, numbers=numbers
    )


async def awaiting_accounts(pool: asyncpg.Pool) -> tuple[int, dict[str, int]]:
    """Records waiting for their account's state: in all, and per account."""
    async with pool.acquire() as conn:
        return await repository.awaiting_counts(conn)
