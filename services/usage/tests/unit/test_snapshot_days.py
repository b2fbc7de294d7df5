"""Which local day a snapshot runs through and which month it belongs to: pure, no I/O.

Expected values are worked out by hand from each zone's offset on the day.
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from tally_contracts.periods import EARLIEST, ZoneSpan
from tally_contracts.usage import UsageCategory
from tally_usage.snapshots import (
    SnapshotDay,
    billing_month,
    current_month,
    every_category,
    recent_days,
    snapshot_day,
)


def only(time_zone: str) -> tuple[ZoneSpan, ...]:
    return (ZoneSpan(time_zone=time_zone, effective_from=EARLIEST),)


CHICAGO_THEN_NEW_YORK = (
    ZoneSpan(time_zone="America/Chicago", effective_from=EARLIEST),
    # Asked for in November: New York from December, once Chicago's November has ended.
    ZoneSpan(
        time_zone="America/New_York",
        effective_from=datetime(2026, 12, 1, 6, tzinfo=UTC),
        first_month="2026-12",
    ),
)


@pytest.mark.parametrize(
    ("time_zone", "as_of", "expected"),
    [
        # 01:30 on the 21st in Kolkata (+05:30): the 20th is over.
        ("Asia/Kolkata", datetime(2026, 11, 20, 20, tzinfo=UTC), (date(2026, 11, 20), "2026-11")),
        # 23:45 on the 30th in Kolkata: the 29th is the last whole day.
        (
            "Asia/Kolkata",
            datetime(2026, 11, 30, 18, 15, tzinfo=UTC),
            (date(2026, 11, 29), "2026-11"),
        ),
        # 00:15 on 1 December in Kolkata: November's last day is over, in November's period.
        (
            "Asia/Kolkata",
            datetime(2026, 11, 30, 18, 45, tzinfo=UTC),
            (date(2026, 11, 30), "2026-11"),
        ),
        # 00:05 on the 21st in Kathmandu (+05:45).
        (
            "Asia/Kathmandu",
            datetime(2026, 11, 20, 18, 20, tzinfo=UTC),
            (date(2026, 11, 20), "2026-11"),
        ),
        # 01:00 on 1 December in Apia (+13): across the date line from UTC's 30 November noon.
        ("Pacific/Apia", datetime(2026, 11, 30, 12, tzinfo=UTC), (date(2026, 11, 30), "2026-11")),
        # 19:00 on the 30th in Honolulu (-10), though UTC already reads 1 December.
        ("Pacific/Honolulu", datetime(2026, 12, 1, 5, tzinfo=UTC), (date(2026, 11, 29), "2026-11")),
        # 00:30 on 2 November in New York, after the 25-hour 1 November (EST, -05:00).
        (
            "America/New_York",
            datetime(2026, 11, 2, 5, 30, tzinfo=UTC),
            (date(2026, 11, 1), "2026-11"),
        ),
        # 00:30 on 1 October in Chatham (+13:45 in daylight time).
        (
            "Pacific/Chatham",
            datetime(2026, 9, 30, 10, 45, tzinfo=UTC),
            (date(2026, 9, 30), "2026-09"),
        ),
    ],
)
def test_given_an_instant_then_the_snapshot_runs_through_the_previous_local_day(
    time_zone: str, as_of: datetime, expected: tuple[date, str]
) -> None:
    through, month = expected
    assert snapshot_day(only(time_zone), as_of) == SnapshotDay(through, f"{month}@{time_zone}")


def test_given_a_zone_change_then_the_old_zones_last_day_stays_in_the_old_month() -> None:
    # 01:30 on 1 December in New York is 00:30 in Chicago, whose November has just ended:
    # New York's 1 December began at 05:00Z, still under Chicago, on Chicago's 30 November.
    day = snapshot_day(CHICAGO_THEN_NEW_YORK, datetime(2026, 12, 1, 6, 30, tzinfo=UTC))
    assert day == SnapshotDay(date(2026, 11, 30), "2026-11@America/Chicago")
    # A day later the snapshot is New York's first day, in its first month.
    day = snapshot_day(CHICAGO_THEN_NEW_YORK, datetime(2026, 12, 2, 5, 30, tzinfo=UTC))
    assert day == SnapshotDay(date(2026, 12, 1), "2026-12@America/New_York")


def test_given_a_zone_change_then_each_month_is_dated_in_its_own_zone() -> None:
    november = billing_month(CHICAGO_THEN_NEW_YORK, "2026-11")
    december = billing_month(CHICAGO_THEN_NEW_YORK, "2026-12")

    assert (november.time_zone, november.period) == (
        "America/Chicago",
        "2026-11@America/Chicago",
    )
    # Chicago is at -05:00 on 1 November (daylight time) and -06:00 on 1 December.
    assert (november.start, november.end) == (
        datetime(2026, 11, 1, 5, tzinfo=UTC),
        datetime(2026, 12, 1, 6, tzinfo=UTC),
    )
    assert december.period == "2026-12@America/New_York"
    # New York's December begins when Chicago's November ends (06:00Z), not at New York's own
    # midnight (05:00Z), an hour still dated in Chicago's November.
    assert (december.start, december.end) == (
        datetime(2026, 12, 1, 6, tzinfo=UTC),
        datetime(2027, 1, 1, 5, tzinfo=UTC),
    )
    assert billing_month(CHICAGO_THEN_NEW_YORK, "2027-03").time_zone == "America/New_York"


def test_given_an_instant_then_the_current_month_is_the_local_one() -> None:
    # 23:00 on 30 November in Chicago, already December in UTC.
    assert current_month(only("America/Chicago"), datetime(2026, 12, 1, 5, tzinfo=UTC)) == "2026-11"
    assert current_month(only("Pacific/Apia"), datetime(2026, 11, 30, 12, tzinfo=UTC)) == "2026-12"


def test_given_the_first_of_a_month_then_yesterday_is_in_the_month_before() -> None:
    # 00:15 on 1 December in Kolkata.
    today, yesterday = recent_days(only("Asia/Kolkata"), datetime(2026, 11, 30, 18, 45, tzinfo=UTC))

    assert (today.local_date, today.period) == (date(2026, 12, 1), "2026-12@Asia/Kolkata")
    assert (yesterday.local_date, yesterday.period) == (date(2026, 11, 30), "2026-11@Asia/Kolkata")


def test_given_some_categories_then_every_category_has_a_line_in_card_order() -> None:
    lines = every_category({"sms-outbound": Decimal("3"), "calls-inbound": Decimal("1.5")})

    assert [(line.category.value, line.unit, line.quantity) for line in lines] == [
        ("calls-inbound", "minutes", Decimal("1.5")),
        ("calls-outbound", "minutes", Decimal(0)),
        ("sms-inbound", "messages", Decimal(0)),
        ("sms-outbound", "messages", Decimal("3")),
        ("phone-numbers", "number-days", Decimal(0)),
    ]
    assert [line.category for line in lines] == list(UsageCategory)
