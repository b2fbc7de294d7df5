"""Usage lands on the account's local dates and months, in the events' own transaction.

Every expected local date and month below was worked out by hand from the zone's offset at
that instant (noted beside each zone), never by calling the code under test.
"""

from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from tally_contracts.periods import ZoneSpan
from tally_testkit import new_sid

from services.usage.tests.integration.local_time.write_path import (
    WritePath,
    first_zone,
    state,
    usage,
    utc,
)

# zone -> [(occurred_at, expected local date, expected month)]
CASES: dict[str, list[tuple[str, str, str]]] = {
    # -5 in winter, -4 from 2026-03-08 02:00 (a 23-hour day) to 2026-11-01 02:00 (25 hours).
    "America/New_York": [
        ("2026-03-01T04:59:59Z", "2026-02-28", "2026-02"),
        ("2026-03-01T05:00:00Z", "2026-03-01", "2026-03"),
        ("2026-03-08T04:59:59Z", "2026-03-07", "2026-03"),
        ("2026-03-08T05:00:00Z", "2026-03-08", "2026-03"),
        ("2026-03-09T03:59:59Z", "2026-03-08", "2026-03"),
        ("2026-03-09T04:00:00Z", "2026-03-09", "2026-03"),
        ("2026-11-01T03:59:59Z", "2026-10-31", "2026-10"),
        ("2026-11-01T04:00:00Z", "2026-11-01", "2026-11"),
        ("2026-11-02T04:59:59Z", "2026-11-01", "2026-11"),
        ("2026-11-02T05:00:00Z", "2026-11-02", "2026-11"),
    ],
    # +5:30 all year.
    "Asia/Kolkata": [
        ("2026-10-31T18:29:59Z", "2026-10-31", "2026-10"),
        ("2026-10-31T18:30:00Z", "2026-11-01", "2026-11"),
        ("2026-11-14T18:29:59Z", "2026-11-14", "2026-11"),
        ("2026-11-14T18:30:00Z", "2026-11-15", "2026-11"),
    ],
    # +5:45 all year.
    "Asia/Kathmandu": [
        ("2026-10-31T18:14:59Z", "2026-10-31", "2026-10"),
        ("2026-10-31T18:15:00Z", "2026-11-01", "2026-11"),
    ],
    # +12:45 in the southern winter, +13:45 from 2026-09-27.
    "Pacific/Chatham": [
        ("2026-06-30T11:14:59Z", "2026-06-30", "2026-06"),
        ("2026-06-30T11:15:00Z", "2026-07-01", "2026-07"),
        ("2026-10-31T10:14:59Z", "2026-10-31", "2026-10"),
        ("2026-10-31T10:15:00Z", "2026-11-01", "2026-11"),
    ],
    # +11 in summer, +10:30 from 2026-04-05 02:00 (back to 01:30: a 24.5-hour day) until
    # 2026-10-04 02:00 (on to 02:30: a 23.5-hour day).
    "Australia/Lord_Howe": [
        ("2026-03-31T12:59:59Z", "2026-03-31", "2026-03"),
        ("2026-03-31T13:00:00Z", "2026-04-01", "2026-04"),
        ("2026-04-04T12:59:59Z", "2026-04-04", "2026-04"),
        ("2026-04-04T13:00:00Z", "2026-04-05", "2026-04"),
        ("2026-04-05T13:29:59Z", "2026-04-05", "2026-04"),
        ("2026-04-05T13:30:00Z", "2026-04-06", "2026-04"),
        ("2026-10-03T13:29:59Z", "2026-10-03", "2026-10"),
        ("2026-10-03T13:30:00Z", "2026-10-04", "2026-10"),
        ("2026-10-04T12:59:59Z", "2026-10-04", "2026-10"),
        ("2026-10-04T13:00:00Z", "2026-10-05", "2026-10"),
        ("2026-10-31T12:59:59Z", "2026-10-31", "2026-10"),
        ("2026-10-31T13:00:00Z", "2026-11-01", "2026-11"),
    ],
    # +13 all year, west of the date line's eastern side: a day ahead of UTC.
    "Pacific/Apia": [
        ("2026-10-31T10:59:59Z", "2026-10-31", "2026-10"),
        ("2026-10-31T11:00:00Z", "2026-11-01", "2026-11"),
        ("2026-12-31T10:59:59Z", "2026-12-31", "2026-12"),
        ("2026-12-31T11:00:00Z", "2027-01-01", "2027-01"),
    ],
    # -10 all year: a day behind Apia for most of it.
    "Pacific/Honolulu": [
        ("2026-11-01T09:59:59Z", "2026-10-31", "2026-10"),
        ("2026-11-01T10:00:00Z", "2026-11-01", "2026-11"),
        ("2026-11-15T09:00:00Z", "2026-11-14", "2026-11"),
    ],
}


