"""The transactional outbox: events saved with the state change, published to Kafka after."""

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.producer.message_accumulator import BatchBuilder
from opentelemetry import propagate, trace
from pydantic import BaseModel

from tally_runtime.batch_tracing import traceparent_of
from tally_runtime.database import Connection
from tally_runtime.kafka import PRODUCER_OUT_OF_STEP, partition_by_key
from tally_runtime.metrics import record_published
from tally_runtime.records import TRACEPARENT, is_sampled

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

_CONTENT_TYPE = ("content-type", b"application/json")
_RELAY_LOCK = 0x7A11_0B0C  # an arbitrary advisory-lock key that means "the outbox relay"
_COLUMNS = ["topic", "key", "payload", "traceparent"]


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, if there is one."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


@dataclass
class Outbox:
    """The events one transaction will publish, written in one COPY just before it commits."""

    rows: list[tuple[str, str, bytes, str | None]] = field(default_factory=list)

    def add(self, topic: str, key: str, event: BaseModel, traceparent: str | None) -> None:
        """Publish `event` under `key` once the transaction commits, in the given trace."""
        self.rows.append((topic, key, event.model_dump_json().encode(), traceparent))

    async def write(self, conn: Connection) -> int:
        """Save the events inside the caller's transaction; returns how many."""
        if self.rows:
            await conn.copy_records_to_table("outbox", records=self.rows, columns=_COLUMNS)
        return len(self.rows)


async def enqueue(conn: Connection, topic: str, key: str, event: BaseModel) -> None:
    """Save `event` for publication; call it inside the transaction that makes it true.

    For work that is not a consumed batch (an HTTP request): the current trace travels with
    the row, so the relay's publish joins the trace of the request that caused it.
    """
    outbox = Outbox()
    outbox.add(topic, key, event, current_traceparent())
    await outbox.write(conn)


def _headers(traceparent: str | None) -> list[tuple[str, bytes]]:
    if traceparent is None:
        return [_CONTENT_TYPE]
    return [_CONTENT_TYPE, (TRACEPARENT, traceparent.encode())]


class OutboxRelay:
    """Publishes committed outbox rows to Kafka, at least once and in id order, then deletes them.

    One relay per database publishes at a time: it holds a session advisory lock, which the
    server releases if the relay's connection dies, so a crashed replica never blocks the
    others. Each round reads a batch outside any transaction, queues it in id order as record
    batches per partition (the idempotent producer keeps that order, retries included), awaits
    the acks, then deletes exactly the rows it published. A crash between the acks and the delete
    publishes those rows again; consumers absorb them by the events' natural keys.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 5000,
        poll_interval: float = 0.1,
        new_producer: Callable[[], Awaitable[AIOKafkaProducer]] | None = None,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._new_producer = new_producer  # a started one, to replace a producer out of step
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._known_partitions: dict[str, list[int]] = {}

    @property
    def producer(self) -> AIOKafkaProducer:
        """The producer the relay publishes with now (the owner stops it at shutdown)."""
        return self._producer

    def wake(self) -> None:
        """Something was committed to the outbox: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Relay until cancelled, surviving any failure of Kafka or PostgreSQL."""
        while True:
            try:
                async with self._pool.acquire() as lease:
                    await self._relay_while_leader(lease)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # The rows stay and the next round retries them. Only cancellation may end
                # the relay, or the service would go on committing events nobody publishes.
                log.exception("outbox relay will retry")
                if isinstance(error, PRODUCER_OUT_OF_STEP):
                    await self._replace_producer()
                await asyncio.sleep(1.0)

    async def _replace_producer(self) -> None:
        if self._new_producer is None:
            return
        stale = self._producer
        self._producer = await self._new_producer()
        log.warning("outbox relay: producer replaced (the old one was out of step)")
        with contextlib.suppress(Exception):
            await stale.stop()

    async def _relay_while_leader(self, lease: Connection) -> None:
        if not await lease.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK):
            await asyncio.sleep(self._poll_interval * 10)  # another replica is relaying
            return
        # A delete the server loses in a crash only means those rows are published again,
        # which consumers absorb: the relay's commits need not wait for the disk. (The pool
        # resets the setting when the connection goes back.)
        await lease.execute("SET synchronous_commit = off")
        try:
            while True:
                if await self.publish_pending(lease) < self._batch_size:
                    await self._idle()
        finally:
            with contextlib.suppress(Exception):
                await lease.execute("SELECT pg_advisory_unlock($1)", _RELAY_LOCK)

    async def _idle(self) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # that arrives as its timeout fires, and the relay would outlive its service's shutdown.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._poll_interval):
                await self._wake.wait()
        self._wake.clear()

    async def publish_pending(self, conn: Connection) -> int:
        """Publish one batch of pending rows and delete them; returns how many."""
        rows = await conn.fetch(
            "SELECT id, topic, key, payload, traceparent FROM outbox ORDER BY id LIMIT $1",
            self._batch_size,
        )
        if not rows:
            return 0
        await self._publish(rows)
        await conn.execute(
            "DELETE FROM outbox WHERE id = ANY($1::bigint[])", [row["id"] for row in rows]
        )
        return len(rows)

    async def _publish(self, rows: list[asyncpg.Record]) -> None:
        """Send `rows` in id order, filling one record batch per partition, then await the acks.

        Whole batches rather than a send per row: a send costs more than the row itself. Each
        partition's batches are submitted in order and the producer sends them in order, so
        one key's events keep theirs; nothing is sent concurrently that could overtake.
        """
        filling: dict[TopicPartition, BatchBuilder] = {}
        acks: list[asyncio.Future[Any]] = []
        sent: Counter[str] = Counter()  # per record batch, for /metrics: no cost per row
        for row in rows:
            topic, key = row["topic"], row["key"].encode()
            partitions = await self._partitions(topic)
            target = TopicPartition(topic, partition_by_key(key, partitions, partitions))
            headers = self._headers_of(topic, row["traceparent"])
            builder = filling[target] if target in filling else self._producer.create_batch()
            while (
                builder.append(timestamp=None, key=key, value=row["payload"], headers=headers)
                is None
            ):
                acks.append(
                    await self._producer.send_batch(builder, topic, partition=target.partition)
                )
                sent[topic] += builder.record_count()
                builder = self._producer.create_batch()
            filling[target] = builder
        for target, builder in filling.items():
            acks.append(
                await self._producer.send_batch(builder, target.topic, partition=target.partition)
            )
            sent[target.topic] += builder.record_count()
        await asyncio.gather(*acks)
        record_published(sent)

    async def _partitions(self, topic: str) -> list[int]:
        known = self._known_partitions.get(topic)
        if known is None:
            known = self._known_partitions[topic] = sorted(
                await self._producer.partitions_for(topic)
            )
        return known

    def _headers_of(self, topic: str, traceparent: str | None) -> list[tuple[str, bytes]]:
        if not is_sampled(traceparent):
            # The unsampled context still travels, so the next hop keeps the same decision.
            return _headers(traceparent)
        # A sampled event gets its publish span; the record carries that span's context.
        span = tracer.start_span(
            f"{topic} publish",
            context=propagate.extract({TRACEPARENT: traceparent}),
            kind=trace.SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": topic},
        )
        span.end()
        return _headers(traceparent_of(span))
