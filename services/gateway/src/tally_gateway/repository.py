"""SQL for the gateway's credentials and account openings; no decisions."""

from datetime import datetime

import asyncpg
from tally_runtime.database import Connection

from tally_gateway.domain import Opening

Executor = Connection | asyncpg.Pool


async def save_auth_token_hash(conn: Executor, account_sid: str, token_hash: bytes) -> None:
    """Store the hash of a new account's auth token; one already stored is kept."""
    await conn.execute(
        "INSERT INTO auth_tokens (account_sid, token_hash) VALUES ($1, $2)"
        " ON CONFLICT (account_sid) DO NOTHING",
        account_sid,
        token_hash,
    )


async def fetch_auth_token_hash(conn: Executor, account_sid: str) -> bytes | None:
    """The stored hash of an account's auth token, or None."""
    token_hash: bytes | None = await conn.fetchval(
        "SELECT token_hash FROM auth_tokens WHERE account_sid = $1", account_sid
    )
    return token_hash


async def record_opening(conn: Connection, opening: Opening) -> Opening:
    """Store an opening unless its key has one already; the stored one either way."""
    await conn.execute(
        "INSERT INTO account_openings"
        " (idempotency_key, request_hash, account_sid, token_seed, opened_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (idempotency_key) DO NOTHING",
        opening.idempotency_key,
        opening.request_hash,
        opening.account_sid,
        opening.token_seed,
        opening.opened_at,
    )
    # A statement of its own: it sees a row a concurrent request committed meanwhile.
    row = await conn.fetchrow(
        "SELECT idempotency_key, request_hash, account_sid, token_seed, opened_at"
        " FROM account_openings WHERE idempotency_key = $1",
        opening.idempotency_key,
    )
    assert row is not None
    return Opening(**dict(row))


async def forget_token_seeds(conn: Connection, *, opened_before: datetime) -> None:
    """Drop the token seeds of openings older than `opened_before`."""
    await conn.execute(
        "UPDATE account_openings SET token_seed = NULL"
        " WHERE token_seed IS NOT NULL AND opened_at < $1",
        opened_before,
    )
