"""Start and stop a service's infrastructure in the right order, for its composition root."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from tally_contracts.topics import ALL_TOPICS

from tally_runtime.clock import Clock, utc_now
from tally_runtime.consumer import BatchConsumer, Subscription
from tally_runtime.database import apply_migrations, create_pool, ensure_database
from tally_runtime.kafka import ensure_topics, make_producer
from tally_runtime.outbox import OutboxRelay
from tally_runtime.periodic import Periodic, run_periodically
from tally_runtime.retries import with_backoff
from tally_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

STARTUP_WAIT_SECONDS = 60.0
"""How long a starting service waits for Kafka and PostgreSQL (containers start in any order)."""

RESTART_DELAY_SECONDS = 1.0


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


async def _supervised(name: str, run: Callable[[], Awaitable[None]]) -> None:
    # The engine's loops only end by cancellation; anything else is logged and they start
    # again, or the service would stay up, healthy-looking, consuming nothing.
    while True:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s stopped unexpectedly; restarting it", name)
            await asyncio.sleep(RESTART_DELAY_SECONDS)


@contextlib.asynccontextmanager
async def running_engine(
    service_name: str,
    settings: ServiceSettings,
    pool: asyncpg.Pool,
    subscriptions: Sequence[Subscription] = (),
    *,
    periodic: Sequence[Periodic] = (),
    clock: Clock = utc_now,
) -> AsyncIterator[None]:
    """Topics created, the outbox relayed, the subscriptions' batches consumed, jobs run."""
    await with_backoff(STARTUP_WAIT_SECONDS)(ensure_topics)(settings, ALL_TOPICS)

    async def started_producer() -> AIOKafkaProducer:
        producer = make_producer(service_name, settings)
        await with_backoff(STARTUP_WAIT_SECONDS)(producer.start)()
        return producer

    relay = OutboxRelay(pool, await started_producer(), new_producer=started_producer)
    loops = [asyncio.create_task(_supervised("outbox relay", relay.run))]
    if subscriptions:
        consumer = BatchConsumer(settings, pool, subscriptions, clock=clock, on_commit=relay.wake)
        loops.append(asyncio.create_task(_supervised("batch consumer", consumer.run)))
    loops += [asyncio.create_task(run_periodically(job, pool, clock)) for job in periodic]
    try:
        yield
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await relay.producer.stop()
        _flush_spans()


def _flush_spans() -> None:
    # The exporter's queue is bounded and sent in the background: what a stopping service
    # recorded last (the spans of its final batches) is written before the process ends.
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush()
