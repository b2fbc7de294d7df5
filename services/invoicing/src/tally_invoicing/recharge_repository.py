"""SQL of auto-recharges: pending, skipped and settled; no decisions."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from tally_runtime.database import Connection


async def insert_pending_recharges(
    conn: Connection, recharges: Sequence[tuple[str, str, Decimal]], at: datetime
) -> None:
    """Record (recharge id, account, amount) pending; one pending per account at most."""
    await conn.execute(
        """
        INSERT INTO recharges (recharge_id, account_sid, amount, created_at)
        SELECT *, $4 FROM unnest($1::text[], $2::text[], $3::numeric[])
        ON CONFLICT DO NOTHING
        """,
        [r[0] for r in recharges],
        [r[1] for r in recharges],
        [r[2] for r in recharges],
        at,
    )


async def skip_pending_recharges(
    conn: Connection, account_sids: Sequence[str], at: datetime
) -> None:
    """Drop the pending recharges of accounts now invoiced (the guard would refuse them)."""
    await conn.execute(
        """
        UPDATE recharges SET state = 'skipped', reason = 'the account is invoiced', settled_at = $2
        WHERE account_sid = ANY($1::text[]) AND state = 'pending'
        """,
        list(account_sids),
        at,
    )


async def pending_recharges(conn: Connection, limit: int) -> list[tuple[str, str]]:
    """The oldest pending recharges: (recharge id, account)."""
    rows = await conn.fetch(
        "SELECT recharge_id, account_sid FROM recharges WHERE state = 'pending'"
        " ORDER BY created_at LIMIT $1",
        limit,
    )
    return [(row["recharge_id"], row["account_sid"]) for row in rows]


async def settle_recharge(
    conn: Connection,
    recharge_id: str,
    *,
    state: str,
    amount: Decimal | None,
    reason: str | None,
    reference: str | None,
    at: datetime,
) -> bool:
    """Settle a pending recharge; False if it was settled already (another replica did)."""
    settled = await conn.fetchval(
        """
        UPDATE recharges
        SET state = $2, amount = coalesce($3, amount), reason = $4, provider_reference = $5,
            settled_at = $6
        WHERE recharge_id = $1 AND state = 'pending'
        RETURNING true
        """,
        recharge_id,
        state,
        amount,
        reason,
        reference,
        at,
    )
    return bool(settled)


async def recharge_states(conn: Connection, account_sid: str) -> list[tuple[str, str, Decimal]]:
    """The account's recharges, oldest first: (recharge id, state, amount)."""
    rows = await conn.fetch(
        "SELECT recharge_id, state, amount FROM recharges WHERE account_sid = $1"
        " ORDER BY created_at, recharge_id",
        account_sid,
    )
    return [(row["recharge_id"], row["state"], row["amount"]) for row in rows]
