"""Billing periods: an account's months in its IANA time zone, and the zone changes between them.

Pure arithmetic over `zoneinfo`, shared by every service that dates usage or closes a month,
so usage, invoicing and the gateway agree on which local date and month an instant falls in.

A time-zone change applies from the next billing month: the new zone takes over at the instant
the old zone's current month ends. The history is therefore a list of (effective_from, zone)
pairs; the first zone has always applied (backfilled usage older than the account is dated in
it). A billing period is named by its key, `YYYY-MM@Zone`, e.g. `2026-10@America/Chicago`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

EARLIEST = datetime.min.replace(tzinfo=UTC)
"""The `effective_from` of an account's first zone: it dates everything before any change."""


class ZoneSpan(BaseModel):
    """One time zone of an account and the instant it took over (EARLIEST for the first)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_zone: str
    effective_from: datetime
    first_month: str | None = None
    """The `YYYY-MM` of its first billing period (None for the account's first zone)."""


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The zone database's entry for an IANA name (cached: the hot path dates every event)."""
    return ZoneInfo(name)


def period_key(month: str, time_zone: str) -> str:
    """`2026-10@America/Chicago`: the name of a billing month in a zone."""
    return f"{month}@{time_zone}"


def month_of(local_date: date) -> str:
    """`YYYY-MM` of a local date."""
    return f"{local_date.year:04d}-{local_date.month:02d}"


def first_day(month: str) -> date:
    """The first local date of a `YYYY-MM` month."""
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1)


def next_month(month: str) -> str:
    """The `YYYY-MM` after `month`."""
    start = first_day(month)
    return month_of((start + timedelta(days=32)).replace(day=1))


def local_midnight(day: date, time_zone: str) -> datetime:
    """The UTC instant a local date begins (the first instant that exists: DST gaps skip)."""
    aware = datetime.combine(day, time(), tzinfo=zone(time_zone))
    # fold=0 picks the earlier of two midnights (a repeated hour), and for a midnight lost in
    # a gap the offset before it, which lands at or after the gap's end.
    instant = aware.astimezone(UTC)
    if instant.astimezone(aware.tzinfo).time() == time():
        return instant
    return _end_of_gap(day, aware.tzinfo, aware.replace(fold=1).astimezone(UTC), instant)


def _end_of_gap(day: date, tz: tzinfo | None, before: datetime, after: datetime) -> datetime:
    # Midnight fell in a gap: the day begins where the gap ends, which lies between the two
    # readings of midnight. Gaps start and end on whole seconds; when a whole day was skipped
    # (Pacific/Apia, 2011-12-30) this is where the next day begins, a day of no length.
    while after - before > timedelta(seconds=1):
        middle = before + timedelta(seconds=(after - before).total_seconds() // 2)
        if middle.astimezone(tz).date() >= day:
            after = middle
        else:
            before = middle
    return after


@dataclass(frozen=True)
class Dated:
    """Where an instant falls for an account: its local date and its billing period."""

    local_date: date
    period: str


def zone_at(history: Sequence[ZoneSpan], instant: datetime) -> ZoneSpan:
    """The zone span in effect at `instant` (history sorted by `effective_from`)."""
    current = history[0]
    for span in history[1:]:
        if span.effective_from <= instant:
            current = span
        else:
            break
    return current


def date_instant(history: Sequence[ZoneSpan], instant: datetime) -> Dated:
    """The local date and billing period of `instant` under the account's zone history.

    After a change, an instant whose new-zone local date still reads the old month (the new
    zone is behind the old one) belongs to the new zone's first period, never to a month the
    old zone has already ended.
    """
    span = zone_at(history, instant)
    local = instant.astimezone(zone(span.time_zone)).date()
    month = month_of(local)
    if span.first_month is not None:
        month = max(month, span.first_month)
    return Dated(local_date=local, period=period_key(month, span.time_zone))


def zone_change(history: Sequence[ZoneSpan], new_zone: str, now: datetime) -> ZoneSpan:
    """The span a change to `new_zone` asked for at `now` adds: from the next billing month.

    It takes over when the current zone's current month ends.
    """
    span = zone_at(history, now)
    current = date_instant(history, now).period.split("@", 1)[0]
    # The current month, not the local date's: in the first days of a zone behind the one
    # before it, the local date still reads the month the old zone has already ended.
    month = next_month(current)
    return ZoneSpan(
        time_zone=new_zone,
        effective_from=local_midnight(first_day(month), span.time_zone),
        first_month=month,
    )


def period_bounds(month: str, time_zone: str) -> tuple[datetime, datetime]:
    """The UTC instants a local month begins and ends (end exclusive), in one zone throughout.

    An account's months go by `month_bounds`, which knows where its zone changed.
    """
    return (
        local_midnight(first_day(month), time_zone),
        local_midnight(first_day(next_month(month)), time_zone),
    )


def span_of_month(history: Sequence[ZoneSpan], month: str) -> ZoneSpan:
    """The zone span an account's billing `month` is dated in: a change applies from its first
    month on."""
    current = history[0]
    for span in history[1:]:
        if span.first_month is not None and span.first_month <= month:
            current = span
    return current


def month_bounds(history: Sequence[ZoneSpan], month: str) -> tuple[str, datetime, datetime]:
    """An account's billing `month`: its zone, and the UTC instants it begins and ends.

    A zone's first month begins when the zone took over (the old zone's month end), not at
    the new zone's local midnight: after a move to a zone behind, the first hours of the new
    month still read the old month's last day there, and after a move ahead, the new zone's
    midnight came while the old month was still running. Every other month runs from local
    midnight to local midnight, and a month's end is where the next zone takes over.
    """
    span = span_of_month(history, month)
    start, end = period_bounds(month, span.time_zone)
    if span.first_month == month:
        start = span.effective_from
    return span.time_zone, start, end
