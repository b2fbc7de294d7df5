"""Invoicing's SQL and row mapping; no decisions are taken here."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

import asyncpg
from tally_contracts.usage import UsageCategory
from tally_runtime.database import Connection

from tally_invoicing.domain import CURRENCY, Balance, Charge
from tally_invoicing.prepaid import TopUp


async def existing_charges(conn: Connection, charge_ids: Sequence[str]) -> set[str]:
    """Which of the charge ids are stored already."""
    rows = await conn.fetch(
        "SELECT charge_id FROM charges WHERE charge_id = ANY($1::text[])", list(charge_ids)
    )
    return {row["charge_id"] for row in rows}


async def insert_charges(conn: Connection, charges: Sequence[Charge]) -> set[str]:
    """Store the charges whose id is not stored yet; returns the ids stored now."""
    rows = await conn.fetch(
        """
        INSERT INTO charges (charge_id, account_sid, usage_event_id, category, quantity,
                             unit_price, amount, currency, usage_occurred_at, charged_at,
                             period, local_date, late, prepaid)
        SELECT charge_id, account_sid, usage_event_id, category, quantity, unit_price, amount,
               $8, usage_occurred_at, $9, period, local_date, late, prepaid
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[],
                    $6::numeric[], $7::numeric[], $10::timestamptz[], $11::text[],
                    $12::date[], $13::bool[], $14::bool[])
            WITH ORDINALITY AS u(charge_id, account_sid, usage_event_id, category, quantity,
                                 unit_price, amount, usage_occurred_at, period, local_date,
                                 late, prepaid, rated)
        ORDER BY rated
        ON CONFLICT (charge_id) DO NOTHING
        RETURNING charge_id
        """,
        [charge.charge_id for charge in charges],
        [charge.account_sid for charge in charges],
        [charge.usage_event_id for charge in charges],
        [charge.category.value for charge in charges],
        [charge.quantity for charge in charges],
        [charge.unit_price for charge in charges],
        [charge.amount for charge in charges],
        CURRENCY,
        charges[0].charged_at if charges else None,
        [charge.usage_occurred_at for charge in charges],
        [charge.period for charge in charges],
        [charge.local_date for charge in charges],
        [charge.late for charge in charges],
        [charge.prepaid for charge in charges],
    )
    return {row["charge_id"] for row in rows}


def _charge(row: asyncpg.Record) -> Charge:
    return Charge(
        charge_id=row["charge_id"],
        account_sid=row["account_sid"],
        usage_event_id=row["usage_event_id"],
        category=UsageCategory(row["category"]),
        quantity=row["quantity"],
        unit_price=row["unit_price"],
        amount=row["amount"],
        usage_occurred_at=row["usage_occurred_at"],
        charged_at=row["charged_at"],
        period=row["period"],
        local_date=row["local_date"],
        late=row["late"],
        prepaid=row["prepaid"],
    )


async def fetch_charges(conn: Connection, account_sid: str, limit: int) -> list[Charge]:
    """The account's most recent charges, newest first."""
    rows = await conn.fetch(
        """
        SELECT charge_id, account_sid, usage_event_id, category, quantity, unit_price, amount,
               usage_occurred_at, charged_at, period, local_date, late, prepaid
        FROM charges WHERE account_sid = $1
        ORDER BY charged_at DESC, rated_order DESC
        LIMIT $2
        """,
        account_sid,
        limit,
    )
    return [_charge(row) for row in rows]


async def charges_summary(conn: Connection, account_sid: str) -> tuple[int, Decimal]:
    """How many charges the account has and what they add up to."""
    row = await conn.fetchrow(
        "SELECT count(*) AS count, coalesce(sum(amount), 0) AS total"
        " FROM charges WHERE account_sid = $1",
        account_sid,
    )
    assert row is not None
    return row["count"], row["total"]


async def fetch_balance(conn: Connection, account_sid: str) -> Balance | None:
    """The account's balance, if anything ever moved it."""
    row = await conn.fetchrow(
        "SELECT balance, updated_at FROM balances WHERE account_sid = $1", account_sid
    )
    if row is None:
        return None
    return Balance(account_sid=account_sid, amount=row["balance"], updated_at=row["updated_at"])


async def fetch_low_balance_threshold(conn: Connection, account_sid: str) -> Decimal | None:
    """The low-balance threshold the account's newest state set, if one did."""
    threshold: Decimal | None = await conn.fetchval(
        "SELECT low_balance_threshold FROM low_balance_thresholds WHERE account_sid = $1",
        account_sid,
    )
    return threshold


async def store_low_balance_thresholds(
    conn: Connection, thresholds: Mapping[str, tuple[int, Decimal]]
) -> None:
    """Keep each account's threshold by (state version, threshold); an older version loses."""
    sids = sorted(thresholds)  # a fixed order: concurrent batches cannot deadlock
    await conn.execute(
        """
        INSERT INTO low_balance_thresholds (account_sid, version, low_balance_threshold)
        SELECT * FROM unnest($1::text[], $2::int[], $3::numeric[])
        ON CONFLICT (account_sid) DO UPDATE
            SET version = EXCLUDED.version,
                low_balance_threshold = EXCLUDED.low_balance_threshold
            WHERE low_balance_thresholds.version < EXCLUDED.version
        """,
        sids,
        [thresholds[sid][0] for sid in sids],
        [thresholds[sid][1] for sid in sids],
    )


def _top_up(row: asyncpg.Record) -> TopUp:
    return TopUp(
        top_up_id=row["top_up_id"],
        account_sid=row["account_sid"],
        amount=row["amount"],
        balance=row["balance_after"],
        fingerprint=row["request_fingerprint"],
        provider_reference=row["provider_reference"],
        created_at=row["created_at"],
    )


async def fetch_top_up(conn: Connection, top_up_id: str) -> TopUp | None:
    """The top-up made under `top_up_id`, if there is one."""
    row = await conn.fetchrow(
        """
        SELECT top_up_id, account_sid, amount, balance_after, request_fingerprint,
               provider_reference, created_at
        FROM top_ups WHERE top_up_id = $1
        """,
        top_up_id,
    )
    return None if row is None else _top_up(row)


async def insert_top_up(conn: Connection, top_up: TopUp) -> bool:
    """Store the top-up unless its id is stored already; whether it was stored now."""
    stored = await conn.fetchval(
        """
        INSERT INTO top_ups (top_up_id, account_sid, amount, currency, request_fingerprint,
                             provider_reference, balance_after, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (top_up_id) DO NOTHING
        RETURNING true
        """,
        top_up.top_up_id,
        top_up.account_sid,
        top_up.amount,
        CURRENCY,
        top_up.fingerprint,
        top_up.provider_reference,
        top_up.balance,
        top_up.created_at,
    )
    return bool(stored)


async def insert_trial_credits(
    conn: Connection, account_sids: Sequence[str], amount: Decimal, at: datetime
) -> list[str]:
    """Record the trial credit of the accounts that have none yet; those credited now, sorted."""
    rows = await conn.fetch(
        """
        INSERT INTO trial_credits (account_sid, amount, credited_at)
        SELECT account_sid, $2, $3 FROM unnest($1::text[]) AS u(account_sid)
        ORDER BY account_sid
        ON CONFLICT (account_sid) DO NOTHING
        RETURNING account_sid
        """,
        sorted(account_sids),
        amount,
        at,
    )
    return sorted(row["account_sid"] for row in rows)