@pytest.mark.parametrize("time_zone", sorted(CASES))
async def test_given_events_around_local_midnights_then_each_lands_on_its_local_date_and_month(
    write_path: WritePath, time_zone: str
) -> None:
    sid = new_sid()
    cases = CASES[time_zone]
    await write_path.account(state(sid, 1, time_zone))

    outcomes = await write_path.record(
        *(usage(sid, n, instant) for n, (instant, _, _) in enumerate(cases))
    )

    assert outcomes == Counter({"recorded": len(cases)})
    assert await write_path.dated_events(sid) == {
        f"e-{n}": (date.fromisoformat(day), f"{month}@{time_zone}", False)
        for n, (_, day, month) in enumerate(cases)
    }
    # One unit each: a day's quantity is the number of events expected on it.
    per_day = Counter((f"{month}@{time_zone}", date.fromisoformat(day)) for _, day, month in cases)
    assert await write_path.daily(sid) == {
        (period, day, "calls-outbound", False, Decimal(events), events)
        for (period, day), events in per_day.items()
    }


async def test_given_new_york_then_its_23_and_25_hour_days_hold_23_and_25_hours_of_usage(
    write_path: WritePath,
) -> None:
    sid = new_sid()
    await write_path.account(state(sid, 1, "America/New_York"))
    # One event an hour, from the first to the last hour of each local day.
    short_day = [f"2026-03-08T{h:02d}:30:00Z" for h in range(5, 24)] + [
        f"2026-03-09T{h:02d}:30:00Z" for h in range(4)
    ]
    long_day = [f"2026-11-01T{h:02d}:30:00Z" for h in range(4, 24)] + [
        f"2026-11-02T{h:02d}:30:00Z" for h in range(5)
    ]

    await write_path.record(*(usage(sid, n, at) for n, at in enumerate(short_day + long_day)))

    assert await write_path.daily(sid) == {
        ("2026-03@America/New_York", date(2026, 3, 8), "calls-outbound", False, Decimal(23), 23),
        ("2026-11@America/New_York", date(2026, 11, 1), "calls-outbound", False, Decimal(25), 25),
    }


async def test_given_a_zone_change_then_the_old_zone_dates_its_month_to_the_end(
    write_path: WritePath,
) -> None:
    sid = new_sid()
    await write_path.account(state(sid, 1, "America/Chicago"))
    # Asked in October: Tokyo from the end of Chicago's October (2026-11-01 00:00 at -5).
    history = [
        first_zone("America/Chicago"),
        ZoneSpan(
            time_zone="Asia/Tokyo",
            effective_from=utc("2026-11-01T05:00:00"),
            first_month="2026-11",
        ),
    ]
    await write_path.account(state(sid, 2, "Asia/Tokyo", history))
    await write_path.account(state(sid, 1, "America/Chicago"))  # an old state, late: ignored

    await write_path.record(
        usage(sid, 1, "2026-10-31T23:00:00Z"),  # already Nov 1 in Tokyo, still October here
        usage(sid, 2, "2026-11-01T04:59:59Z"),  # 23:59:59 in Chicago
        usage(sid, 3, "2026-11-01T05:00:00Z"),  # 14:00 in Tokyo
        usage(sid, 4, "2026-11-01T15:00:00Z"),  # midnight in Tokyo
    )

    assert await write_path.dated_events(sid) == {
        "e-1": (date(2026, 10, 31), "2026-10@America/Chicago", False),
        "e-2": (date(2026, 10, 31), "2026-10@America/Chicago", False),
        "e-3": (date(2026, 11, 1), "2026-11@Asia/Tokyo", False),
        "e-4": (date(2026, 11, 2), "2026-11@Asia/Tokyo", False),
    }


async def test_given_a_change_to_a_zone_behind_then_its_first_hours_belong_to_its_first_month(
    write_path: WritePath,
) -> None:
    sid = new_sid()
    history = [
        first_zone("Asia/Tokyo"),
        ZoneSpan(
            time_zone="America/New_York",
            effective_from=utc("2026-10-31T15:00:00"),  # 2026-11-01 00:00 in Tokyo (+9)
            first_month="2026-11",
        ),
    ]
    await write_path.account(state(sid, 2, "America/New_York", history))

    await write_path.record(
        usage(sid, 1, "2026-10-31T14:59:59Z"),  # 23:59:59 in Tokyo
        usage(sid, 2, "2026-10-31T16:00:00Z"),  # 12:00 on the 31st in New York (-4)
    )

    assert await write_path.dated_events(sid) == {
        "e-1": (date(2026, 10, 31), "2026-10@Asia/Tokyo", False),
        "e-2": (date(2026, 10, 31), "2026-11@America/New_York", False),
    }
