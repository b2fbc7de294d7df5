"""A billing month's usage per local day (the billing page's chart), through its snapshot."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime
from typing import Any

from tally_testkit import new_sid

StartUsage = Callable[[Any], AbstractAsyncContextManager[Any]]
PERIOD = "2026-11@America/Chicago"


def clock_at(now: datetime) -> Callable[[], datetime]:
    return lambda: now


async def test_given_daily_usage_then_the_days_through_the_snapshot_are_listed(
    start_usage: StartUsage, seed: Any
) -> None:
    # Given a Chicago account's November: usage on the 2nd (twice over categories), the 10th,
    # late usage on the 3rd (never in a snapshot) and usage on the 20th, after the snapshot
    sid = new_sid()
    await seed.account(sid, "America/Chicago")
    await seed.daily(sid, PERIOD, date(2026, 11, 2), "calls-outbound", "12.5")
    await seed.daily(sid, PERIOD, date(2026, 11, 2), "sms-outbound", "3")
    await seed.daily(sid, PERIOD, date(2026, 11, 10), "calls-outbound", "7")
    await seed.daily(sid, PERIOD, date(2026, 11, 3), "sms-outbound", "9", late=True)
    await seed.daily(sid, PERIOD, date(2026, 11, 20), "calls-outbound", "100")
    # and October usage, a month no snapshot was taken of
    await seed.daily(sid, "2026-10@America/Chicago", date(2026, 10, 7), "calls-outbound", "5")
    # (the service's own job takes the same snapshot at its clock's time, midday on the 16th)
    async with start_usage(clock_at(datetime(2026, 11, 16, 18, tzinfo=UTC))) as usage:
        # When the snapshot through the 15th is taken
        taken = await usage.http.post(
            "/ops/usage-snapshots", json={"as_of": "2026-11-16T18:00:00Z"}
        )
        after = await usage.http.get(f"/accounts/{sid}/daily-usage", params={"month": "2026-11"})
        october = await usage.http.get(f"/accounts/{sid}/daily-usage", params={"month": "2026-10"})

    # Then November lists its on-time days up to the 15th; October, without a snapshot, none
    assert taken.status_code == 200, taken.text
    assert october.json() == {
        "month": "2026-10",
        "time_zone": "America/Chicago",
        "through": None,
        "days": [],
    }
    assert after.json()["through"] == "2026-11-15"
    assert after.json()["days"] == [
        {"local_date": "2026-11-02", "category": "calls-outbound", "quantity": "12.5"},
        {"local_date": "2026-11-02", "category": "sms-outbound", "quantity": "3"},
        {"local_date": "2026-11-10", "category": "calls-outbound", "quantity": "7"},
    ]


async def test_given_an_account_usage_has_not_seen_then_its_daily_usage_is_not_found(
    start_usage: StartUsage,
) -> None:
    async with start_usage(clock_at(datetime(2026, 11, 25, tzinfo=UTC))) as usage:
        response = await usage.http.get(f"/accounts/{new_sid()}/daily-usage")

    assert response.status_code == 404
