"""Given a relay producer the broker no longer accepts, the relay replaces it and publishes.

After a broker restart an idempotent aiokafka producer can fail every send with
OutOfOrderSequenceNumber, forever (seen in the chaos suite's broker_restart). The relay must
then publish through a new producer, not retry the stale one. Fakes stand in for PostgreSQL
and Kafka: what is under test is the relay's reaction, not the broker's.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiokafka.errors import OutOfOrderSequenceNumber
from tally_runtime.outbox import OutboxRelay

ROWS = [
    {"id": i, "topic": "t", "key": f"k{i}", "payload": b"{}", "traceparent": None}
    for i in (1, 2, 3)
]


class FakeOutboxConnection:
    def __init__(self) -> None:
        self.pending = list(ROWS)
        self.emptied = asyncio.Event()

    async def fetchval(self, query: str, *args: Any) -> bool:
        return True  # the relay's advisory lock

    async def execute(self, query: str, *args: Any) -> None:
        if query.startswith("DELETE"):
            self.pending = [row for row in self.pending if row["id"] not in args[0]]
            if not self.pending:
                self.emptied.set()

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        return list(self.pending)


class FakePool:
    def __init__(self) -> None:
        self.conn = FakeOutboxConnection()

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeOutboxConnection]:
        yield self.conn


class FakeBatch:
    def __init__(self) -> None:
        self.records = 0

    def append(self, **record: Any) -> object:
        self.records += 1
        return object()

    def record_count(self) -> int:
        return self.records


class FakeProducer:
    """Acknowledges every batch, or fails each with `error` when given one."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.published = 0
        self.stopped = False

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    async def send_batch(
        self, batch: FakeBatch, topic: str, partition: int
    ) -> "asyncio.Future[None]":
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.error is not None:
            ack.set_exception(self.error)
        else:
            self.published += batch.records
            ack.set_result(None)
        return ack

    async def stop(self) -> None:
        self.stopped = True


async def test_given_a_producer_out_of_step_when_relaying_then_a_new_one_publishes() -> None:
    stale = FakeProducer(OutOfOrderSequenceNumber())
    fresh = FakeProducer()

    async def new_producer() -> Any:
        return fresh

    pool = FakePool()
    relay = OutboxRelay(pool, stale, poll_interval=0.01, new_producer=new_producer)  # type: ignore[arg-type]
    task = asyncio.create_task(relay.run())
    try:
        async with asyncio.timeout(10):
            await pool.conn.emptied.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    assert fresh.published == len(ROWS)
    assert stale.stopped
    assert relay.producer is fresh
