"""The exactly-once engine: a Kafka batch applied in one PostgreSQL transaction, offsets after.

A service hands the engine its topic -> handler map. For each batch the engine opens one
transaction, gives the handler a unit of work (connection, outbox, clock), writes the outbox,
commits, and only then commits the Kafka offsets. Handlers absorb redeliveries by their data's
natural keys, so a crash anywhere in between changes nothing.

Failures come in two kinds. Transient ones (PostgreSQL or Kafka restarting) are waited out
with backoff and the batch applied again, however long it takes. Any other failure is the
fault of some record: the batch is split in halves until the record is alone, tried a few
more times, then parked with its bytes and error, so the rest of the batch and the partition
move on.
"""

import asyncio
import contextlib
import gc
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_never,
    wait_exponential_jitter,
)

from tally_runtime import metrics, parking
from tally_runtime.batch_tracing import BatchTrace
from tally_runtime.clock import Clock
from tally_runtime.failpoints import AFTER_DB_COMMIT, crash_if_armed
from tally_runtime.records import ConsumedRecord
from tally_runtime.retries import TRANSIENT_ERRORS, with_backoff
from tally_runtime.settings import ServiceSettings
from tally_runtime.units import UnitOfWork

log = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[ConsumedRecord], UnitOfWork], Awaitable[object]]
"""Applies a batch of one topic's records through the unit of work; safe to run twice."""

STARTUP_WAIT_SECONDS = 60.0
POISON_BACKOFF_MAX_SECONDS = 2.0

# A unique violation means another replica inserted the same natural key concurrently (only
# during a rebalance); applied again, the batch finds the row and treats it as a redelivery.
_RETRY_AS_IS: tuple[type[BaseException], ...] = (*TRANSIENT_ERRORS, asyncpg.UniqueViolationError)


@dataclass(frozen=True)
class AppliedBatch:
    """What the handler returned for a committed batch, and how many events it published."""

    result: object
    published: int


async def apply_batch(
    pool: asyncpg.Pool,
    handler: BatchHandler,
    records: Sequence[ConsumedRecord],
    *,
    clock: Clock,
    record_traces: Mapping[int, str] | None = None,
) -> AppliedBatch:
    """Run `handler` over `records` in one transaction, its outbox written just before commit."""
    async with pool.acquire() as conn, conn.transaction():
        unit = UnitOfWork(conn, clock, record_traces=record_traces or {})
        result = await handler(records, unit)
        published = await unit.outbox.write(conn)
    return AppliedBatch(result, published)


@dataclass(frozen=True)
class Subscription:
    """One topic and the handler that applies its batches."""

    topic: str
    handler: BatchHandler
    ahead: bool = False
    """Reference data the other handlers read (account states): its records are taken before
    the other topics' whenever both are waiting. aiokafka hands out buffered partitions in
    turn, so without this a backlog of usage held a new account's state back until the whole
    backlog had been consumed (and parked, as of an unknown account)."""


