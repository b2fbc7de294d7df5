"""PostgreSQL: create the service's database, migrate it with yoyo, open an asyncpg pool."""

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import TypeAlias
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from yoyo import get_backend, read_migrations

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"

Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy
"""A connection of its own or one borrowed from a pool (`pool.acquire()`); both work alike."""


def with_database(url: str, database: str) -> str:
    """`url` pointing at another database of the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def ensure_database(url: str) -> None:
    """Create the database named in `url` if it does not exist yet (safe to race)."""
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # Another replica may create it between the check and here; either way it exists.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _migrate(url: str, folders: Sequence[Path]) -> None:
    # yoyo speaks psycopg; its lock table keeps concurrent replicas from migrating twice.
    backend = get_backend(url.replace("postgresql://", "postgresql+psycopg://", 1))
    # yoyo knows a migration by its file name alone, so names must differ across the folders.
    migrations = read_migrations(*(str(folder) for folder in folders))
    with backend.lock():
        backend.apply_migrations(backend.to_apply(migrations))


async def apply_migrations(
    url: str, service_migrations: Path, *, projections: Sequence[Path] = ()
) -> None:
    """Apply the shared inbox/outbox schema, the `projections`' folders, then the service's own."""
    folders = [RUNTIME_MIGRATIONS, *projections, service_migrations]
    await asyncio.to_thread(_migrate, url, folders)


async def create_pool(url: str, *, max_size: int = 10) -> asyncpg.Pool:
    """An asyncpg pool for the service's database."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=max_size)
    assert pool is not None
    return pool
