"""The floor and the ceiling the pipeline is compared with, over the same events of the run.

- bare consumer: a plain aiokafka consumer reads the records and discards them;
- bare sink: read, parse (json) and COPY the events into an unindexed table in batches, the
  next batch read and parsed while the previous one is copied: what landing events in
  PostgreSQL costs on this machine, with none of the pipeline's guarantees.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.offsets import Offsets

COPY_BATCH = 5_000
Records = list[Any]


def bounded(start: Offsets, stop: Offsets, at_most: int) -> Offsets:
    """`stop`, brought closer to `start` so that at most `at_most` records lie between them."""
    per_partition = max(1, at_most // max(1, len(start)))
    return {p: min(stop.get(p, start[p]), start[p] + per_partition) for p in start}


async def read_range(
    bootstrap: str,
    topic: str,
    start: Offsets,
    stop: Offsets,
    handle: Callable[[Records], Awaitable[None]],
    within: float,
) -> tuple[int, float]:
    """Read every record of [start, stop) per partition; -> (records, seconds)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        todo = {TopicPartition(topic, p): stop[p] for p in start if stop[p] > start[p]}
        consumer.assign(list(todo))
        for tp in todo:
            consumer.seek(tp, start[tp.partition])
        count = 0
        began = time.monotonic()
        while todo:
            if time.monotonic() - began > within:
                raise TimeoutError(f"only {count} records read in {within:.0f} s")
            batches = await consumer.getmany(timeout_ms=1000, max_records=COPY_BATCH)
            for tp, records in batches.items():
                end = todo.get(tp)
                if end is None or not records:
                    continue
                if records[-1].offset >= end - 1:
                    records = [r for r in records if r.offset < end]
                    del todo[tp]
                    consumer.pause(tp)
                count += len(records)
                await handle(records)
        return count, time.monotonic() - began
    finally:
        await consumer.stop()


async def bare_consumer(
    bootstrap: str, topic: str, start: Offsets, stop: Offsets, within: float
) -> float:
    """Events/s of a consumer that reads and discards."""

    async def discard(records: Records) -> None:
        return None

    count, seconds = await read_range(bootstrap, topic, start, stop, discard, within)
    if count == 0:
        raise RuntimeError("no events to read")
    return count / seconds


Row = tuple[str, str, str, Decimal, datetime]


def parse(value: bytes) -> Row | None:
    """The columns of one event; None for a record that is not a usage event (another test's)."""
    try:
        event = json.loads(value)
        return (
            str(event["account_sid"]),
            str(event["event_id"]),
            str(event["category"]),
            Decimal(str(event["quantity"])),
            datetime.fromisoformat(event["occurred_at"]),
        )
    except (ValueError, KeyError, TypeError, ArithmeticError):
        return None


async def bare_sink(
    bootstrap: str, topic: str, start: Offsets, stop: Offsets, database_url: str, within: float
) -> float:
    """Events/s of read, parse and COPY into an unindexed table, in batches."""
    conn = await asyncpg.connect(database_url, timeout=30)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bare_sink (account_sid text, event_id text,"
            " category text, quantity numeric, occurred_at timestamptz)"
        )
        copying: asyncio.Task[str] | None = None
        rows: list[Row] = []
        copied = 0

        async def flush() -> None:
            nonlocal copying, rows, copied
            if copying is not None:
                await copying
            copying = asyncio.create_task(conn.copy_records_to_table("bare_sink", records=rows))
            copied += len(rows)
            rows = []

        async def sink(records: Records) -> None:
            rows.extend(row for record in records if (row := parse(record.value)) is not None)
            if len(rows) >= COPY_BATCH:
                await flush()

        began = time.monotonic()
        count, _ = await read_range(bootstrap, topic, start, stop, sink, within)
        if rows:
            await flush()
        if copying is not None:
            await copying
        seconds = time.monotonic() - began
        stored = await conn.fetchval("SELECT count(*) FROM bare_sink")
        if count == 0 or stored != copied:
            raise RuntimeError(f"copied {copied} of {count} events but the table holds {stored}")
        return count / seconds
    finally:
        await conn.close()
