"""SQL for what dates an account's usage and for usage awaiting its account; no decisions.

The zones and closed periods come from other services' facts (`accounts.state.v1`,
`invoices.month_closed.v1`); records of accounts usage has no state for wait in
`awaiting_account` until it arrives.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from tally_contracts.accounts import AccountState
from tally_contracts.periods import EARLIEST, ZoneSpan
from tally_runtime.database import Connection
from tally_runtime.records import ConsumedRecord

from tally_usage.dating import AccountDating

AWAITING_LOCK_CLASS = 0x7573_6177  # "usaw": the advisory-lock space of accounts awaited
AWAITING_LOCK_BUCKETS = 1024
"""Accounts share this many locks: a transaction never holds more, whatever its batch."""


async def account_datings(
    conn: Connection, account_sids: Sequence[str]
) -> dict[str, AccountDating]:
    """The zone history and closed periods of each of `account_sids` usage knows the state of."""
    rows = await conn.fetch(
        "SELECT k.account_sid, k.time_zone, z.zones, z.starts, z.first_months, c.closed"
        " FROM known_accounts k"
        " LEFT JOIN LATERAL (SELECT array_agg(time_zone ORDER BY effective_from) AS zones,"
        "     array_agg(effective_from ORDER BY effective_from) AS starts,"
        "     array_agg(first_month ORDER BY effective_from) AS first_months"
        "   FROM account_time_zones t WHERE t.account_sid = k.account_sid) z ON true"
        " LEFT JOIN LATERAL (SELECT array_agg(period) AS closed"
        "   FROM closed_periods p WHERE p.account_sid = k.account_sid) c ON true"
        " WHERE k.account_sid = ANY($1::text[])",
        list(account_sids),
    )
    datings = {}
    for row in rows:
        if row["zones"]:
            history = [
                # Read back from our own rows: no need to validate them again, per batch.
                ZoneSpan.model_construct(
                    time_zone=zone, effective_from=_instant(start), first_month=first_month
                )
                for zone, start, first_month in zip(
                    row["zones"], row["starts"], row["first_months"], strict=True
                )
            ]
        else:  # no zone rows (every state writes them): the state's one zone, always
            history = [
                ZoneSpan.model_construct(time_zone=row["time_zone"], effective_from=EARLIEST)
            ]
        datings[row["account_sid"]] = AccountDating(history, frozenset(row["closed"] or ()))
    return datings


def _instant(value: datetime) -> datetime:
    # asyncpg reads '-infinity' (the first zone's start) as a naive datetime.min.
    return EARLIEST if value.tzinfo is None else value.astimezone(UTC)


async def known_among(conn: Connection, account_sids: Sequence[str]) -> set[str]:
    """Which of `account_sids` usage already keeps a state for."""
    rows = await conn.fetch(
        "SELECT account_sid FROM known_accounts WHERE account_sid = ANY($1::text[])",
        list(account_sids),
    )
    return {row["account_sid"] for row in rows}


async def lock_awaited_accounts(conn: Connection, account_sids: Sequence[str]) -> None:
    """Hold, until commit, the lock that orders parking an account's records and applying them.

    Taken in one order by every transaction, so two of them never deadlock over them.
    """
    if not account_sids:
        return
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1::int, bucket) FROM ("
        "   SELECT DISTINCT (hashtext(sid) & ($3::int - 1)) AS bucket"
        "   FROM unnest($2::text[]) AS sid ORDER BY bucket) AS buckets",
        AWAITING_LOCK_CLASS,
        list(account_sids),
        AWAITING_LOCK_BUCKETS,
    )


async def replace_time_zones(conn: Connection, states: Sequence[AccountState]) -> None:
    """Keep the zone history of each state that is its account's newest kept version.

    An older version delivered late is left out, as `known_accounts` leaves it out.
    """
    if not states:
        return
    await conn.execute(
        "DELETE FROM account_time_zones t"
        " USING unnest($1::text[], $2::int[]) AS s(account_sid, version)"
        " JOIN known_accounts k USING (account_sid)"
        " WHERE k.version = s.version AND t.account_sid = s.account_sid",
        [state.account_sid for state in states],
        [state.version for state in states],
    )
    spans = [(state, span) for state in states for span in state.zone_history()]
    await conn.execute(
        "INSERT INTO account_time_zones (account_sid, effective_from, time_zone, first_month)"
        " SELECT s.account_sid, s.effective_from, s.time_zone, s.first_month"
        " FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::text[], $5::text[])"
        "   AS s(account_sid, version, effective_from, time_zone, first_month)"
        " JOIN known_accounts k ON k.account_sid = s.account_sid AND k.version = s.version"
        " ON CONFLICT DO NOTHING",
        [state.account_sid for state, _ in spans],
        [state.version for state, _ in spans],
        # datetime.min is written as '-infinity': before any instant.
        [span.effective_from for _, span in spans],
        [span.time_zone for _, span in spans],
        [span.first_month for _, span in spans],
    )


async def close_periods(conn: Connection, closed: Sequence[tuple[str, str, datetime]]) -> None:
    """Remember each (account_sid, period, closed_at): later usage for those periods is late."""
    if not closed:
        return
    await conn.execute(
        "INSERT INTO closed_periods (account_sid, period, closed_at)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])"
        " ON CONFLICT DO NOTHING",
        [account_sid for account_sid, _, _ in closed],
        [period for _, period, _ in closed],
        [closed_at for _, _, closed_at in closed],
    )


async def park_awaiting(
    conn: Connection,
    parked: Sequence[tuple[str, ConsumedRecord]],
    parked_at: datetime,
) -> int:
    """Keep each (account_sid, record) until the account's state arrives; how many are new.

    Keyed by the record's position: a record delivered again is kept once.
    """
    if not parked:
        return 0
    status = await conn.execute(
        "INSERT INTO awaiting_account (account_sid, source_topic, source_partition,"
        " source_offset, record_key, record_value, traceparent, parked_at)"
        " SELECT *, $8 FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[],"
        "   $5::bytea[], $6::bytea[], $7::text[])"
        " ON CONFLICT DO NOTHING",
        [account_sid for account_sid, _ in parked],
        [record.topic for _, record in parked],
        [record.partition for _, record in parked],
        [record.offset for _, record in parked],
        [record.key for _, record in parked],
        [record.value for _, record in parked],
        [record.traceparent for _, record in parked],
        parked_at,
    )
    return int(status.split()[-1])


async def take_awaiting(conn: Connection, account_sids: Sequence[str]) -> list[ConsumedRecord]:
    """Remove and return the records awaiting any of `account_sids`, in their topic's order."""
    if not account_sids:
        return []
    rows = await conn.fetch(
        "DELETE FROM awaiting_account WHERE account_sid = ANY($1::text[])"
        " RETURNING source_topic, source_partition, source_offset, record_key, record_value,"
        "   traceparent",
        list(account_sids),
    )
    records = [
        ConsumedRecord(
            topic=row["source_topic"],
            partition=row["source_partition"],
            offset=row["source_offset"],
            key=row["record_key"],
            value=row["record_value"],
            traceparent=row["traceparent"],
        )
        for row in rows
    ]
    return sorted(records, key=lambda record: (record.topic, record.partition, record.offset))
