"""SQL for the `accounts` table and the mapping of its rows; no decisions."""

import asyncpg
from tally_contracts.accounts import AccountStatus, BillingMode
from tally_runtime.database import Connection

from tally_accounts.domain import Account

_COLUMNS = (
    "sid, owner, friendly_name, time_zone, status, billing_mode, flex, multi_account_invoicing,"
    " reseller, nonprofit_org, version, created_at, updated_at"
)


async def insert_account(conn: Connection, account: Account, *, opened_with: bytes) -> bool:
    """Store a new account, unless its SID is taken; whether it was stored."""
    inserted: bool | None = await conn.fetchval(
        f"INSERT INTO accounts ({_COLUMNS}, opened_with)"  # noqa: S608 - a constant column list
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        " ON CONFLICT (sid) DO NOTHING RETURNING true",
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
        opened_with,
    )
    return bool(inserted)


async def fetch_opened(conn: Connection, sid: str) -> tuple[Account, bytes | None]:
    """An existing account and the hash of the request that opened it."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS}, opened_with FROM accounts WHERE sid = $1",  # noqa: S608 - constant
        sid,
    )
    assert row is not None
    return _account_from(row), row["opened_with"]


async def fetch_account(conn: Connection | asyncpg.Pool, sid: str) -> Account | None:
    """The account with this SID, or None."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM accounts WHERE sid = $1",  # noqa: S608 - a constant column list
        sid,
    )
    return _account_from(row) if row else None


def _account_from(row: asyncpg.Record) -> Account:
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
    )
