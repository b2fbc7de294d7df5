"""Nightly usage snapshots on real PostgreSQL: the right local day, and exactly one each.

Expected days, periods and sums are worked out by hand in each test from the zone's offset,
not by calling the code under test.
"""

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from tally_testkit import eventually, new_sid

StartUsage = Callable[[Any], AbstractAsyncContextManager[Any]]

CATEGORIES = ["calls-inbound", "calls-outbound", "sms-inbound", "sms-outbound", "phone-numbers"]


def clock_at(now: datetime) -> Callable[[], datetime]:
    """A clock standing still at `now`."""
    return lambda: now


async def snapshot_rows(pool: asyncpg.Pool, sids: list[str]) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            "SELECT account_sid, through, period,"
            "   (SELECT count(*) FROM usage_snapshot_lines l"
            "    WHERE l.account_sid = s.account_sid AND l.through = s.through) AS lines"
            " FROM usage_snapshots s WHERE account_sid = ANY($1::text[])"
            " ORDER BY account_sid, through",
            sids,
        )
    )


async def test_given_two_instances_racing_then_exactly_one_snapshot_per_account_and_day(
    start_usage: StartUsage, seed: Any
) -> None:
    # Given 40 accounts in four zones and two instances of the service on one database
    zones = ["America/Chicago", "Asia/Kolkata", "Pacific/Apia", "UTC"]
    sids = [new_sid() for _ in range(40)]
    for number, sid in enumerate(sids):
        await seed.account(sid, zones[number % len(zones)])
    # Their own nightly job runs at 2026-06-01, far from the day asked below.
    clock = clock_at(datetime(2026, 6, 1, 12, tzinfo=UTC))
    async with start_usage(clock) as first, start_usage(clock) as second:
        # When each instance is asked three times at once for the same instant
        as_of = {"as_of": "2026-11-21T12:00:00Z"}
        calls = [
            instance.http.post("/ops/usage-snapshots", json=as_of)
            for _ in range(3)
            for instance in (first, second)
        ]
        answers = await asyncio.gather(*calls)

        # Then the six calls took one snapshot per account between them, each with five lines
        assert [answer.status_code for answer in answers] == [200] * 6
        assert sum(answer.json()["snapshots"] for answer in answers) == len(sids)
        found = await snapshot_rows(first.pool, sids)
    rows = [row for row in found if row["through"] >= date(2026, 11, 1)]
    # 12:00 UTC is 06:00 in Chicago, 17:30 in Kolkata, 01:00 on the 22nd in Apia, noon in UTC.
    expected_through = {
        "America/Chicago": date(2026, 11, 20),
        "Asia/Kolkata": date(2026, 11, 20),
        "Pacific/Apia": date(2026, 11, 21),
        "UTC": date(2026, 11, 20),
    }
    assert sorted(
        (r["account_sid"], r["through"], r["period"], r["lines"]) for r in rows
    ) == sorted(
        (
            sid,
            expected_through[zones[n % 4]],
            f"2026-11@{zones[n % 4]}",
            len(CATEGORIES),
        )
        for n, sid in enumerate(sids)
    )


