"""SQL for the owners' address books and which account used which address; no decisions."""

from datetime import datetime

import asyncpg
from tally_contracts.accounts import Address
from tally_runtime.database import Connection

_FIELDS = "line1, line2, city, region, postal_code, country"


async def add_address(
    conn: Connection, owner: str, address_id: str, address: Address, *, sid: str, now: datetime
) -> None:
    """Put `address` in `owner`'s book (once) and note that account `sid` used it."""
    await conn.execute(
        f"INSERT INTO addresses (address_id, owner, {_FIELDS}, created_at)"  # noqa: S608
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (address_id) DO NOTHING",
        address_id,
        owner,
        address.line1,
        address.line2,
        address.city,
        address.region,
        address.postal_code,
        address.country,
        now,
    )
    await use_address(conn, address_id, sid=sid, now=now)


async def use_address(conn: Connection, address_id: str, *, sid: str, now: datetime) -> None:
    """Note that account `sid` used an address of its owner's book."""
    await conn.execute(
        "INSERT INTO account_addresses (sid, address_id, first_used) VALUES ($1, $2, $3)"
        " ON CONFLICT (sid, address_id) DO NOTHING",
        sid,
        address_id,
        now,
    )


async def owner_address(
    conn: Connection | asyncpg.Pool, owner: str, address_id: str
) -> Address | None:
    """The address with this id in `owner`'s book, or None."""
    row = await conn.fetchrow(
        f"SELECT {_FIELDS} FROM addresses WHERE owner = $1 AND address_id = $2",  # noqa: S608
        owner,
        address_id,
    )
    return Address(**dict(row)) if row else None


async def addresses_used_by_others(
    conn: Connection | asyncpg.Pool, owner: str, sid: str
) -> list[tuple[str, Address]]:
    """The addresses `owner`'s accounts other than `sid` used, oldest first."""
    rows = await conn.fetch(
        f"SELECT a.address_id, {', '.join('a.' + f.strip() for f in _FIELDS.split(','))}"  # noqa: S608
        " FROM addresses a WHERE a.owner = $1 AND EXISTS (SELECT 1 FROM account_addresses u"
        " WHERE u.address_id = a.address_id AND u.sid <> $2)"
        " ORDER BY a.created_at, a.address_id",
        owner,
        sid,
    )
    return [
        (row["address_id"], Address(**{k: v for k, v in row.items() if k != "address_id"}))
        for row in rows
    ]
