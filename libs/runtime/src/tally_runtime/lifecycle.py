"""Start and stop a service's infrastructure in the right order, for its composition root."""

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
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


class RelayThread:
    """The outbox relay on a thread of its own: its own event loop, pool and producer.

    On the consumer's event loop the relay ran only between the consumer's awaits, and a
    batch's decoding and rating is hundreds of milliseconds of Python without one: every event
    a commit published waited that long for Kafka (most of `notification_decision_p99_ms` in
    docs/performance.md). On a thread, the interpreter hands it the GIL within its switch
    interval (5 ms) whenever it has something to do. It shares nothing with the consumer but
    the database, which it reads through connections of its own.
    """

    def __init__(self, service_name: str, settings: ServiceSettings) -> None:
        self._service_name = service_name
        self._settings = settings
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._relay: OutboxRelay | None = None
        self._task: asyncio.Task[None] | None = None
        # A daemon: a process that ends without stop() is not held open by its relay (rows it
        # had published but not yet deleted are published again by the next relay).
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main()),
            name=f"{service_name}-outbox-relay",
            daemon=True,
        )

    async def start(self) -> None:
        """Start the thread; returns once its pool and producer are up (or raises why not)."""
        self._thread.start()
        await asyncio.wrap_future(self._ready)

    def wake(self) -> None:
        """Something was committed to the outbox (called from the consumer's thread)."""
        if self._loop is not None and self._relay is not None:
            self._loop.call_soon_threadsafe(self._relay.wake)

    async def stop(self) -> None:
        """Cancel the relay, stop its producer and pool, and wait for the thread to end."""
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)

    async def _main(self) -> None:
        url = self._settings.database_url
        try:
            pool = await with_backoff(STARTUP_WAIT_SECONDS)(create_pool)(url, max_size=2)
        except BaseException as error:
            self._ready.set_exception(error)
            return
        try:
            producer = await started_producer(self._service_name, self._settings)
        except BaseException as error:
            await pool.close()
            self._ready.set_exception(error)
            return
        self._loop = asyncio.get_running_loop()
        self._relay = OutboxRelay(
            pool,
            producer,
            new_producer=lambda: started_producer(self._service_name, self._settings),
        )
        self._task = asyncio.create_task(_supervised("outbox relay", self._relay.run))
        self._ready.set_result(None)
        try:
            await self._task
        except asyncio.CancelledError:
            pass  # stop() cancelled it: the normal end
        finally:
            await self._relay.producer.stop()
            await pool.close()


async def started_producer(service_name: str, settings: ServiceSettings) -> AIOKafkaProducer:
    """The service's idempotent producer, started (waiting for Kafka if it is not up yet)."""
    producer = make_producer(service_name, settings)
    await with_backoff(STARTUP_WAIT_SECONDS)(producer.start)()
    return producer


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
    relay = RelayThread(service_name, settings)
    await relay.start()
    loops = []
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
        await relay.stop()
        _flush_spans()


def _flush_spans() -> None:
    # The exporter's queue is bounded and sent in the background: what a stopping service
    # recorded last (the spans of its final batches) is written before the process ends.
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush()
