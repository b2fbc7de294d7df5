"""PostgreSQL: create the service's database, migrate it with yoyo, open an asyncpg pool."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from yoyo import read_migrations
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import parse_uri
from yoyo.migrations import default_migration_table

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"

MIGRATION_LOCK_KEY = 0x7461_6C6C_796D_6967  # "tallymig": one advisory lock per database
MIGRATION_LOCK_TIMEOUT_SECONDS = 300.0
"""How long a starting replica waits for another one's migrations before giving up."""

CLIENT_CHECK_INTERVAL = "1s"
"""How often the server checks that a migrating client is still there (PostgreSQL 14+)."""

log = logging.getLogger(__name__)

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


class _AdvisoryLockBackend(PostgresqlPsycopgBackend):  # type: ignore[misc]  # yoyo is untyped
    """yoyo's PostgreSQL backend, locked with a session advisory lock instead of a lock table.

    yoyo's own lock is a row in `yoyo_lock`: a process killed while holding it leaves the row
    behind, and every later start waits, then fails with "run yoyo break-lock". An advisory
    lock belongs to the connection, so the server releases it whenever the process dies.
    """

    _lock_depth = 0

    def create_lock_table(self) -> None:
        """No lock table: a row in it would outlive a killed process."""

    def init_connection(self, connection: Any) -> None:
        super().init_connection(connection)
        # A killed migrator's statement (a long index build, say) would otherwise run on,
        # holding its locks, until it next writes to the dead socket; this ends it within
        # a second. Servers older than 14 lack the setting and keep their old behaviour.
        connection.execute(
            "SELECT set_config('client_connection_check_interval', %s, false)"
            " WHERE current_setting('server_version_num')::int >= 140000",
            [CLIENT_CHECK_INTERVAL],
        )

    @contextlib.contextmanager
    def lock(self, timeout: float = MIGRATION_LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
        """Hold the database's migration lock; re-entrant (yoyo takes it again inside)."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        self._acquire(timeout)
        self._lock_depth = 1
        try:
            yield
        finally:
            self._lock_depth = 0
            # A broken connection has released the lock already, with the session.
            with contextlib.suppress(self.DatabaseError):
                self.execute("SELECT pg_advisory_unlock(:key)", {"key": MIGRATION_LOCK_KEY})

    def _acquire(self, timeout: float) -> None:
        locked = "SELECT pg_try_advisory_lock(:key)"
        if self.execute(locked, {"key": MIGRATION_LOCK_KEY}).fetchone()[0]:
            return
        log.info("waiting for another process migrating %s: %s", self.uri.database, self._holder())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if self.execute(locked, {"key": MIGRATION_LOCK_KEY}).fetchone()[0]:
                return
        raise TimeoutError(
            f"database {self.uri.database} is still being migrated by another process after"
            f" {timeout:.0f} s: {self._holder()}"
        )

    def _holder(self) -> str:
        row = self.execute(
            "SELECT a.pid, a.application_name, a.client_addr, a.backend_start"
            " FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.database = ("
            "   SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND l.objsubid = 1 AND (l.classid::bigint << 32 | l.objid::bigint) = :key",
            {"key": MIGRATION_LOCK_KEY},
        ).fetchone()
        if row is None:
            return "(it has just finished)"
        pid, application, address, since = row
        return (
            f"PostgreSQL backend {pid} ({application or 'no application name'},"
            f" from {address or 'a local socket'}, connected at {since})"
        )


def _migrate(url: str, folders: Sequence[Path]) -> None:
    # yoyo speaks psycopg (3): the backend class is chosen here, not by the URL's scheme.
    backend = _AdvisoryLockBackend(parse_uri(url), default_migration_table)
    try:
        backend.init_database()
        # yoyo knows a migration by its file name alone, so names must differ across the folders.
        migrations = read_migrations(*(str(folder) for folder in folders))
        # Replicas starting together queue here: the first applies, the others find nothing
        # left to apply. yoyo's own calls to lock() re-enter this one.
        with backend.lock():
            backend.apply_migrations(backend.to_apply(migrations))
    finally:
        backend.connection.close()


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
