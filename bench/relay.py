"""The outbox relay alone: rows committed to an outbox, published to Kafka and deleted.

The figure is how fast a relay empties an outbox that holds `rows` rows (one account each of
`accounts`, like the pipeline's), with nothing else running: what removing published rows
costs, which the pipeline's relays must keep ahead of.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from tally_runtime.database import apply_migrations
from tally_runtime.kafka import make_producer
from tally_runtime.outbox import OutboxRelay
from tally_runtime.settings import ServiceSettings

PAYLOAD = b'{"type":"bench.relayed","note":"' + b"x" * 200 + b'"}'


async def relay_rows_per_s(bootstrap: str, database_url: str, rows: int, accounts: int) -> float:
    """Fill an outbox with `rows` rows, then time one relay publishing and deleting them all."""
    with tempfile.TemporaryDirectory() as no_service_migrations:
        await apply_migrations(database_url, Path(no_service_migrations))
    topic = f"bench.relay.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=8, replication_factor=1)])
    finally:
        await admin.close()
    keys = [f"AC{uuid.uuid4().hex}" for _ in range(accounts)]
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as pool:
        await pool.copy_records_to_table(
            "outbox",
            records=[(topic, keys[n % accounts], PAYLOAD, None) for n in range(rows)],
            columns=["topic", "key", "payload", "traceparent"],
        )
        producer = make_producer("bench-relay", ServiceSettings(kafka_bootstrap=bootstrap))
        await producer.start()
        try:
            relay = OutboxRelay(pool, producer)
            async with pool.acquire() as conn:
                began = time.monotonic()
                while await relay.publish_pending(conn):
                    pass
                elapsed = time.monotonic() - began
                left = await conn.fetchval("SELECT count(*) FROM outbox")
        finally:
            await producer.stop()
    if left:
        raise RuntimeError(f"{left} rows left in the outbox")
    return rows / elapsed
