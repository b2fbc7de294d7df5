"""Nightly usage snapshots and the months they belong to: pure rules over an account's zones.

A snapshot covers an account's billing period from its start to the end of one local date,
`through`: the day before the local date of the instant it is taken for. Which day that is,
and which period holds it, depend only on the account's zone history, so accounts that share
a history share both, and a run computes them once per distinct history.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from tally_contracts.periods import (
    Dated,
    ZoneSpan,
    date_instant,
    local_midnight,
    month_bounds,
    period_key,
    zone,
    zone_at,
)
from tally_contracts.usage import UsageCategory

CATEGORIES: tuple[UsageCategory, ...] = tuple(UsageCategory)
"""Every category a snapshot has a line for, zero where the account had none."""

_JUST_BEFORE = timedelta(microseconds=1)

History = tuple[ZoneSpan, ...]
"""An account's zone spans, sorted by `effective_from`; the first is the account's first zone."""


@dataclass(frozen=True)
class SnapshotDay:
    """The local date a snapshot runs through, and the billing period that holds it."""

    through: date
    period: str


def snapshot_day(history: Sequence[ZoneSpan], as_of: datetime) -> SnapshotDay:
    """The snapshot due at `as_of`: through the local day before `as_of`'s local date.

    The day is the one that ended when `as_of`'s local date began, dated exactly as the usage
    of its last instant was, so it lands in the period that usage was written to (across a
    zone change too).
    """
    span = zone_at(history, as_of)
    today = as_of.astimezone(zone(span.time_zone)).date()
    last_instant = local_midnight(today, span.time_zone) - _JUST_BEFORE
    dated = date_instant(history, last_instant)
    return SnapshotDay(through=dated.local_date, period=dated.period)


@dataclass(frozen=True)
class BillingMonth:
    """One billing month of an account: its key, zone and UTC bounds (end exclusive)."""

    month: str
    time_zone: str
    start: datetime
    end: datetime

    @property
    def period(self) -> str:
        """The month's period key, `YYYY-MM@Zone`, as usage rows store it."""
        return period_key(self.month, self.time_zone)


def billing_month(history: Sequence[ZoneSpan], month: str) -> BillingMonth:
    """The account's billing month `YYYY-MM`, in the zone that month is dated in."""
    time_zone, start, end = month_bounds(history, month)
    return BillingMonth(month=month, time_zone=time_zone, start=start, end=end)


def current_month(history: Sequence[ZoneSpan], now: datetime) -> str:
    """The `YYYY-MM` of the billing month `now` falls in, for the account."""
    return month_of_period(date_instant(history, now).period)


def month_of_period(period: str) -> str:
    """`2026-10` of the period key `2026-10@America/Chicago`."""
    return period.partition("@")[0]


def recent_days(history: Sequence[ZoneSpan], now: datetime) -> tuple[Dated, Dated]:
    """Today and yesterday for the account at `now`, each with the period that holds it."""
    today = date_instant(history, now)
    span = zone_at(history, now)
    today_began = local_midnight(today.local_date, span.time_zone)
    yesterday = date_instant(history, today_began - _JUST_BEFORE)
    return today, yesterday


@dataclass(frozen=True)
class SnapshotLine:
    """One category's quantity in a snapshot."""

    category: UsageCategory
    quantity: Decimal

    @property
    def unit(self) -> str:
        """What the quantity counts: minutes, messages or number-days."""
        return self.category.unit


def every_category(found: dict[str, Decimal]) -> list[SnapshotLine]:
    """A line per category in the rate card's order, zero for a category with nothing found."""
    return [SnapshotLine(c, found.get(c.value, Decimal(0))) for c in CATEGORIES]
