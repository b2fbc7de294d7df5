"""Start and stop a service's infrastructure in the right order, for its composition root."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
from faststream.kafka import KafkaBroker
from tally_contracts.topics import ALL_TOPICS

from tally_runtime.database import apply_migrations, create_pool, ensure_database
from tally_runtime.kafka import ensure_topics
from tally_runtime.outbox import OutboxRelay
from tally_runtime.retries import with_backoff
from tally_runtime.settings import ServiceSettings

STARTUP_WAIT_SECONDS = 60.0
"""How long a starting service waits for Kafka and PostgreSQL (containers start in any order)."""


@contextlib.asynccontextmanager
async def migrated_database(
    settings: ServiceSettings,
    migrations: Path,
    *,
    projections: Sequence[Path] = (),
    pool_size: int = 10,
) -> AsyncIterator[asyncpg.Pool]:
    """The service's database, created and migrated, as an open pool."""
    # `projections` are shared schemas only some services keep (ACCOUNT_STATE_MIGRATIONS).
    await with_backoff(STARTUP_WAIT_SECONDS)(ensure_database)(settings.database_url)
    await apply_migrations(settings.database_url, migrations, projections=projections)
    pool = await create_pool(settings.database_url, max_size=pool_size)
    try:
        yield pool
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def running_broker(
    settings: ServiceSettings, broker: KafkaBroker, pool: asyncpg.Pool | None = None
) -> AsyncIterator[KafkaBroker]:
    """Topics created, subscribers consuming and, given a pool, the outbox relayed.

    Register subscribers before entering: consumers join their groups on start.
    """
    await with_backoff(STARTUP_WAIT_SECONDS)(ensure_topics)(settings, ALL_TOPICS)
    await broker.start()
    relay = asyncio.create_task(OutboxRelay(pool, broker).run()) if pool else None
    try:
        yield broker
    finally:
        if relay:
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay
        await broker.stop()