class BatchConsumer:
    """Consumes the subscriptions' topics in the service's group until cancelled."""

    def __init__(
        self,
        settings: ServiceSettings,
        pool: asyncpg.Pool,
        subscriptions: Sequence[Subscription],
        *,
        clock: Clock,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._handlers = {sub.topic: sub.handler for sub in subscriptions}
        self._ahead = {sub.topic for sub in subscriptions if sub.ahead}
        self._clock = clock
        self._on_commit = on_commit  # wakes the outbox relay after a commit that published

    async def run(self) -> None:
        """Join the group and apply batches until cancelled."""
        consumer = AIOKafkaConsumer(
            *self._handlers,
            bootstrap_servers=self._settings.kafka_bootstrap,
            group_id=self._settings.consumer_group,
            client_id=f"{self._settings.consumer_group}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        committing: asyncio.Task[None] | None = None
        try:
            await with_backoff(STARTUP_WAIT_SECONDS)(consumer.start)()
            if not gc.get_freeze_count():
                # What start-up imported and built lives as long as the process: kept out of
                # the collector's full passes, which a batch's many objects trigger over the
                # whole heap (bench.handler_cost: -31 % of usage's CPU, -13 % of invoicing's).
                gc.freeze()
            lag = metrics.ConsumerLag(self._settings.consumer_group)
            while True:
                fetched = await self._fetch(consumer)
                await lag.refresh(consumer)  # at most once a second, from what fetches know
                if fetched:
                    await self.apply(fetched)
                    # The offsets go to Kafka while the next batch is applied: one round trip
                    # less per batch. Commits stay in order, each waiting for the one before.
                    if committing is not None:
                        await committing
                    committing = asyncio.create_task(self._commit_offsets(consumer, fetched))
        finally:
            if committing is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await committing  # the last batch's offsets, unless we are torn down
            await consumer.stop()

    async def _fetch(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[Any]]:
        """The next batch: records of the `ahead` topics first if any are buffered, else any."""
        ahead = [tp for tp in consumer.assignment() if tp.topic in self._ahead]
        fetched: dict[TopicPartition, list[Any]] = {}
        if ahead:
            fetched = await consumer.getmany(
                *ahead, timeout_ms=0, max_records=self._settings.batch_max_records
            )
        if not fetched:
            fetched = await consumer.getmany(
                timeout_ms=self._settings.batch_max_wait_ms,
                max_records=self._settings.batch_max_records,
            )
        return fetched

    async def apply(self, fetched: dict[TopicPartition, list[Any]]) -> None:
        """Apply every fetched record, a transaction per topic, each topic's records in order."""
        by_topic: dict[str, list[ConsumedRecord]] = defaultdict(list)
        # The `ahead` topics' transactions first: the others' handlers read what they apply.
        ordered = sorted(fetched.items(), key=lambda item: item[0].topic not in self._ahead)
        for partition, records in ordered:
            by_topic[partition.topic].extend(
                ConsumedRecord.of(r.topic, r.partition, r.offset, r.key, r.value, r.headers)
                for r in records
            )
        group = self._settings.consumer_group
        for topic, records in by_topic.items():
            with (
                metrics.applying_batch(group, topic, len(records)),
                BatchTrace(topic, group, records) as batch_trace,
            ):
                await self._apply_or_park(topic, records, batch_trace)
            crash_if_armed(self._settings, AFTER_DB_COMMIT, topic)

    async def _commit_offsets(
        self, consumer: AIOKafkaConsumer, fetched: dict[TopicPartition, list[Any]]
    ) -> None:
        offsets = {partition: records[-1].offset + 1 for partition, records in fetched.items()}
        try:
            await consumer.commit(offsets)
        except KafkaError as error:
            # A rebalance took the partitions, or the broker is away: whoever consumes them
            # next gets these records again, and their natural keys make that harmless.
            log.warning("offsets not committed (%s); the records will be redelivered", error)

    async def _apply_or_park(
        self, topic: str, records: Sequence[ConsumedRecord], batch_trace: BatchTrace
    ) -> None:
        try:
            await self._apply_once(topic, records, batch_trace)
        except Exception as error:
            if len(records) == 1:
                await self._retry_or_park(topic, records[0], batch_trace, error)
                return
            log.warning("a batch of %s failed (%s); splitting it to find the record", topic, error)
            middle = len(records) // 2
            await self._apply_or_park(topic, records[:middle], batch_trace)
            await self._apply_or_park(topic, records[middle:], batch_trace)

    async def _apply_once(
        self, topic: str, records: Sequence[ConsumedRecord], batch_trace: BatchTrace
    ) -> None:
        """Apply `records` in one transaction, waiting out transient failures however long."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(_RETRY_AS_IS),
            wait=wait_exponential_jitter(multiplier=0.1, max=5, jitter=0.1),
            stop=stop_never,
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        ):
            with attempt:
                applied = await apply_batch(
                    self._pool,
                    self._handlers[topic],
                    records,
                    clock=self._clock,
                    record_traces=batch_trace.record_traces,
                )
        if applied.published:
            self._on_commit()

    async def _retry_or_park(
        self,
        topic: str,
        record: ConsumedRecord,
        batch_trace: BatchTrace,
        error: BaseException,
    ) -> None:
        """Try a record that failed alone a few more times, backing off; then park it."""
        attempts = 1
        while attempts < self._settings.poison_attempts:
            await asyncio.sleep(min(POISON_BACKOFF_MAX_SECONDS, 0.1 * 2**attempts))
            attempts += 1
            try:
                await self._apply_once(topic, [record], batch_trace)
                return
            except Exception as again:
                error = again
        log.error("parking %s after %d tries: %s", record.position, attempts, error)
        await with_backoff(float("inf"))(self._park)(record, error, attempts)

    async def _park(self, record: ConsumedRecord, error: BaseException, attempts: int) -> None:
        async with self._pool.acquire() as conn:
            await parking.park(conn, self._settings.consumer_group, record, error, attempts)
