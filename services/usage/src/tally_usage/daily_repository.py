"""SQL for the daily aggregates written with the events: one statement per table and batch."""

from collections.abc import Sequence

from tally_runtime.database import Connection

from tally_usage.dating import DailyTotal, NumberDay


async def add_daily_totals(conn: Connection, totals: Sequence[DailyTotal]) -> None:
    """Add each total to its `usage_daily` row, creating the rows not there yet."""
    if not totals:
        return
    await conn.execute(
        "INSERT INTO usage_daily (account_sid, period, local_date, category, late, quantity,"
        " events)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::bool[],"
        "   $6::numeric[], $7::bigint[])"
        " ON CONFLICT (account_sid, period, local_date, category, late) DO UPDATE"
        "   SET quantity = usage_daily.quantity + EXCLUDED.quantity,"
        "       events = usage_daily.events + EXCLUDED.events",
        [total.account_sid for total in totals],
        [total.period for total in totals],
        [total.local_date for total in totals],
        [total.category for total in totals],
        [total.late for total in totals],
        [total.quantity for total in totals],
        [total.events for total in totals],
    )


async def add_number_days(conn: Connection, days: Sequence[NumberDay]) -> None:
    """Add each number's day to its `number_usage_daily` row; the latest event's type wins."""
    if not days:
        return
    await conn.execute(
        "INSERT INTO number_usage_daily AS d (account_sid, period, phone_number, local_date,"
        " calls, minutes, held, number_type, number_type_at)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::bigint[],"
        "   $6::numeric[], $7::bool[], $8::text[], $9::timestamptz[])"
        " ON CONFLICT (account_sid, period, phone_number, local_date) DO UPDATE"
        "   SET calls = d.calls + EXCLUDED.calls,"
        "       minutes = d.minutes + EXCLUDED.minutes,"
        "       held = d.held OR EXCLUDED.held,"
        # Whichever order the events arrive in, the type of the one that occurred last stays.
        "       (number_type, number_type_at) = ("
        "         CASE WHEN EXCLUDED.number_type_at >= d.number_type_at"
        "              OR d.number_type_at IS NULL"
        "           THEN coalesce(EXCLUDED.number_type, d.number_type) ELSE d.number_type END,"
        "         greatest(d.number_type_at, EXCLUDED.number_type_at))",
        [day.account_sid for day in days],
        [day.period for day in days],
        [day.phone_number for day in days],
        [day.local_date for day in days],
        [day.calls for day in days],
        [day.minutes for day in days],
        [day.held for day in days],
        [day.number_type for day in days],
        [day.number_type_at for day in days],
    )
