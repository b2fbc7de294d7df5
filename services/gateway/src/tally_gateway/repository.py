"""SQL for the gateway's credentials; no decisions."""

import asyncpg


async def save_auth_token_hash(pool: asyncpg.Pool, account_sid: str, token_hash: bytes) -> None:
    """Store (or replace) the hash of an account's auth token."""
    await pool.execute(
        "INSERT INTO auth_tokens (account_sid, token_hash) VALUES ($1, $2)"
        " ON CONFLICT (account_sid) DO UPDATE SET token_hash = EXCLUDED.token_hash,"
        " created_at = now()",
        account_sid,
        token_hash,
    )


async def fetch_auth_token_hash(pool: asyncpg.Pool, account_sid: str) -> bytes | None:
    """The stored hash of an account's auth token, or None."""
    token_hash: bytes | None = await pool.fetchval(
        "SELECT token_hash FROM auth_tokens WHERE account_sid = $1", account_sid
    )
    return token_hash
