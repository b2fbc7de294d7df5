"""Invoicing's SQL and row mapping; no decisions are taken here."""

from datetime import datetime
from decimal import Decimal

import asyncpg
from tally_contracts.usage import UsageCategory
from tally_runtime.database import Connection

from tally_invoicing.domain import CURRENCY, Balance, Charge, RateCard


async def load_rate_card(conn: Connection) -> RateCard:
    """The current unit price of every category."""
    rows = await conn.fetch("SELECT category, unit_price FROM rate_card")
    return {UsageCategory(row["category"]): row["unit_price"] for row in rows}


async def insert_charge(conn: Connection, charge: Charge) -> bool:
    """Store `charge`; False when a charge with its id already exists."""
    status = await conn.execute(
        """
        INSERT INTO charges (charge_id, account_sid, usage_event_id, category, quantity,
                             unit_price, amount, currency, usage_occurred_at, charged_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (charge_id) DO NOTHING
        """,
        charge.charge_id,
        charge.account_sid,
        charge.usage_event_id,
        charge.category.value,
        charge.quantity,
        charge.unit_price,
        charge.amount,
        CURRENCY,
        charge.usage_occurred_at,
        charge.charged_at,
    )
    return bool(status == "INSERT 0 1")


async def add_to_balance(
    conn: Connection, account_sid: str, delta: Decimal, at: datetime
) -> Decimal:
    """Move the account's balance by `delta` (from 0 for a new account); returns the new one."""
    # One statement, so concurrent charges of one account serialise on the row lock.
    balance: Decimal = await conn.fetchval(
        """
        INSERT INTO balances (account_sid, balance, currency, updated_at)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (account_sid) DO UPDATE
            SET balance = balances.balance + EXCLUDED.balance, updated_at = EXCLUDED.updated_at
        RETURNING balance
        """,
        account_sid,
        delta,
        CURRENCY,
        at,
    )
    return balance


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
    )


async def fetch_charges(conn: Connection, account_sid: str, limit: int) -> list[Charge]:
    """The account's most recent charges, newest first."""
    rows = await conn.fetch(
        """
        SELECT charge_id, account_sid, usage_event_id, category, quantity, unit_price, amount,
               usage_occurred_at, charged_at
        FROM charges WHERE account_sid = $1
        ORDER BY charged_at DESC, charge_id DESC
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
    """The account's balance, if it was ever charged."""
    row = await conn.fetchrow(
        "SELECT balance, updated_at FROM balances WHERE account_sid = $1", account_sid
    )
    if row is None:
        return None
    return Balance(account_sid=account_sid, amount=row["balance"], updated_at=row["updated_at"])