async def test_given_a_kathmandu_account_then_the_snapshot_runs_through_its_previous_local_day(
    start_usage: StartUsage, seed: Any, produce: Any, wait_stored: Any
) -> None:
    # Given an account in Asia/Kathmandu (UTC+05:45) with usage on both sides of its local
    # midnights: 18:15Z is 00:00 the next day there
    sid = new_sid()
    await produce.account(sid, "Asia/Kathmandu")
    events = [
        {"quantity": "100", "occurred_at": "2026-10-31T18:14:59Z"},  # 31 October, 23:59
        {"quantity": "1.5", "occurred_at": "2026-10-31T18:15:00Z"},  # 1 November, 00:00
        {"quantity": "2.25", "occurred_at": "2026-11-20T18:14:59Z"},  # 20 November, 23:59
        {"category": "sms-outbound", "quantity": "3", "occurred_at": "2026-11-20T10:00:00Z"},
        {"quantity": "1000", "occurred_at": "2026-11-20T18:15:00Z"},  # 21 November, 00:00
    ]
    async with start_usage(clock_at(datetime(2026, 11, 21, 9, tzinfo=UTC))) as usage:
        await produce.usage(sid, *events)
        await wait_stored(usage, sid, len(events))
        # and late usage of November (its month closed), which a snapshot never counts
        await seed.daily(
            sid, "2026-11@Asia/Kathmandu", date(2026, 11, 5), "sms-outbound", "7", late=True
        )

        # When snapshots are taken at 2026-11-20T18:20Z, 00:05 on the 21st in Kathmandu
        taken = await usage.http.post(
            "/ops/usage-snapshots", json={"as_of": "2026-11-20T18:20:00Z"}
        )
        page = await usage.http.get(f"/accounts/{sid}/snapshots", params={"month": "2026-11"})

    # Then the account's snapshot runs through the 20th: the 1st to the 20th, late usage aside
    assert taken.status_code == 200
    assert taken.json()["snapshots"] >= 1
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["month"] == "2026-11"
    assert body["time_zone"] == "Asia/Kathmandu"
    # The local month starts at 00:00 +05:45, i.e. 18:15 UTC the day before.
    assert body["period"] == {"start": "2026-10-31T18:15:00Z", "end": "2026-11-30T18:15:00Z"}
    assert body["snapshot"]["through"] == "2026-11-20"
    assert body["snapshot"]["taken_at"] == "2026-11-21T09:00:00Z"
    assert body["usage"] == [
        {"category": "calls-inbound", "unit": "minutes", "quantity": "0"},
        {"category": "calls-outbound", "unit": "minutes", "quantity": "3.75"},
        {"category": "sms-inbound", "unit": "messages", "quantity": "0"},
        {"category": "sms-outbound", "unit": "messages", "quantity": "3"},
        {"category": "phone-numbers", "unit": "number-days", "quantity": "0"},
    ]


async def test_given_the_service_running_then_its_own_job_takes_the_snapshot_due(
    start_usage: StartUsage, seed: Any
) -> None:
    # Given an account in Pacific/Honolulu (UTC-10) with usage on the 19th, local
    sid = new_sid()
    await seed.account(sid, "Pacific/Honolulu")
    await seed.daily(sid, "2026-11@Pacific/Honolulu", date(2026, 11, 19), "sms-inbound", "4")
    # When the service runs at 2026-11-21T05:00Z, still the 20th in Honolulu
    async with start_usage(clock_at(datetime(2026, 11, 21, 5, tzinfo=UTC))) as usage:

        async def page() -> dict[str, Any]:
            response = await usage.http.get(f"/accounts/{sid}/snapshots")
            assert response.status_code == 200, response.text
            return dict(response.json())

        # Then, by itself, it snapshots the current local month through the 19th
        body = await eventually(page, lambda found: found["snapshot"] is not None)
    assert body["month"] == "2026-11"
    assert body["snapshot"]["through"] == "2026-11-19"
    assert {line["category"]: line["quantity"] for line in body["usage"]}["sms-inbound"] == "4"


async def test_given_a_month_without_a_snapshot_then_no_snapshot_and_zero_usage(
    start_usage: StartUsage, seed: Any
) -> None:
    sid = new_sid()
    await seed.account(sid, "America/New_York")
    async with start_usage(clock_at(datetime(2026, 11, 21, 5, tzinfo=UTC))) as usage:
        response = await usage.http.get(f"/accounts/{sid}/snapshots", params={"month": "2026-09"})

    assert response.status_code == 200
    body = response.json()
    assert body["snapshot"] is None
    assert body["period"] == {"start": "2026-09-01T04:00:00Z", "end": "2026-10-01T04:00:00Z"}
    assert [line["quantity"] for line in body["usage"]] == ["0"] * 5


async def test_given_an_account_usage_has_not_seen_then_its_snapshots_are_not_found(
    start_usage: StartUsage,
) -> None:
    async with start_usage(clock_at(datetime(2026, 11, 21, 5, tzinfo=UTC))) as usage:
        response = await usage.http.get(f"/accounts/{new_sid()}/snapshots")
        bad_month = await usage.http.get(f"/accounts/{new_sid()}/snapshots?month=2026-13")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert bad_month.status_code == 422
    assert [error["field"] for error in bad_month.json()["errors"]] == ["month"]
