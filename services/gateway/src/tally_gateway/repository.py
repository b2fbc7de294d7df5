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


async def save_api_key(
    conn: Executor, key_sid: str, account_sid: str, secret_hash: bytes, *, now: datetime
) -> None:
    """Store a new API key's hash."""
    await conn.execute(
        "INSERT INTO api_keys (key_sid, account_sid, secret_hash, created_at)"
        " VALUES ($1, $2, $3, $4)",
        key_sid,
        account_sid,
        secret_hash,
        now,
    )


async def fetch_api_key(conn: Executor, key_sid: str) -> tuple[str, bytes] | None:
    """The account and secret hash of an API key that is not revoked, or None."""
    row = await conn.fetchrow(
        "SELECT account_sid, secret_hash FROM api_keys WHERE key_sid = $1 AND revoked_at IS NULL",
        key_sid,
    )
    return (row["account_sid"], row["secret_hash"]) if row else None


async def revoke_api_key(conn: Executor, account_sid: str, key_sid: str, *, now: datetime) -> bool:
    """Revoke one of the account's keys; False if it has no such key (revoked ones included)."""
    found: bool | None = await conn.fetchval(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $3)"
        " WHERE key_sid = $1 AND account_sid = $2 RETURNING true",
        key_sid,
        account_sid,
        now,
    )
    return bool(found)
