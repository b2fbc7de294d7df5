"""SQL for the gateway's credentials, account openings and idempotent requests; no decisions."""

from dataclasses import dataclass
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


@dataclass(frozen=True)
class IdempotentRequest:
    """A request stored under its caller's Idempotency-Key; `status` None while it runs."""

    fingerprint: bytes
    status: int | None
    media_type: str | None
    sealed_body: bytes | None


async def claim_idempotency_key(
    conn: Executor,
    scope: str,
    key: str,
    fingerprint: bytes,
    *,
    now: datetime,
    expired_before: datetime,
    stale_before: datetime,
) -> IdempotentRequest | None:
    """Claim a key for a request: None if claimed now, else what the key already holds.

    A key whose row is older than `expired_before`, or whose claim was never answered and is
    older than `stale_before`, is claimed afresh.
    """
    await conn.execute("DELETE FROM idempotent_requests WHERE claimed_at < $1", expired_before)
    claimed = await conn.fetchval(
        "INSERT INTO idempotent_requests (scope, idempotency_key, fingerprint, claimed_at)"
        " VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (scope, idempotency_key) DO UPDATE SET fingerprint = excluded.fingerprint,"
        " claimed_at = excluded.claimed_at, status = NULL, media_type = NULL, sealed_body = NULL"
        " WHERE idempotent_requests.claimed_at < $5"
        " OR (idempotent_requests.status IS NULL AND idempotent_requests.claimed_at < $6)"
        " RETURNING true",
        scope,
        key,
        fingerprint,
        now,
        expired_before,
        stale_before,
    )
    if claimed:
        return None
    # A statement of its own: it sees the row of a request committed meanwhile.
    row = await conn.fetchrow(
        "SELECT fingerprint, status, media_type, sealed_body FROM idempotent_requests"
        " WHERE scope = $1 AND idempotency_key = $2",
        scope,
        key,
    )
    # Released between the two statements: the first request failed; as if still running.
    return (
        IdempotentRequest(**dict(row)) if row else IdempotentRequest(fingerprint, None, None, None)
    )


async def settle_idempotent_request(
    conn: Executor, scope: str, key: str, *, status: int, media_type: str, sealed: bytes
) -> None:
    """Store the response of a claimed request."""
    await conn.execute(
        "UPDATE idempotent_requests SET status = $3, media_type = $4, sealed_body = $5"
        " WHERE scope = $1 AND idempotency_key = $2",
        scope,
        key,
        status,
        media_type,
        sealed,
    )


async def release_idempotency_key(conn: Executor, scope: str, key: str) -> None:
    """Forget a claim whose request failed, so that its retry runs again."""
    await conn.execute(
        "DELETE FROM idempotent_requests WHERE scope = $1 AND idempotency_key = $2"
        " AND status IS NULL",
        scope,
        key,
    )
