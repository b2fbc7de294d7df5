"""SQL for what usage reads back: zone histories, snapshots, the number usage report.
Row mapping only, no decisions.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import asyncpg
from tally_contracts.periods import EARLIEST, ZoneSpan
from tally_runtime.database import Connection

from tally_usage.number_report import NumberUsage
from tally_usage.snapshots import History

Reader = Connection | asyncpg.Pool

# An account's zone history as one JSON array, oldest first; an account whose zones were not
# written yet (its state is older than zone histories) has the zone of its state.
_HISTORY = """
    coalesce(
        (SELECT json_agg(json_build_object(
                    'time_zone', z.time_zone,
                    'effective_from', CASE WHEN isfinite(z.effective_from)
                                           THEN z.effective_from END,
                    'first_month', z.first_month)
                ORDER BY z.effective_from)
         FROM account_time_zones z WHERE z.account_sid = k.account_sid),
        json_build_array(json_build_object(
            'time_zone', k.time_zone, 'effective_from', NULL, 'first_month', NULL)))::text
"""


def _history(text: str) -> History:
    return tuple(
        ZoneSpan(
            time_zone=span["time_zone"],
            effective_from=datetime.fromisoformat(span["effective_from"])
            if span["effective_from"] is not None
            else EARLIEST,
            first_month=span["first_month"],
        )
        for span in json.loads(text)
    )


async def accounts_by_history(conn: Reader) -> list[tuple[History, list[str]]]:
    """Every known account, grouped by zone history: one row per distinct history."""
    rows = await conn.fetch(
        # Constant fragments only; values are always parameters.
        f"SELECT history, array_agg(account_sid) AS accounts"  # noqa: S608
        f" FROM (SELECT k.account_sid, {_HISTORY} AS history FROM known_accounts k) AS a"
        f" GROUP BY history"
    )
    return [(_history(row["history"]), list(row["accounts"])) for row in rows]


async def zone_history(conn: Reader, account_sid: str) -> History | None:
    """The account's zone history; None when usage has no state for it."""
    text = await conn.fetchval(
        f"SELECT {_HISTORY} FROM known_accounts k WHERE k.account_sid = $1",  # noqa: S608
        account_sid,
    )
    if text is None:
        # Zones written before the account's state reached known_accounts still date its usage.
        text = await conn.fetchval(
            "SELECT json_agg(json_build_object('time_zone', time_zone,"
            "   'effective_from', CASE WHEN isfinite(effective_from) THEN effective_from END,"
            "   'first_month', first_month) ORDER BY effective_from)::text"
            " FROM account_time_zones WHERE account_sid = $1",
            account_sid,
        )
    return _history(text) if text is not None else None


async def insert_snapshots(
    conn: Reader,
    account_sids: Sequence[str],
    *,
    through: date,
    period: str,
    categories: Sequence[str],
    taken_at: datetime,
) -> int:
    """Take the snapshot through `through` of each account that has none yet; how many new.

    One statement: the headers are inserted first-come (a concurrent run's header wins and
    this one's is skipped), and the lines are written only for the headers inserted here,
    summing the period's on-time daily usage up to `through`, zero for a category with none.
    """
    taken = await conn.fetchval(
        """
        WITH header AS (
            INSERT INTO usage_snapshots (account_sid, through, period, taken_at)
            SELECT u.sid, $2, $3, $5 FROM unnest($1::text[]) AS u(sid)
            -- Most runs find most snapshots taken: skip those before trying to insert.
            WHERE NOT EXISTS (SELECT 1 FROM usage_snapshots s
                              WHERE s.account_sid = u.sid AND s.through = $2)
            ON CONFLICT (account_sid, through) DO NOTHING
            RETURNING account_sid
        ), lines AS (
            INSERT INTO usage_snapshot_lines (account_sid, through, category, quantity)
            SELECT h.account_sid, $2, c.category, coalesce(sum(d.quantity), 0)
            FROM header h
            CROSS JOIN unnest($4::text[]) AS c(category)
            LEFT JOIN usage_daily d
                ON d.account_sid = h.account_sid AND d.period = $3 AND d.local_date <= $2
                AND d.category = c.category AND NOT d.late
            GROUP BY h.account_sid, c.category
        )
        SELECT count(*) FROM header
        """,
        list(account_sids),
        through,
        period,
        list(categories),
        taken_at,
    )
    return int(taken)


