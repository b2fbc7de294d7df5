"""Parked records: what a consumer could not apply, kept whole so its partition moves on."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from tally_runtime.database import Connection
from tally_runtime.metrics import record_parked
from tally_runtime.records import ConsumedRecord

MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class ParkedRecord:
    """A record that failed every try, with where it came from and the last error."""

    id: int
    consumer_group: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    error: str
    attempts: int
    parked_at: datetime
    replayed_at: datetime | None


def describe(error: BaseException) -> str:
    """The error as an operator reads it: its type and message, bounded."""
    return f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS].replace("\x00", "\\0")


async def park(
    conn: Connection, group: str, record: ConsumedRecord, error: BaseException, attempts: int
) -> None:
    """Keep `record` with its error; parking the same record again (a redelivery) is a no-op."""
    await conn.execute(
        "INSERT INTO parked_records (consumer_group, topic, partition, kafka_offset, key, value,"
        " value_sha256, error, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (topic, partition, kafka_offset, value_sha256) DO NOTHING",
        group,
        record.topic,
        record.partition,
        record.offset,
        record.key,
        record.value,
        hashlib.sha256(record.value).hexdigest(),
        describe(error),
        attempts,
    )
    record_parked(group, record.topic)


async def count_parked(conn: Connection) -> int:
    """How many parked records wait for an operator (replayed ones are not counted)."""
    return int(await conn.fetchval("SELECT count(*) FROM parked_records WHERE replayed_at IS NULL"))


async def list_parked(conn: Connection, *, limit: int = 100) -> list[ParkedRecord]:
    """The parked records, oldest first, replayed ones included."""
    rows = await conn.fetch(f"{_SELECT_PARKED} ORDER BY id LIMIT $1", limit)
    return [_parked(row) for row in rows]


async def parked_by_id(conn: Connection, ids: Sequence[int]) -> dict[int, ParkedRecord]:
    """The parked records with these ids, replayed ones included."""
    rows = await conn.fetch(f"{_SELECT_PARKED} WHERE id = ANY($1::bigint[])", list(ids))
    return {row["id"]: _parked(row) for row in rows}


_SELECT_PARKED = (
    "SELECT id, consumer_group, topic, partition, kafka_offset, key, value, error, attempts,"
    " parked_at, replayed_at FROM parked_records"
)


def _parked(row: asyncpg.Record) -> ParkedRecord:
    return ParkedRecord(
        id=row["id"],
        consumer_group=row["consumer_group"],
        topic=row["topic"],
        partition=row["partition"],
        offset=row["kafka_offset"],
        key=row["key"],
        value=row["value"],
        error=row["error"],
        attempts=row["attempts"],
        parked_at=row["parked_at"],
        replayed_at=row["replayed_at"],
    )


async def mark_replayed(conn: Connection, parked_id: int) -> bool:
    """Note that a parked record was sent again; False if it was not parked or already sent."""
    status = await conn.execute(
        "UPDATE parked_records SET replayed_at = now() WHERE id = $1 AND replayed_at IS NULL",
        parked_id,
    )
    return bool(status == "UPDATE 1")
