"""The transactional outbox: events saved with the state change, published to Kafka after."""

import asyncio
import contextlib
import json
import logging

import asyncpg
from faststream.kafka import KafkaBroker
from opentelemetry import propagate, trace
from pydantic import BaseModel

from tally_runtime.database import Connection

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

_JSON_HEADERS = {"content-type": "application/json"}
_RELAY_LOCK = 0x7A11_0B0C  # an arbitrary advisory-lock key that means "the outbox relay"


async def enqueue(conn: Connection, topic: str, key: str, event: BaseModel) -> None:
    """Save `event` for publication; call it inside the transaction that makes it true.

    The current trace context travels with the row so the relay's publish joins the trace
    of the work that caused the event.
    """
    headers: dict[str, str] = {}
    propagate.inject(headers)
    await conn.execute(
        "INSERT INTO outbox (topic, key, payload, headers) VALUES ($1, $2, $3, $4)",
        topic,
        key,
        event.model_dump_json().encode(),
        json.dumps(headers),
    )


class OutboxRelay:
    """Publishes committed outbox rows to Kafka, at least once, then deletes them.

    One relay per database publishes at a time (a transaction-scoped advisory lock), in id
    order, so replicas of a service never publish one account's events out of order. A
    crash between the Kafka ack and the delete republishes, which consumers' inboxes absorb.
    It wakes on the `outbox` NOTIFY and polls as a fallback.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        broker: KafkaBroker,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        self._pool = pool
        self._broker = broker
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Relay until cancelled."""
        listener = await self._pool.acquire()
        try:
            # Inside the try: a relay cancelled while it starts listening must still give
            # its connection back, or closing the pool waits for it forever.
            await listener.add_listener("outbox", self._on_notify)
            while True:
                try:
                    while await self.publish_pending() == self._batch_size:
                        pass  # a full batch means more may be waiting
                except Exception:
                    # Kafka or PostgreSQL is away, or a send failed: the rows stay and the
                    # next round retries them. Only cancellation may end the relay, or the
                    # service would go on committing events that nobody publishes.
                    log.exception("outbox relay will retry")
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener("outbox", self._on_notify)
            await self._pool.release(listener)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows and delete them; returns how many."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _RELAY_LOCK):
                return 0  # another replica is relaying; it will get these rows too
            rows = await conn.fetch(
                "SELECT id, topic, key, payload, headers FROM outbox ORDER BY id LIMIT $1",
                self._batch_size,
            )
            if not rows:
                return 0
            # Sends are queued in row order, so one key's events keep their order.
            await asyncio.gather(*(self._publish(row) for row in rows))
            await conn.execute(
                "DELETE FROM outbox WHERE id = ANY($1::bigint[])", [row["id"] for row in rows]
            )
        return len(rows)

    async def _publish(self, row: asyncpg.Record) -> None:
        carried = json.loads(row["headers"])
        with tracer.start_as_current_span(
            f"{row['topic']} relay",
            context=propagate.extract(carried),
            kind=trace.SpanKind.INTERNAL,
        ):
            await self._broker.publish(
                bytes(row["payload"]),
                topic=row["topic"],
                key=row["key"].encode(),
                headers=dict(_JSON_HEADERS),
            )
