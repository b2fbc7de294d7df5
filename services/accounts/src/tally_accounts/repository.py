"""SQL for the `accounts` table and the mapping of its rows; no decisions."""

import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from tally_contracts.accounts import (
    AccountStatus,
    Address,
    AutoRecharge,
    BillingMode,
    InvoicingTerms,
)
from tally_contracts.periods import ZoneSpan
from tally_runtime.database import Connection

from tally_accounts.domain import Account

_COLUMNS = (
    "sid, owner, friendly_name, time_zone, status, billing_mode, flex, multi_account_invoicing,"
    " reseller, nonprofit_org, version, created_at, updated_at, contact_email, webhook_url,"
    " time_zones, terms, auto_recharge_enabled, auto_recharge_threshold, auto_recharge_amount,"
    " auto_recharge_card_token, mailing_address, po_number, invoice_recipients,"
    " billing_address_id, suspended_for_balance, balance_depleted_since, balance_seen_at"
)
_COUNT = len(_COLUMNS.split(","))
_SELECT = (
    "SELECT a.sid, a.owner, a.friendly_name, a.time_zone, a.status, a.billing_mode, a.flex,"
    " a.multi_account_invoicing, a.reseller, a.nonprofit_org, a.version, a.created_at,"
    " a.updated_at, a.contact_email, a.webhook_url, a.time_zones, a.terms,"
    " a.auto_recharge_enabled, a.auto_recharge_threshold, a.auto_recharge_amount,"
    " a.auto_recharge_card_token, a.mailing_address, a.po_number, a.invoice_recipients,"
    " a.billing_address_id, a.suspended_for_balance, a.balance_depleted_since,"
    " a.balance_seen_at,"
    " to_jsonb(b) - 'address_id' - 'owner' - 'created_at' AS billing_address"
    " FROM accounts a LEFT JOIN addresses b ON b.address_id = a.billing_address_id"
)


def _values(account: Account) -> tuple[object, ...]:
    recharge = account.auto_recharge
    return (
        account.sid,
        account.owner,
        account.friendly_name,
        account.time_zone,
        account.status.value,
        account.billing_mode.value,
        account.flex,
        account.multi_account_invoicing,
        account.reseller,
        account.nonprofit_org,
        account.version,
        account.created_at,
        account.updated_at,
        account.contact_email,
        account.webhook_url,
        json.dumps([span.model_dump(mode="json") for span in account.time_zones]),
        account.terms.model_dump_json() if account.terms else None,
        recharge.enabled,
        recharge.threshold,
        recharge.amount,
        recharge.card_token,
        account.mailing_address.model_dump_json() if account.mailing_address else None,
        account.po_number,
        list(account.invoice_recipients),
        account.billing_address_id,
        account.suspended_for_balance,
        account.balance_depleted_since,
        account.balance_seen_at,
    )


async def insert_account(conn: Connection, account: Account, *, opened_with: bytes) -> bool:
    """Store a new account, unless its SID is taken; whether it was stored."""
    placeholders = ", ".join(f"${n}" for n in range(1, _COUNT + 2))
    inserted: bool | None = await conn.fetchval(
        f"INSERT INTO accounts ({_COLUMNS}, opened_with)"  # noqa: S608 - a constant column list
        f" VALUES ({placeholders}) ON CONFLICT (sid) DO NOTHING RETURNING true",
        *_values(account),
        opened_with,
    )
    return bool(inserted)


async def update_account(conn: Connection, account: Account) -> None:
    """Write the next version of an account the caller holds locked."""
    assignments = ", ".join(
        f"{column.strip()} = ${n}" for n, column in enumerate(_COLUMNS.split(","), start=1)
    )
    updated = await conn.execute(
        f"UPDATE accounts SET {assignments}"  # noqa: S608 - constant column list
        f" WHERE sid = $1 AND version = ${_COUNT + 1}",
        *_values(account),
        account.version - 1,
    )
    if updated != "UPDATE 1":
        raise RuntimeError(f"{account.sid} is not at version {account.version - 1}")


async def fetch_opened(conn: Connection, sid: str) -> tuple[Account, bytes | None]:
    """An existing account and the hash of the request that opened it."""
    row = await conn.fetchrow(
        f"{_SELECT.replace(' FROM', ', a.opened_with FROM', 1)} WHERE a.sid = $1",
        sid,
    )
    assert row is not None
    return _account_from(row), row["opened_with"]


