"""Billing periods in an account's time zone: local midnights, dating instants, zone changes.

Every expected instant below was worked out by hand from the zone's offsets (noted beside it),
never by calling the code under test.
"""

from datetime import UTC, date, datetime

import pytest
from tally_contracts.periods import (
    EARLIEST,
    Dated,
    ZoneSpan,
    date_instant,
    first_day,
    local_midnight,
    month_bounds,
    month_of,
    next_month,
    period_bounds,
    period_key,
    zone_at,
    zone_change,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def only(time_zone: str) -> list[ZoneSpan]:
    return [ZoneSpan(time_zone=time_zone, effective_from=EARLIEST)]


# Tokyo (+9) until its month ends, then New York (-4 in early November, daylight time): New
# York is behind, so its first period begins while its local date still reads October.
TOKYO_THEN_NEW_YORK = [
    ZoneSpan(time_zone="Asia/Tokyo", effective_from=EARLIEST),
    ZoneSpan(
        time_zone="America/New_York",
        effective_from=utc("2026-10-31T15:00:00"),  # 2026-11-01 00:00 in Tokyo
        first_month="2026-11",
    ),
]


def test_given_a_month_and_zone_then_the_period_key_names_both() -> None:
    assert period_key("2026-10", "America/Chicago") == "2026-10@America/Chicago"


def test_given_months_then_next_and_first_days_roll_over_the_year() -> None:
    assert next_month("2026-12") == "2027-01"
    assert next_month("2026-01") == "2026-02"
    assert first_day("2027-02") == date(2027, 2, 1)
    assert month_of(date(2026, 3, 31)) == "2026-03"


@pytest.mark.parametrize(
    ("day", "time_zone", "begins"),
    [
        # 23-hour day: New York springs forward at 02:00; midnight is still EST (-5).
        (date(2026, 3, 8), "America/New_York", "2026-03-08T05:00:00"),
        (date(2026, 3, 9), "America/New_York", "2026-03-09T04:00:00"),  # EDT (-4)
        # 25-hour day: falls back at 02:00; midnight is still EDT (-4).
        (date(2026, 11, 1), "America/New_York", "2026-11-01T04:00:00"),
        (date(2026, 11, 2), "America/New_York", "2026-11-02T05:00:00"),  # EST (-5)
        (date(2026, 11, 1), "Asia/Kolkata", "2026-10-31T18:30:00"),  # +5:30
        (date(2026, 11, 1), "Asia/Kathmandu", "2026-10-31T18:15:00"),  # +5:45
        (date(2026, 11, 1), "Pacific/Chatham", "2026-10-31T10:15:00"),  # +13:45 (summer)
        (date(2026, 7, 1), "Pacific/Chatham", "2026-06-30T11:15:00"),  # +12:45 (winter)
        # Lord Howe moves by half an hour: +11 in summer, +10:30 in winter.
        (date(2026, 4, 5), "Australia/Lord_Howe", "2026-04-04T13:00:00"),
        (date(2026, 4, 6), "Australia/Lord_Howe", "2026-04-05T13:30:00"),  # a 24.5-hour day
        (date(2026, 10, 4), "Australia/Lord_Howe", "2026-10-03T13:30:00"),
        (date(2026, 10, 5), "Australia/Lord_Howe", "2026-10-04T13:00:00"),  # a 23.5-hour day
        (date(2026, 11, 1), "Pacific/Apia", "2026-10-31T11:00:00"),  # +13
        (date(2026, 11, 1), "Pacific/Honolulu", "2026-11-01T10:00:00"),  # -10
    ],
)
def test_given_a_local_date_then_its_midnight_is_the_instant_it_begins(
    day: date, time_zone: str, begins: str
) -> None:
    assert local_midnight(day, time_zone) == utc(begins)


def test_given_a_midnight_lost_in_a_gap_then_the_day_begins_when_the_gap_ends() -> None:
    # Havana springs forward at midnight (-5 -> -4): 2026-03-08 begins at 01:00 daylight time.
    assert local_midnight(date(2026, 3, 8), "America/Havana") == utc("2026-03-08T05:00:00")


def test_given_the_day_samoa_skipped_then_it_begins_and_ends_with_the_next_one() -> None:
    # Apia jumped from 2011-12-29 24:00 (-10) to 2011-12-31 00:00 (+14): the 30th never was.
    assert local_midnight(date(2011, 12, 29), "Pacific/Apia") == utc("2011-12-29T10:00:00")
    assert local_midnight(date(2011, 12, 30), "Pacific/Apia") == utc("2011-12-30T10:00:00")
    assert local_midnight(date(2011, 12, 31), "Pacific/Apia") == utc("2011-12-30T10:00:00")


def test_given_a_month_then_its_bounds_are_its_local_midnights() -> None:
    assert period_bounds("2026-02", "Asia/Kolkata") == (
        utc("2026-01-31T18:30:00"),
        utc("2026-02-28T18:30:00"),
    )
    # November in New York: begins in daylight time (-4), ends in standard time (-5).
    assert period_bounds("2026-11", "America/New_York") == (
        utc("2026-11-01T04:00:00"),
        utc("2026-12-01T05:00:00"),
    )


@pytest.mark.parametrize(
    ("time_zone", "instant", "local_date", "month"),
    [
        ("America/New_York", "2026-11-01T03:59:59", date(2026, 10, 31), "2026-10"),
        ("America/New_York", "2026-11-01T04:00:00", date(2026, 11, 1), "2026-11"),
        ("Pacific/Apia", "2026-10-31T10:59:59", date(2026, 10, 31), "2026-10"),
        ("Pacific/Apia", "2026-10-31T11:00:00", date(2026, 11, 1), "2026-11"),
        ("Pacific/Honolulu", "2026-11-01T09:59:59", date(2026, 10, 31), "2026-10"),
        ("Pacific/Honolulu", "2026-11-01T10:00:00", date(2026, 11, 1), "2026-11"),
        ("Asia/Kathmandu", "2026-10-31T18:14:59", date(2026, 10, 31), "2026-10"),
        ("Asia/Kathmandu", "2026-10-31T18:15:00", date(2026, 11, 1), "2026-11"),
    ],
)
def test_given_one_zone_then_an_instant_is_dated_by_its_local_date(
    time_zone: str, instant: str, local_date: date, month: str
) -> None:
    assert date_instant(only(time_zone), utc(instant)) == Dated(local_date, f"{month}@{time_zone}")


def test_given_a_change_to_a_zone_ahead_then_it_dates_from_the_old_zones_month_end() -> None:
    history = [
        ZoneSpan(time_zone="America/New_York", effective_from=EARLIEST),
        ZoneSpan(
            time_zone="Asia/Tokyo",
            effective_from=utc("2026-11-01T04:00:00"),  # 2026-11-01 00:00 in New York
            first_month="2026-11",
        ),
    ]

    before = date_instant(history, utc("2026-11-01T03:59:59"))
    after = date_instant(history, utc("2026-11-01T04:00:00"))

    assert before == Dated(date(2026, 10, 31), "2026-10@America/New_York")
    assert after == Dated(date(2026, 11, 1), "2026-11@Asia/Tokyo")  # 13:00 in Tokyo


def test_given_a_change_to_a_zone_behind_then_its_first_days_belong_to_its_first_month() -> None:
    last_of_tokyo = date_instant(TOKYO_THEN_NEW_YORK, utc("2026-10-31T14:59:59"))
    first_of_new_york = date_instant(TOKYO_THEN_NEW_YORK, utc("2026-10-31T15:00:00"))

    assert last_of_tokyo == Dated(date(2026, 10, 31), "2026-10@Asia/Tokyo")
    # 11:00 on the 31st in New York, yet October is over: the new zone's first month.
    assert first_of_new_york == Dated(date(2026, 10, 31), "2026-11@America/New_York")


def test_given_a_change_to_a_zone_behind_then_its_first_month_begins_when_it_took_over() -> None:
    # October in Tokyo (+9) ends at 2026-10-31 15:00Z; New York's November would begin at its
    # local midnight (04:00Z, daylight time -4), thirteen hours later, but the hours between
    # are dated in it already (above): November begins when New York took over.
    assert month_bounds(TOKYO_THEN_NEW_YORK, "2026-10") == (
        "Asia/Tokyo",
        utc("2026-09-30T15:00:00"),
        utc("2026-10-31T15:00:00"),
    )
    assert month_bounds(TOKYO_THEN_NEW_YORK, "2026-11") == (
        "America/New_York",
        utc("2026-10-31T15:00:00"),
        utc("2026-12-01T05:00:00"),  # standard time (-5) by then
    )
    # Later months run from New York's midnight to New York's midnight.
    assert month_bounds(TOKYO_THEN_NEW_YORK, "2026-12") == (
        "America/New_York",
        utc("2026-12-01T05:00:00"),
        utc("2027-01-01T05:00:00"),
    )


def test_given_a_change_to_a_zone_ahead_then_its_first_month_begins_when_it_took_over() -> None:
    # New York's October ends at 2026-11-01 04:00Z; Tokyo's November began at its midnight,
    # 2026-10-31 15:00Z, while New York's October was still running: not part of November.
    history = [
        ZoneSpan(time_zone="America/New_York", effective_from=EARLIEST),
        ZoneSpan(
            time_zone="Asia/Tokyo",
            effective_from=utc("2026-11-01T04:00:00"),
            first_month="2026-11",
        ),
    ]

    assert month_bounds(history, "2026-11") == (
        "Asia/Tokyo",
        utc("2026-11-01T04:00:00"),
        utc("2026-11-30T15:00:00"),  # 2026-12-01 00:00 in Tokyo
    )


def test_given_a_history_then_the_zone_at_an_instant_is_the_last_one_in_effect() -> None:
    assert zone_at(TOKYO_THEN_NEW_YORK, utc("2020-01-01T00:00:00")).time_zone == "Asia/Tokyo"
    assert zone_at(TOKYO_THEN_NEW_YORK, utc("2030-01-01T00:00:00")).time_zone == (
        "America/New_York"
    )


def test_given_a_zone_change_asked_mid_month_then_it_applies_from_the_next_month() -> None:
    change = zone_change(only("America/Chicago"), "Europe/London", utc("2026-10-15T12:00:00"))

    # 2026-11-01 00:00 in Chicago, still daylight time (-5).
    assert change == ZoneSpan(
        time_zone="Europe/London",
        effective_from=utc("2026-11-01T05:00:00"),
        first_month="2026-11",
    )


def test_given_a_change_asked_in_a_new_zones_first_days_then_it_waits_for_that_month_end() -> None:
    # 2026-10-31 16:00 in New York, but already in its first month, 2026-11.
    change = zone_change(TOKYO_THEN_NEW_YORK, "Europe/London", utc("2026-10-31T20:00:00"))

    assert change == ZoneSpan(
        time_zone="Europe/London",
        effective_from=utc("2026-12-01T05:00:00"),  # 2026-12-01 00:00 in New York (-5)
        first_month="2026-12",
    )
