"""Prometheus metrics for ops: what every service counts and serves at `/metrics`.

Hot paths count per batch, never per record: a batch's records, its size and latency are one
update each. What lives in the database (relay backlog, parked records, deferred decisions)
is sampled every few seconds by one query each, not counted as it changes. Every name is
described in the README's "Observability" section.
"""

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import asyncpg
from aiokafka.errors import IllegalStateError
from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tally_contracts.topics import USAGE_REJECTED

from tally_runtime.clock import Clock
from tally_runtime.periodic import Periodic

CONSUMED = Counter(
    "tally_consumed_records",
    "Kafka records applied, by consumer group and topic",
    ["group", "topic"],
)
BATCH_RECORDS = Histogram(
    "tally_batch_records",
    "Records in one applied batch (one transaction), by consumer group and topic",
    ["group", "topic"],
    buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000, 10000),
)
BATCH_SECONDS = Histogram(
    "tally_batch_seconds",
    "Time to apply one batch, splitting and parking included, by consumer group and topic",
    ["group", "topic"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CONSUMER_LAG = Gauge(
    "tally_consumer_lag",
    "Records on a partition not yet fetched by the group: its end offset minus its position",
    ["group", "topic", "partition"],
)
PARKED = Counter(
    "tally_parked_records",
    "Records parked by this process after every try failed",
    ["group", "topic"],
)
PARKED_WAITING = Gauge(
    "tally_parked_records_waiting", "Parked records not replayed yet, in the service's database"
)
PUBLISHED = Counter(
    "tally_published_events", "Events the outbox relay published to Kafka, by topic", ["topic"]
)
DEAD_LETTERS = Counter(
    "tally_dead_letters", "Dead letters published (usage events that broke the contract)"
)
RELAY_BACKLOG = Gauge(
    "tally_outbox_backlog", "Committed outbox rows waiting for the relay to publish them"
)
HTTP_REQUESTS = Counter(
    "tally_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)
NOTIFICATION_DECISIONS = Gauge(
    "tally_notification_decisions",
    "Notification decisions by outcome (notifications samples `deferred` and `suppressed`)",
    ["outcome"],
)

LAG_REFRESH_SECONDS = 1.0
"""How often a consumer's lag gauges are recomputed (from what its fetches already know)."""

SAMPLE_EVERY_SECONDS = 5
"""How often the database-backed gauges are queried."""


@contextlib.contextmanager
def applying_batch(group: str, topic: str, records: int) -> Iterator[None]:
    """Count one batch of `records` and time it while it is applied."""
    started = time.perf_counter()
    try:
        yield
    finally:
        BATCH_SECONDS.labels(group, topic).observe(time.perf_counter() - started)
        BATCH_RECORDS.labels(group, topic).observe(records)
        CONSUMED.labels(group, topic).inc(records)


def record_parked(group: str, topic: str) -> None:
    PARKED.labels(group, topic).inc()


def record_published(rows_by_topic: Mapping[str, int]) -> None:
    """Count what one relay round published (its rows per topic)."""
    for topic, count in rows_by_topic.items():
        PUBLISHED.labels(topic).inc(count)
        if topic == USAGE_REJECTED:
            DEAD_LETTERS.inc(count)


class PartitionPositions(Protocol):
    """What the lag needs of a Kafka consumer (aiokafka's AIOKafkaConsumer has it)."""

    def assignment(self) -> Any: ...

    def highwater(self, partition: Any) -> int | None: ...

    async def position(self, partition: Any) -> int: ...


class ConsumerLag:
    """A group's lag per assigned partition, refreshed at most once `every` seconds."""

    def __init__(self, group: str, *, every: float = LAG_REFRESH_SECONDS) -> None:
        self._group = group
        self._every = every
        self._next_refresh = 0.0
        self._shown: set[tuple[str, str]] = set()

    async def refresh(self, consumer: PartitionPositions) -> None:
        now = time.monotonic()
        if now < self._next_refresh:
            return
        self._next_refresh = now + self._every
        shown: set[tuple[str, str]] = set()
        for partition in consumer.assignment():
            end = consumer.highwater(partition)
            if end is None:  # no fetch answered for it yet
                continue
            labels = (partition.topic, str(partition.partition))
            try:
                lag = max(0, end - await consumer.position(partition))
            except IllegalStateError:  # taken away by a rebalance under way
                continue
            CONSUMER_LAG.labels(self._group, *labels).set(lag)
            shown.add(labels)
        # Partitions a rebalance took away are another replica's to report now.
        for gone in self._shown - shown:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(self._group, *gone)
        self._shown = shown


@dataclass(frozen=True)
class SampledGauge:
    """A gauge set from a query: each row's last column is a value, the others its labels."""

    gauge: Gauge
    query: str


RUNTIME_GAUGES = (
    SampledGauge(RELAY_BACKLOG, "SELECT count(*) FROM outbox"),
    SampledGauge(PARKED_WAITING, "SELECT count(*) FROM parked_records WHERE replayed_at IS NULL"),
)
"""What every service with the engine's tables samples."""


async def sample_once(pool: asyncpg.Pool, gauges: Sequence[SampledGauge]) -> None:
    async with pool.acquire() as conn:
        for sampled in gauges:
            for row in await conn.fetch(sampled.query):
                *labels, value = row.values()
                target = sampled.gauge.labels(*labels) if labels else sampled.gauge
                target.set(float(value))


def sampling_job(gauges: Sequence[SampledGauge]) -> Periodic:
    """The periodic job that keeps `gauges` current (a failed round is logged and retried)."""

    async def sample(pool: asyncpg.Pool, _clock: Clock) -> None:
        await sample_once(pool, gauges)

    return Periodic("sample-metrics", timedelta(seconds=SAMPLE_EVERY_SECONDS), sample)


def metrics_router(*guards: Callable[..., Any]) -> APIRouter:
    """`GET /metrics` in Prometheus' text format, behind `guards` (FastAPI dependencies)."""
    router = APIRouter(dependencies=[Depends(guard) for guard in guards])

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class CountRequests:
    """ASGI middleware counting each answered HTTP request by its route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        status = 500  # what the server answers if the app fails before it starts a response

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, noting_status)
        finally:
            route = scope.get("route")
            # The template, never the raw path: one series per route, not one per account.
            template = getattr(route, "path", None) or "unmatched"
            HTTP_REQUESTS.labels(template, scope["method"], str(status)).inc()
