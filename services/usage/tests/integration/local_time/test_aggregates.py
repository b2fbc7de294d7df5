"""The daily aggregates: late usage kept apart from a closed month, every event counted once."""

from datetime import UTC, date, datetime
from decimal import Decimal

from tally_testkit import new_sid

from services.usage.tests.integration.local_time.write_path import WritePath, state, usage

OCTOBER = "2026-10@America/Chicago"
NOVEMBER = "2026-11@America/Chicago"
NUMBER = "+14155550100"


async def test_given_a_closed_month_then_late_usage_is_stored_marked_and_kept_apart(
    write_path: WritePath,
) -> None:
    sid = new_sid()
    await write_path.account(state(sid, 1, "America/Chicago"))
    await write_path.record(usage(sid, 1, "2026-10-15T12:00:00Z", quantity="2"))
    await write_path.close_month(sid, OCTOBER)
    closed_figures = {row for row in await write_path.daily(sid) if not row[3]}

    await write_path.record(
        usage(sid, 2, "2026-10-15T13:00:00Z", quantity="5"),  # the same day, arriving late
        usage(sid, 3, "2026-11-01T05:00:00Z", quantity="1"),  # November 1st 00:00 (-5)
    )

    assert (
        {row for row in await write_path.daily(sid) if not row[3]}
        - {(NOVEMBER, date(2026, 11, 1), "calls-outbound", False, Decimal(1), 1)}
        == closed_figures
        == {(OCTOBER, date(2026, 10, 15), "calls-outbound", False, Decimal(2), 1)}
    )
    assert await write_path.daily(sid) == {
        (OCTOBER, date(2026, 10, 15), "calls-outbound", False, Decimal(2), 1),
        (OCTOBER, date(2026, 10, 15), "calls-outbound", True, Decimal(5), 1),
        (NOVEMBER, date(2026, 11, 1), "calls-outbound", False, Decimal(1), 1),
    }
    assert await write_path.dated_events(sid) == {
        "e-1": (date(2026, 10, 15), OCTOBER, False),
        "e-2": (date(2026, 10, 15), OCTOBER, True),
        "e-3": (date(2026, 11, 1), NOVEMBER, False),
    }
    facts = {fact["usage_event_id"]: fact for fact in await write_path.recorded(sid)}
    assert [(facts[e]["period"], facts[e]["late"]) for e in ("e-1", "e-2", "e-3")] == [
        (OCTOBER, False),
        (OCTOBER, True),
        (NOVEMBER, False),
    ]
    assert facts["e-2"]["local_date"] == "2026-10-15"


async def test_given_a_batch_delivered_again_and_repeated_then_no_aggregate_changes(
    write_path: WritePath,
) -> None:
    sid = new_sid()
    await write_path.account(state(sid, 1, "America/Chicago"))
    batch = [
        usage(sid, 1, "2026-11-02T05:59:59Z", quantity="1.5"),  # 23:59:59 on 11-01 (-6)
        usage(sid, 2, "2026-11-02T06:00:00Z", quantity="2.25"),
        usage(sid, 3, "2026-11-02T07:00:00Z", category="sms-outbound", quantity="1"),
    ]
    await write_path.record(*batch)
    figures = await write_path.daily(sid)

    redelivered = await write_path.record(*batch)
    repeated = await write_path.record(
        usage(sid, 11, "2026-11-02T05:59:59Z", quantity="1.500", event_id="e-1"),
        usage(sid, 12, "2026-11-02T06:00:00Z", quantity="9", event_id="e-2"),
    )

    assert redelivered == {"redelivered": 3}
    assert repeated == {"duplicate": 1, "conflict": 1}
    assert figures == {
        (NOVEMBER, date(2026, 11, 1), "calls-outbound", False, Decimal("1.5"), 1),
        (NOVEMBER, date(2026, 11, 2), "calls-outbound", False, Decimal("2.25"), 1),
        (NOVEMBER, date(2026, 11, 2), "sms-outbound", False, Decimal(1), 1),
    }
    assert await write_path.daily(sid) == figures
    assert len(await write_path.recorded(sid)) == 3


async def test_given_events_naming_a_number_then_its_local_days_count_calls_and_holding(
    write_path: WritePath,
) -> None:
    sid = new_sid()
    await write_path.account(state(sid, 1, "America/Chicago"))
    batch = [
        usage(sid, 1, "2026-11-02T05:30:00Z", phone_number=NUMBER, quantity="3"),  # 11-01 (-6)
        usage(sid, 2, "2026-11-02T06:30:00Z", phone_number=NUMBER, quantity="4"),  # 11-02
        usage(
            sid,
            3,
            "2026-11-02T07:00:00Z",
            phone_number=NUMBER,
            category="phone-numbers",
            number_type="promo",
        ),
        usage(sid, 4, "2026-11-02T08:00:00Z", phone_number=NUMBER, category="sms-outbound"),
    ]
    await write_path.record(*batch[:2])
    await write_path.record(*batch[2:])
    await write_path.record(*batch)  # delivered again: nothing changes
    # A type named earlier, arriving later, does not replace the latest one.
    await write_path.record(
        usage(sid, 5, "2026-11-02T06:45:00Z", phone_number=NUMBER, number_type="local"),
    )

    rows = await write_path.pool.fetch(
        "SELECT period, local_date, calls, minutes, held, number_type, number_type_at"
        " FROM number_usage_daily WHERE account_sid = $1 AND phone_number = $2"
        " ORDER BY local_date",
        sid,
        NUMBER,
    )
    assert [tuple(row) for row in rows] == [
        (NOVEMBER, date(2026, 11, 1), 1, Decimal(3), False, None, None),
        (
            NOVEMBER,
            date(2026, 11, 2),
            2,
            Decimal(5),
            True,
            "promo",
            datetime(2026, 11, 2, 7, 0, tzinfo=UTC),
        ),
    ]
