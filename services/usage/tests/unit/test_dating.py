"""Dating usage in the account's zone and summing a batch per day and per phone number (pure).

Expected dates and periods are worked out by hand from the zones' offsets, noted beside them.
"""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from tally_contracts.periods import EARLIEST, ZoneSpan
from tally_contracts.usage import UsageEvent, validation_context
from tally_usage.dating import (
    AccountDating,
    DailyTotal,
    NumberDay,
    daily_totals,
    date_usage,
    dated_recorded,
    number_days,
)
from tally_usage.domain import AcceptedUsage, RawUsageMessage, payload_hash

SID = "AC" + "0123456789abcdef" * 2
OTHER = "AC" + "fedcba9876543210" * 2
NOW = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)
NEW_YORK = AccountDating([ZoneSpan(time_zone="America/New_York", effective_from=EARLIEST)])
NUMBER = "+14155550100"


def accepted(n: int = 0, **fields: Any) -> AcceptedUsage:
    document = {
        "event_id": f"e-{n}",
        "account_sid": SID,
        "category": "calls-outbound",
        "quantity": "1.5",
        "occurred_at": "2026-11-01T12:00:00Z",
    } | fields
    event = UsageEvent.model_validate(document, context=validation_context(NOW))
    message = RawUsageMessage(
        "usage.events.v1", 0, n, event.account_sid.encode(), json.dumps(document).encode()
    )
    return AcceptedUsage(message, event, payload_hash(event))


def test_given_an_instant_either_side_of_local_midnight_then_each_gets_its_own_month() -> None:
    # New York is at -4 until 2026-11-01 02:00, so November begins at 04:00 UTC.
    before = date_usage(accepted(occurred_at="2026-11-01T03:59:59Z"), NEW_YORK)
    after = date_usage(accepted(occurred_at="2026-11-01T04:00:00Z"), NEW_YORK)

    assert (before.local_date, before.period) == (date(2026, 10, 31), "2026-10@America/New_York")
    assert (after.local_date, after.period) == (date(2026, 11, 1), "2026-11@America/New_York")


def test_given_a_closed_period_then_its_usage_is_late_and_the_next_months_is_not() -> None:
    closed = AccountDating(NEW_YORK.history, frozenset({"2026-10@America/New_York"}))

    october = date_usage(accepted(occurred_at="2026-11-01T03:59:59Z"), closed)
    november = date_usage(accepted(occurred_at="2026-11-01T04:00:00Z"), closed)

    assert (october.late, november.late) == (True, False)


def test_given_a_dated_event_then_usage_recorded_says_where_it_falls_and_if_late() -> None:
    closed = AccountDating(NEW_YORK.history, frozenset({"2026-10@America/New_York"}))
    dated = date_usage(accepted(occurred_at="2026-10-31T12:00:00Z"), closed)

    recorded = json.loads(dated_recorded(dated, NOW).model_dump_json())

    assert (recorded["local_date"], recorded["period"], recorded["late"]) == (
        "2026-10-31",
        "2026-10@America/New_York",
        True,
    )
    assert recorded["event_id"] == f"usage:{SID}:e-0"


def test_given_a_batch_then_totals_are_summed_per_day_category_and_lateness() -> None:
    closed = AccountDating(NEW_YORK.history, frozenset({"2026-10@America/New_York"}))
    batch = [
        accepted(1, quantity="1.5", occurred_at="2026-11-01T12:00:00Z"),
        accepted(2, quantity="2.25", occurred_at="2026-11-02T04:59:59Z"),  # still 11-01 (-5)
        accepted(3, category="sms-outbound", quantity="1", occurred_at="2026-11-01T13:00:00Z"),
        accepted(4, quantity="4", occurred_at="2026-10-31T20:00:00Z"),  # October: closed
        accepted(5, account_sid=OTHER, quantity="7", occurred_at="2026-11-01T12:00:00Z"),
    ]
    datings = {SID: closed, OTHER: NEW_YORK}

    totals = daily_totals(date_usage(a, datings[a.event.account_sid]) for a in batch)

    nov, oct_ = "2026-11@America/New_York", "2026-10@America/New_York"
    assert totals == [
        DailyTotal(SID, oct_, date(2026, 10, 31), "calls-outbound", True, Decimal("4"), 1),
        DailyTotal(SID, nov, date(2026, 11, 1), "calls-outbound", False, Decimal("3.75"), 2),
        DailyTotal(SID, nov, date(2026, 11, 1), "sms-outbound", False, Decimal("1"), 1),
        DailyTotal(OTHER, nov, date(2026, 11, 1), "calls-outbound", False, Decimal("7"), 1),
    ]


def test_given_events_naming_a_number_then_its_day_counts_calls_minutes_and_holding() -> None:
    batch = [
        accepted(1, phone_number=NUMBER, number_type="local", occurred_at="2026-11-01T15:00:00Z"),
        accepted(2, phone_number=NUMBER, category="calls-inbound", quantity="3"),
        accepted(3, phone_number=NUMBER, category="sms-outbound", quantity="1"),
        accepted(
            4,
            phone_number=NUMBER,
            category="phone-numbers",
            quantity="1",
            number_type="promo",
            occurred_at="2026-11-01T14:00:00Z",  # earlier than event 1: its type does not win
        ),
        accepted(5, quantity="9"),  # names no number
    ]

    days = number_days(date_usage(a, NEW_YORK) for a in batch)

    assert days == [
        NumberDay(
            SID,
            "2026-11@America/New_York",
            NUMBER,
            date(2026, 11, 1),
            calls=2,
            minutes=Decimal("4.5"),
            held=True,
            number_type="local",
            number_type_at=datetime(2026, 11, 1, 15, 0, tzinfo=UTC),
        )
    ]


def test_given_no_event_names_a_type_then_the_number_day_has_none() -> None:
    days = number_days([date_usage(accepted(1, phone_number=NUMBER), NEW_YORK)])

    assert (days[0].number_type, days[0].number_type_at, days[0].held) == (None, None, False)