async def fetch_account(conn: Connection | asyncpg.Pool, sid: str) -> Account | None:
    """The account with this SID, or None."""
    row = await conn.fetchrow(f"{_SELECT} WHERE a.sid = $1", sid)
    return _account_from(row) if row else None


async def lock_account(conn: Connection, sid: str) -> Account | None:
    """The account with this SID, its row locked until the caller's transaction ends."""
    row = await conn.fetchrow(
        f"{_SELECT} WHERE a.sid = $1 FOR UPDATE OF a",
        sid,
    )
    return _account_from(row) if row else None


async def lock_accounts(conn: Connection, sids: Sequence[str]) -> list[Account]:
    """The accounts among `sids`, locked in SID order (two batches never deadlock)."""
    rows = await conn.fetch(
        f"{_SELECT} WHERE a.sid = ANY($1::text[]) ORDER BY a.sid FOR UPDATE OF a",
        list(sids),
    )
    return [_account_from(row) for row in rows]


async def lock_depleted_before(conn: Connection, cutoff: datetime, *, limit: int) -> list[Account]:
    """Active prepaid accounts depleted since before `cutoff`, locked; rows another replica
    holds are skipped (it is suspending them)."""
    rows = await conn.fetch(
        f"{_SELECT} WHERE a.balance_depleted_since < $1 AND NOT a.suspended_for_balance"
        " AND a.status = 'active' AND a.billing_mode IN ('trial', 'pay_as_you_go')"
        " ORDER BY a.sid LIMIT $2 FOR UPDATE OF a SKIP LOCKED",
        cutoff,
        limit,
    )
    return [_account_from(row) for row in rows]


async def set_balance_timers(
    conn: Connection,
    sids: Sequence[str],
    depleted_since: Sequence[datetime | None],
    seen_at: Sequence[datetime | None],
) -> None:
    """Record, per account, when its balance became depleted and the newest fact applied."""
    await conn.execute(
        "UPDATE accounts a SET balance_depleted_since = f.depleted_since,"
        " balance_seen_at = f.seen_at"
        " FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[])"
        " AS f(sid, depleted_since, seen_at) WHERE a.sid = f.sid",
        list(sids),
        list(depleted_since),
        list(seen_at),
    )


async def accounts_of_owner(conn: Connection | asyncpg.Pool, owner: str) -> list[Account]:
    """Every account of `owner`."""
    rows = await conn.fetch(f"{_SELECT} WHERE a.owner = $1 ORDER BY a.sid", owner)
    return [_account_from(row) for row in rows]


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


def _account_from(row: asyncpg.Record) -> Account:
    terms = _json(row["terms"])
    mailing = _json(row["mailing_address"])
    billing = _json(row["billing_address"])
    return Account(
        sid=row["sid"],
        owner=row["owner"],
        friendly_name=row["friendly_name"],
        time_zone=row["time_zone"],
        status=AccountStatus(row["status"]),
        billing_mode=BillingMode(row["billing_mode"]),
        flex=row["flex"],
        multi_account_invoicing=row["multi_account_invoicing"],
        reseller=row["reseller"],
        nonprofit_org=row["nonprofit_org"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        contact_email=row["contact_email"],
        webhook_url=row["webhook_url"],
        time_zones=tuple(ZoneSpan.model_validate(s) for s in _json(row["time_zones"])),  # type: ignore[attr-defined]
        terms=InvoicingTerms.model_validate(terms) if terms else None,
        auto_recharge=AutoRecharge(
            enabled=row["auto_recharge_enabled"],
            threshold=row["auto_recharge_threshold"],
            amount=row["auto_recharge_amount"],
            card_token=row["auto_recharge_card_token"],
        ),
        mailing_address=Address.model_validate(mailing) if mailing else None,
        po_number=row["po_number"],
        invoice_recipients=tuple(row["invoice_recipients"]),
        billing_address_id=row["billing_address_id"],
        billing_address=Address.model_validate(billing) if billing else None,
        suspended_for_balance=row["suspended_for_balance"],
        balance_depleted_since=row["balance_depleted_since"],
        balance_seen_at=row["balance_seen_at"],
    )
