"""Parked records over a service's internal API, for ops through the gateway (`tally ops parked`).

The same operations as `python -m tally_runtime.parked`, which needs the service's database:
`GET /ops/parked` lists them, `POST /ops/parked/{id}/replay` publishes one again (its original
key and bytes, to its topic) and marks it replayed, in one transaction: a send that fails
leaves it parked, and two replays of one record at once send it once.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel

from tally_runtime import parking
from tally_runtime.http import DatabasePool, internal_caller
from tally_runtime.kafka import make_producer
from tally_runtime.problems import ProblemError
from tally_runtime.settings import ServiceSettings

ParkedId = Annotated[int, Path(ge=1, le=2**63 - 1, description="a parked record's id")]
"""A `bigserial` id: anything else names no record (and must not reach PostgreSQL)."""

parked_router = APIRouter(prefix="/ops/parked", dependencies=[Depends(internal_caller)])


class ParkedPublic(BaseModel):
    id: int
    consumer_group: str
    topic: str
    partition: int
    offset: int
    key: str | None
    value: str
    """The record's bytes as UTF-8 (undecodable bytes replaced), at most 2,000 characters."""
    error: str
    attempts: int
    parked_at: datetime
    replayed_at: datetime | None


class ParkedList(BaseModel):
    waiting: int
    """Parked records not replayed yet."""
    records: list[ParkedPublic]


class Replayed(BaseModel):
    id: int
    topic: str
    replayed_at: datetime


def _public(record: parking.ParkedRecord) -> ParkedPublic:
    def text(raw: bytes) -> str:
        return raw.decode("utf-8", errors="replace")[:2000]

    return ParkedPublic(
        id=record.id,
        consumer_group=record.consumer_group,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=None if record.key is None else text(record.key),
        value=text(record.value),
        error=record.error,
        attempts=record.attempts,
        parked_at=record.parked_at,
        replayed_at=record.replayed_at,
    )


@parked_router.get("")
async def list_parked(
    pool: DatabasePool, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> ParkedList:
    """The parked records, oldest first (replayed ones too), and how many still wait."""
    async with pool.acquire() as conn:
        waiting = await parking.count_parked(conn)
        records = await parking.list_parked(conn, limit=limit)
    return ParkedList(waiting=waiting, records=[_public(r) for r in records])


@parked_router.post("/{parked_id}/replay")
async def replay_parked(parked_id: ParkedId, pool: DatabasePool, request: Request) -> Replayed:
    """Publish a parked record again and mark it replayed; `409` if it was replayed already."""
    settings: ServiceSettings = request.app.state.settings
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT topic, key, value, replayed_at FROM parked_records WHERE id = $1 FOR UPDATE",
            parked_id,
        )
        if row is None:
            raise ProblemError(404, "No such parked record", detail=f"no parked record {parked_id}")
        if row["replayed_at"] is not None:
            raise ProblemError(
                409, "Already replayed", detail=f"parked record {parked_id} was replayed already"
            )
        producer = make_producer("ops", settings)
        await producer.start()
        try:
            await producer.send_and_wait(row["topic"], row["value"], key=row["key"])
        finally:
            await producer.stop()
        replayed_at = await conn.fetchval(
            "UPDATE parked_records SET replayed_at = now() WHERE id = $1 RETURNING replayed_at",
            parked_id,
        )
    return Replayed(id=parked_id, topic=row["topic"], replayed_at=replayed_at)
