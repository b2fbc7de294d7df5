"""SQL of the prepaid ledger, running quantities, recharges and exposure; no decisions."""

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import asyncpg
from tally_contracts.accounts import AccountState, BillingMode
from tally_runtime.database import Connection

from tally_invoicing.ledger import Entry, LedgerAccount, Posted


def _account(row: asyncpg.Record) -> LedgerAccount:
    return LedgerAccount(
        account_sid=row["account_sid"],
        balance=row["balance"],
        billing_mode=None if row["billing_mode"] is None else BillingMode(row["billing_mode"]),
        mode_version=row["mode_version"],
        threshold=row["threshold"],
        auto_recharge=row["auto_recharge"],
        recharge_amount=row["recharge_amount"],
        alerted=row["alerted"],
    )


async def lock_accounts(
    conn: Connection, account_sids: Sequence[str], at: datetime
) -> dict[str, LedgerAccount]:
    """Lock each account's balance row (made at 0 if new), in a fixed order; their contents.

    Every change of an account's money or mode takes this lock first, so a batch reading the
    mode and drawing down is serialized with the state that switches the account to invoiced.
    """
    sids = sorted(set(account_sids))  # a fixed order: concurrent batches cannot deadlock
    await conn.execute(
        """
        INSERT INTO balances (account_sid, balance, updated_at)
        SELECT account_sid, 0, $2 FROM unnest($1::text[]) AS u(account_sid)
        ON CONFLICT (account_sid) DO NOTHING
        """,
        sids,
        at,
    )
    rows = await conn.fetch(
        """
        SELECT account_sid, balance, billing_mode, mode_version, threshold, auto_recharge,
               recharge_amount, alerted, time_zone, rates, credit_limit, exposure_alerted
        FROM balances WHERE account_sid = ANY($1::text[])
        ORDER BY account_sid
        FOR UPDATE
        """,
        sids,
    )
    return {row["account_sid"]: _account(row) for row in rows}


async def account_terms(
    conn: Connection, account_sids: Sequence[str]
) -> dict[str, tuple[str | None, dict[str, Decimal], Decimal | None, int]]:
    """Each account's zone, negotiated rates, credit limit and exposure alerted, as known."""
    rows = await conn.fetch(
        "SELECT account_sid, time_zone, rates, credit_limit, exposure_alerted"
        " FROM balances WHERE account_sid = ANY($1::text[])",
        list(set(account_sids)),
    )
    return {
        row["account_sid"]: (
            row["time_zone"],
            {k: Decimal(v) for k, v in json.loads(row["rates"] or "{}").items()},
            row["credit_limit"],
            row["exposure_alerted"],
        )
        for row in rows
    }


async def existing_entries(conn: Connection, entry_ids: Sequence[str]) -> set[str]:
    """Which of the entry ids are in the ledger already."""
    rows = await conn.fetch(
        "SELECT entry_id FROM ledger_entries WHERE entry_id = ANY($1::text[])", list(entry_ids)
    )
    return {row["entry_id"] for row in rows}


async def save_posted(conn: Connection, posted: Sequence[Posted], at: datetime) -> None:
    """Write the entries and each account's new balance and alert state."""
    entries: list[tuple[Entry, Decimal]] = [pair for p in posted for pair in p.entries]
    await conn.execute(
        """
        INSERT INTO ledger_entries (entry_id, account_sid, kind, amount, balance_after,
                                    created_at)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[],
                             $5::numeric[], $6::timestamptz[])
        """,
        [e.entry_id for e, _ in entries],
        [e.account_sid for e, _ in entries],
        [e.kind.value for e, _ in entries],
        [e.amount for e, _ in entries],
        [balance for _, balance in entries],
        [e.created_at for e, _ in entries],
    )
    await conn.execute(
        """
        UPDATE balances SET balance = u.balance, alerted = u.alerted, updated_at = $4
        FROM unnest($1::text[], $2::numeric[], $3::text[]) AS u(account_sid, balance, alerted)
        WHERE balances.account_sid = u.account_sid
        """,
        [p.account.account_sid for p in posted],
        [p.balance for p in posted],
        [p.alerted for p in posted],
        at,
    )


async def ledger_sum(conn: Connection, account_sid: str) -> tuple[Decimal, Decimal]:
    """The account's balance row and the sum of its ledger entries (equal, always)."""
    row = await conn.fetchrow(
        """
        SELECT coalesce((SELECT balance FROM balances WHERE account_sid = $1), 0) AS balance,
               coalesce((SELECT sum(amount) FROM ledger_entries WHERE account_sid = $1), 0)
                   AS entries
        """,
        account_sid,
    )
    assert row is not None
    return row["balance"], row["entries"]


async def store_account_views(conn: Connection, states: Sequence[AccountState]) -> None:
    """Keep each account's mode, zone, terms and auto-recharge on its (locked) balance row."""
    await conn.execute(
        """
        UPDATE balances
        SET mode_version = u.version, billing_mode = u.billing_mode, time_zone = u.time_zone,
            rates = u.rates::jsonb, credit_limit = u.credit_limit, threshold = u.threshold,
            auto_recharge = u.auto_recharge, recharge_amount = u.recharge_amount
        FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::numeric[],
                    $7::numeric[], $8::bool[], $9::numeric[])
            AS u(account_sid, version, billing_mode, time_zone, rates, credit_limit,
                 threshold, auto_recharge, recharge_amount)
        WHERE balances.account_sid = u.account_sid AND balances.mode_version < u.version
        """,
        [s.account_sid for s in states],
        [s.version for s in states],
        [s.billing_mode.value for s in states],
        [s.time_zone for s in states],
        [
            json.dumps({k: str(v) for k, v in (s.terms.rates if s.terms else {}).items()})
            for s in states
        ],
        [s.terms.credit_limit if s.terms else None for s in states],
        [s.auto_recharge.threshold for s in states],
        [s.auto_recharge.enabled for s in states],
        [s.auto_recharge.amount for s in states],
    )


async def insert_frozen_balances(
    conn: Connection, frozen: Sequence[tuple[str, str, Decimal]], at: datetime
) -> None:
    """Record (freeze id, account, remainder) for the next invoice's adjustment line."""
    await conn.execute(
        """
        INSERT INTO frozen_balances (freeze_id, account_sid, remainder, frozen_at)
        SELECT *, $4 FROM unnest($1::text[], $2::text[], $3::numeric[])
        ON CONFLICT (freeze_id) DO NOTHING
        """,
        [f[0] for f in frozen],
        [f[1] for f in frozen],
        [f[2] for f in frozen],
        at,
    )