@dataclass(frozen=True)
class StoredSnapshot:
    """The latest snapshot of one period of an account."""

    through: date
    taken_at: datetime
    quantities: dict[str, Decimal]


async def latest_snapshot(conn: Reader, account_sid: str, period: str) -> StoredSnapshot | None:
    """The account's snapshot of `period` with the latest `through`, with its lines."""
    rows = await conn.fetch(
        "SELECT s.through, s.taken_at, l.category, l.quantity"
        " FROM (SELECT through, taken_at FROM usage_snapshots"
        "       WHERE account_sid = $1 AND period = $2 ORDER BY through DESC LIMIT 1) AS s"
        " LEFT JOIN usage_snapshot_lines l ON l.account_sid = $1 AND l.through = s.through",
        account_sid,
        period,
    )
    if not rows:
        return None
    return StoredSnapshot(
        through=rows[0]["through"],
        taken_at=rows[0]["taken_at"],
        quantities={row["category"]: row["quantity"] for row in rows if row["category"]},
    )


async def daily_usage(
    conn: Reader, account_sid: str, period: str, through: date
) -> list[tuple[date, str, Decimal]]:
    """Per local date and category, the period's on-time usage up to `through` (a snapshot's)."""
    rows = await conn.fetch(
        "SELECT local_date, category, sum(quantity) AS quantity FROM usage_daily"
        " WHERE account_sid = $1 AND period = $2 AND local_date <= $3 AND NOT late"
        " GROUP BY local_date, category ORDER BY local_date, category",
        account_sid,
        period,
        through,
    )
    return [(row["local_date"], row["category"], row["quantity"]) for row in rows]


async def number_usage(
    conn: Reader, account_sid: str, period: str, recent: Sequence[tuple[date, str]]
) -> list[NumberUsage]:
    """Per phone number the account's events named in `period`: its month, from the daily rows.

    `recent` are today's and yesterday's (local date, period): a number held on one of them
    is in use. Held days in another period than the report's are looked up apart, so the
    month's rows are read once, in the primary key's order, without a sort.
    """
    in_period = [day for day, day_period in recent if day_period == period]
    rows = await conn.fetch(
        """
        SELECT phone_number,
               (array_agg(number_type ORDER BY local_date DESC)
                    FILTER (WHERE number_type IS NOT NULL))[1] AS number_type,
               min(local_date) AS first_used,
               max(local_date) AS last_used,
               count(*) AS days_used,
               sum(calls)::bigint AS calls,
               sum(minutes) AS minutes,
               bool_or(held AND local_date = ANY($3::date[])) AS held_recently
        FROM number_usage_daily
        WHERE account_sid = $1 AND period = $2
        GROUP BY phone_number
        ORDER BY phone_number
        """,
        account_sid,
        period,
        in_period,
    )
    elsewhere = [(day, day_period) for day, day_period in recent if day_period != period]
    held_elsewhere = await _held_on(conn, account_sid, elsewhere) if elsewhere else set()
    return [
        NumberUsage(
            phone_number=row["phone_number"],
            number_type=row["number_type"],
            first_used=row["first_used"],
            last_used=row["last_used"],
            days_used=row["days_used"],
            calls=row["calls"],
            minutes=row["minutes"],
            in_use=row["held_recently"] or row["phone_number"] in held_elsewhere,
        )
        for row in rows
    ]


async def _held_on(conn: Reader, account_sid: str, days: Sequence[tuple[date, str]]) -> set[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT n.phone_number FROM number_usage_daily n"
        " JOIN unnest($2::date[], $3::text[]) AS d(local_date, period)"
        "   ON n.period = d.period AND n.local_date = d.local_date"
        " WHERE n.account_sid = $1 AND n.held",
        account_sid,
        [day for day, _ in days],
        [period for _, period in days],
    )
    return {row["phone_number"] for row in rows}
