"""The gateway's Kafka producer: its lifecycle, and one traced batch of records per request."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.util.types import AttributeValue
from tally_contracts.topics import ALL_TOPICS, USAGE_EVENTS
from tally_runtime.kafka import PRODUCER_OUT_OF_STEP, ensure_topics, partition_by_key
from tally_runtime.retries import with_backoff

from tally_gateway.config import Settings

log = logging.getLogger(__name__)

STARTUP_WAIT_SECONDS = 60.0
"""How long a starting gateway waits for Kafka (containers start in any order)."""

_USAGE_TOPIC = tuple(spec for spec in ALL_TOPICS if spec.name == USAGE_EVENTS)

SHARED_BATCH_RECORDS = 64
"""Requests with fewer records share the producer's batches with other requests.

A request's own record batch saves per-record work for large requests, but every batch is a
separate produce on its partition: a thousand concurrent one-event requests for one account
would queue a thousand tiny batches behind each other and miss their ack timeout. Small
requests instead go through the producer's accumulator, which packs them into one batch.
"""


class NotAcknowledged(Exception):
    """Kafka did not acknowledge every record of a request in time; some may still land."""


class Producers:
    """The gateway's producer, and a new one in its place when the broker stops accepting it.

    After a broker restart an idempotent producer can be refused on every send, for ever
    (`PRODUCER_OUT_OF_STEP`); without a new one every usage request would answer 503 until
    the gateway restarted.
    """

    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        self._settings = settings
        self._current = producer
        self._replacing = asyncio.Lock()
        self.replaced = 0

    @classmethod
    async def started(cls, settings: Settings) -> "Producers":
        return cls(settings, await _started_producer(settings))

    @property
    def current(self) -> AIOKafkaProducer:
        return self._current

    async def replace(self, stale: AIOKafkaProducer) -> None:
        """Put a new producer in place of `stale`, unless a concurrent request already has."""
        async with self._replacing:
            if self._current is not stale:
                return
            self._current = await _started_producer(self._settings)
            self.replaced += 1
        log.warning("usage producer replaced (the broker refused the old one's sequences)")
        with contextlib.suppress(Exception):
            await stale.stop()

    async def stop(self) -> None:
        await self._current.stop()


async def _started_producer(settings: Settings) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id="tally-gateway",
        # A 202 promises the events are durable: every in-sync replica has them, and a
        # retried send is never written twice nor reordered.
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.kafka_linger_ms,
        # A request's records (one key, so one partition) fill one batch, a few for the
        # largest; the broker refuses batches above its message.max.bytes (1 MB by default).
        max_batch_size=512 * 1024,
    )
    await with_backoff(STARTUP_WAIT_SECONDS)(producer.start)()
    return producer


@contextlib.asynccontextmanager
async def running_producers(settings: Settings) -> AsyncIterator[Producers]:
    """The gateway's producer, started once Kafka answers and the usage topic exists."""
    await with_backoff(STARTUP_WAIT_SECONDS)(ensure_topics)(settings, _USAGE_TOPIC)
    producers = await Producers.started(settings)
    try:
        yield producers
    finally:
        await producers.stop()


class UsagePublisher:
    """Publishes the accepted events of one request to `usage.events.v1` as one keyed batch."""

    def __init__(self, producers: Producers, tracer: Tracer, *, ack_timeout: float) -> None:
        self._producers = producers
        self._tracer = tracer
        self._ack_timeout = ack_timeout

    async def publish(self, account_sid: str, values: Sequence[bytes]) -> None:
        """Queue every record, then wait for the acks of all; NotAcknowledged if they do not come.

        One producer span covers the request; its trace context goes in every record's
        headers, so each consumer continues the request's trace.
        """
        attributes: dict[str, AttributeValue] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": USAGE_EVENTS,
            "messaging.batch.message_count": len(values),
        }
        with self._tracer.start_as_current_span(
            f"{USAGE_EVENTS} publish", kind=SpanKind.PRODUCER, attributes=attributes
        ):
            producer = self._producers.current
            try:
                # With idempotence the client retries forever; the caller is told in time.
                async with asyncio.timeout(self._ack_timeout):
                    await asyncio.gather(*await self._send(producer, account_sid.encode(), values))
            except (KafkaError, TimeoutError) as error:
                if isinstance(error, PRODUCER_OUT_OF_STEP):
                    await self._producers.replace(producer)  # the client's retry gets the new one
                raise NotAcknowledged(f"{len(values)} records to {USAGE_EVENTS}") from error

    async def _send(
        self, producer: AIOKafkaProducer, key: bytes, values: Sequence[bytes]
    ) -> list[asyncio.Future[Any]]:
        # One key, so one partition: the records go in record batches built here, not one
        # `send` each, which would hash the key and look up metadata for every record.
        partitions = sorted(await producer.partitions_for(USAGE_EVENTS))
        partition = partition_by_key(key, partitions, partitions)  # as every producer's
        headers = _headers_of_current_span()
        if len(values) < SHARED_BATCH_RECORDS:
            return [
                await producer.send(
                    USAGE_EVENTS, value, key=key, partition=partition, headers=headers
                )
                for value in values
            ]
        acks = []
        batch = producer.create_batch()
        for value in values:
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                acks.append(await producer.send_batch(batch, USAGE_EVENTS, partition=partition))
                batch = producer.create_batch()  # full: the rest goes in the next one
                batch.append(key=key, value=value, timestamp=None, headers=headers)
        acks.append(await producer.send_batch(batch, USAGE_EVENTS, partition=partition))
        return acks


def _headers_of_current_span() -> list[tuple[str, bytes]]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)  # W3C `traceparent` (and `tracestate`) of the current span
    return [("content-type", b"application/json")] + [
        (name, value.encode()) for name, value in carrier.items()
    ]
