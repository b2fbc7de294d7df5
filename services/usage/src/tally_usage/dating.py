"""Pure rules for usage in the account's time zone: dating events and summing them per day.

An event's local date and billing period come from the account's zone history (a change
applies from the next month); it is late when invoicing has already closed that period.
The daily aggregates are summed here, per batch, so storing them is one statement each.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from tally_contracts.periods import ZoneSpan, date_instant
from tally_contracts.usage import UsageCategory, UsageRecorded

from tally_usage.domain import AcceptedUsage
from tally_usage.published import usage_recorded

CALL_CATEGORIES = frozenset({UsageCategory.CALLS_INBOUND, UsageCategory.CALLS_OUTBOUND})


@dataclass(frozen=True)
class AccountDating:
    """What dates one account's usage: its zone history and the periods invoicing closed."""

    history: Sequence[ZoneSpan]
    closed_periods: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DatedUsage:
    """A new event with its local date, its billing period and whether that period is closed."""

    accepted: AcceptedUsage
    local_date: date
    period: str
    late: bool


def date_usage(accepted: AcceptedUsage, dating: AccountDating) -> DatedUsage:
    """Where `accepted` falls for its account, and whether it arrived after its month closed."""
    dated = date_instant(dating.history, accepted.event.occurred_at)
    late = dated.period in dating.closed_periods
    return DatedUsage(accepted, dated.local_date, dated.period, late)


def dated_recorded(dated: DatedUsage, now: datetime) -> UsageRecorded:
    """The UsageRecorded fact of a dated event, saying where it falls and whether it is late."""
    return usage_recorded(
        dated.accepted.event, now, local_date=dated.local_date, period=dated.period, late=dated.late
    )


DayKey = tuple[str, str, date, str, bool]
"""(account_sid, period, local_date, category, late): one row of `usage_daily`."""


@dataclass(frozen=True)
class DailyTotal:
    """What a batch adds to one row of `usage_daily`."""

    account_sid: str
    period: str
    local_date: date
    category: str
    late: bool
    quantity: Decimal
    events: int


def daily_totals(dated: Iterable[DatedUsage]) -> list[DailyTotal]:
    """Sum events per account, period, local date, category and lateness, in key order.

    In key order so concurrent writers lock the rows they share in the same order.
    """
    sums: dict[DayKey, tuple[Decimal, int]] = {}
    for item in dated:
        event = item.accepted.event
        key = (event.account_sid, item.period, item.local_date, event.category.value, item.late)
        quantity, events = sums.get(key, (Decimal(0), 0))
        sums[key] = (quantity + event.quantity, events + 1)
    return [DailyTotal(*key, *sums[key]) for key in sorted(sums)]


NumberKey = tuple[str, str, str, date]
"""(account_sid, period, phone_number, local_date): one row of `number_usage_daily`."""


@dataclass(frozen=True)
class NumberDay:
    """What a batch adds to one phone number's day: calls, minutes, held, its latest type."""

    account_sid: str
    period: str
    phone_number: str
    local_date: date
    calls: int
    minutes: Decimal
    held: bool
    number_type: str | None
    number_type_at: datetime | None
    """When the event that named `number_type` occurred: the latest such event's type wins."""


def number_days(dated: Iterable[DatedUsage]) -> list[NumberDay]:
    """Sum the events naming a phone number per number and local date, in key order.

    Late events count too: the number usage report is built from all stored usage.
    """
    days: dict[NumberKey, NumberDay] = {}
    for item in dated:
        event = item.accepted.event
        if event.phone_number is None:
            continue
        key = (event.account_sid, item.period, event.phone_number, item.local_date)
        day = days.get(key) or NumberDay(*key, 0, Decimal(0), False, None, None)
        is_call = event.category in CALL_CATEGORIES
        typed = event.number_type is not None and (
            day.number_type_at is None or event.occurred_at >= day.number_type_at
        )
        days[key] = NumberDay(
            *key,
            calls=day.calls + int(is_call),
            minutes=day.minutes + event.quantity if is_call else day.minutes,
            held=day.held or event.category is UsageCategory.PHONE_NUMBERS,
            number_type=event.number_type.value if typed and event.number_type else day.number_type,
            number_type_at=event.occurred_at if typed else day.number_type_at,
        )
    return [days[key] for key in sorted(days)]
