"""The number usage report on real PostgreSQL, from the per-number daily rows of the write path.

Usage is published to `usage.events.v1` and stored by the service's write path. The account is
in America/Chicago and the service's clock reads 2026-11-15T18:00Z: noon on the 15th there, so
"today" is the 15th and "yesterday" the 14th. Expected rows are worked out by hand from
Chicago's offsets (-05:00 in October, -06:00 from 1 November).
"""

import csv
import io
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import pytest
from tally_testkit import new_sid

StartUsage = Callable[[Any], AbstractAsyncContextManager[Any]]

NOW = datetime(2026, 11, 15, 18, tzinfo=UTC)

PROMO, LOCAL, MOBILE, TOLL_FREE, UNTYPED = (
    "+15550001001",
    "+15550001002",
    "+15550001003",
    "+18005550004",
    "+15550001005",
)


def held(number: str, number_type: str, at: str) -> dict[str, str]:
    """A `phone-numbers` event: the number was held on the local date of `at`."""
    return {
        "category": "phone-numbers",
        "quantity": "1",
        "phone_number": number,
        "number_type": number_type,
        "occurred_at": at,
    }


def call(number: str, minutes: str, at: str, **more: str) -> dict[str, str]:
    """A call naming the number."""
    return {
        "category": "calls-outbound",
        "quantity": minutes,
        "phone_number": number,
        "occurred_at": at,
    } | more


EVENTS = [
    # A promo number held from 30 October to 2 November, across the month boundary: Chicago
    # is at -05:00, so 04:59Z on 1 November is still 31 October there, and 05:00Z is not.
    held(PROMO, "promo", "2026-10-30T17:00:00Z"),
    held(PROMO, "promo", "2026-11-01T04:59:00Z"),
    call(PROMO, "1.5", "2026-10-31T15:00:00Z"),
    call(PROMO, "2", "2026-11-01T04:30:00Z"),
    held(PROMO, "promo", "2026-11-01T05:00:00Z"),
    held(PROMO, "promo", "2026-11-02T18:00:00Z"),
    call(PROMO, "2", "2026-11-02T19:00:00Z"),
    # A local number called three times on the 3rd, named by a message on the 5th, held
    # yesterday (the 14th; Chicago is at -06:00 from 1 November).
    call(LOCAL, "1", "2026-11-03T15:00:00Z", number_type="local"),
    call(LOCAL, "1.25", "2026-11-03T16:00:00Z"),
    call(LOCAL, "2", "2026-11-04T05:59:00Z"),
    {"category": "sms-outbound", "phone_number": LOCAL, "occurred_at": "2026-11-05T15:00:00Z"},
    held(LOCAL, "local", "2026-11-15T05:59:00Z"),
    # A mobile number held in October and today.
    held(MOBILE, "mobile", "2026-10-10T15:00:00Z"),
    held(MOBILE, "mobile", "2026-11-15T06:00:00Z"),
    # A toll-free number held and called on the 10th only: not in use now.
    held(TOLL_FREE, "toll-free", "2026-11-10T15:00:00Z"),
    *[call(TOLL_FREE, "2", f"2026-11-10T16:0{n}:00Z") for n in range(5)],
    # A number only ever named by a call, without a type.
    {
        "category": "calls-inbound",
        "quantity": "0.5",
        "phone_number": UNTYPED,
        "occurred_at": "2026-11-12T15:00:00Z",
    },
]


@pytest.fixture
async def usage(start_usage: StartUsage) -> AsyncIterator[Any]:
    async with start_usage(lambda: NOW) as usage:
        yield usage


@pytest.fixture
async def sid(usage: Any, produce: Any, wait_stored: Any) -> str:
    """An account whose numbers were used in October and November, and another's number."""
    sid, other = new_sid(), new_sid()
    await produce.account(sid, "America/Chicago")
    await produce.account(other, "America/Chicago")
    await produce.usage(sid, *EVENTS)
    # Another account's number in the same month never shows.
    await produce.usage(other, held("+15559999999", "local", "2026-11-03T15:00:00Z"))
    await wait_stored(usage, sid, len(EVENTS))
    await wait_stored(usage, other, 1)
    return sid


def row(
    phone_number: str,
    number_type: str | None,
    first_used: str,
    last_used: str,
    days_used: int,
    calls: int,
    minutes: str,
    in_use: bool,
) -> dict[str, Any]:
    return {
        "phone_number": phone_number,
        "number_type": number_type,
        "promo": number_type == "promo",
        "first_used": first_used,
        "last_used": last_used,
        "days_used": days_used,
        "calls": calls,
        "minutes": minutes,
        "in_use": in_use,
    }


async def test_given_numbers_used_in_november_then_the_report_lists_each_with_its_use(
    usage: Any, sid: str
) -> None:
    response = await usage.http.get(
        f"/accounts/{sid}/number-usage-report", params={"month": "2026-11"}
    )

    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["month"], report["time_zone"]) == ("2026-11", "America/Chicago")
    assert report["generated_at"] == "2026-11-15T18:00:00Z"
    assert report["numbers"] == [
        row(PROMO, "promo", "2026-11-01", "2026-11-02", 2, 1, "2", False),
        row(LOCAL, "local", "2026-11-03", "2026-11-14", 3, 3, "4.25", True),
        row(MOBILE, "mobile", "2026-11-15", "2026-11-15", 1, 0, "0", True),
        row(UNTYPED, None, "2026-11-12", "2026-11-12", 1, 1, "0.5", False),
        row(TOLL_FREE, "toll-free", "2026-11-10", "2026-11-10", 1, 5, "10", False),
    ]


async def test_given_october_then_its_own_days_and_whether_each_number_is_in_use_now(
    usage: Any, sid: str
) -> None:
    response = await usage.http.get(
        f"/accounts/{sid}/number-usage-report", params={"month": "2026-10"}
    )

    assert response.status_code == 200, response.text
    assert response.json()["numbers"] == [
        row(PROMO, "promo", "2026-10-30", "2026-10-31", 2, 2, "3.5", False),
        # Held today (in November): in use now, whichever month the report is for.
        row(MOBILE, "mobile", "2026-10-10", "2026-10-10", 1, 0, "0", True),
    ]


async def test_given_the_csv_format_then_it_holds_the_same_rows_as_the_json(
    usage: Any, sid: str
) -> None:
    path = f"/accounts/{sid}/number-usage-report"
    as_json = await usage.http.get(path)  # the current local month, by default
    as_csv = await usage.http.get(path, params={"month": "2026-11", "format": "csv"})

    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    lines = as_csv.text.splitlines()
    assert lines[0] == (
        "phone_number,number_type,promo,first_used,last_used,days_used,calls,minutes,in_use"
    )
    parsed = list(csv.DictReader(io.StringIO(as_csv.text)))

    def spelled(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    numbers = as_json.json()["numbers"]
    assert len(numbers) == 5
    assert parsed == [{key: spelled(value) for key, value in n.items()} for n in numbers]


async def test_given_a_month_without_usage_then_the_report_is_empty(
    start_usage: StartUsage, sid: str
) -> None:
    async with start_usage(lambda: NOW) as usage:
        response = await usage.http.get(
            f"/accounts/{sid}/number-usage-report", params={"month": "2026-09"}
        )
        bad = await usage.http.get(f"/accounts/{sid}/number-usage-report", params={"format": "xml"})

    assert response.json()["numbers"] == []
    assert bad.status_code == 422
    assert [error["field"] for error in bad.json()["errors"]] == ["format"]
