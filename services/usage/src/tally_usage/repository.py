"""SQL for usage events, conflicts and rejections; row mapping only, no decisions.

Writes take sequences so the per-message handler and a later batch handler share them.
"""

import json
from collections.abc import Sequence
from datetime import datetime

from tally_contracts.errors import FieldError
from tally_contracts.usage import UsageEvent, UsageRejected
from tally_runtime.database import Connection

from tally_usage.domain import CategoryTotal, EventHistory, InvalidUsage

EventKey = tuple[str, str]
"""(account_sid, event_id): the identity of a usage event."""


def _storable(text: str) -> str:
    # PostgreSQL text cannot hold NUL or lone surrogates, and JSON input may spell both
    # ("\u0000", "\ud800"); an unstorable message must become a rejection, not a retry loop.
    return text.encode("utf-8", errors="replace").decode("utf-8").replace("\x00", "\ufffd")


def _errors_json(errors: Sequence[FieldError]) -> str:
    return json.dumps(
        [{"field": _storable(e.field), "reason": _storable(e.reason)} for e in errors]
    )


async def payload_hashes(conn: Connection, keys: Sequence[EventKey]) -> dict[EventKey, str]:
    """The stored payload hash of each of `keys` that is already recorded."""
    rows = await conn.fetch(
        "SELECT e.account_sid, e.event_id, e.payload_hash"
        " FROM usage_events e"
        " JOIN unnest($1::text[], $2::text[]) AS k(account_sid, event_id)"
        "   USING (account_sid, event_id)",
        [sid for sid, _ in keys],
        [event_id for _, event_id in keys],
    )
    return {(row["account_sid"], row["event_id"]): row["payload_hash"] for row in rows}


async def insert_events(
    conn: Connection, events: Sequence[tuple[UsageEvent, str]], recorded_at: datetime
) -> None:
    """Store new events with their payload hashes."""
    await conn.executemany(
        "INSERT INTO usage_events (account_sid, event_id, category, quantity, occurred_at,"
        " phone_number, number_type, attributes, payload_hash, recorded_at)"
        " VALUES ($1, $2, $3, $4::numeric, $5, $6, $7, $8::jsonb, $9, $10)",
        [
            (
                event.account_sid,
                event.event_id,
                event.category.value,
                event.wire_quantity(),
                event.occurred_at,
                event.phone_number,
                event.number_type.value if event.number_type else None,
                json.dumps({_storable(k): _storable(v) for k, v in event.attributes.items()}),
                payload_hash,
                recorded_at,
            )
            for event, payload_hash in events
        ],
    )


async def count_duplicates(conn: Connection, keys: Sequence[EventKey]) -> None:
    """Count one more ignored repeat for each of `keys` (a key may appear several times)."""
    await conn.execute(
        "UPDATE usage_events e SET duplicates = e.duplicates + k.repeats"
        " FROM (SELECT account_sid, event_id, count(*) AS repeats"
        "       FROM unnest($1::text[], $2::text[]) AS u(account_sid, event_id)"
        "       GROUP BY account_sid, event_id) AS k"
        " WHERE e.account_sid = k.account_sid AND e.event_id = k.event_id",
        [sid for sid, _ in keys],
        [event_id for _, event_id in keys],
    )


async def insert_conflicts(
    conn: Connection, conflicts: Sequence[tuple[UsageEvent, str, UsageRejected]]
) -> None:
    """Keep each conflicting repeat (event, its payload hash, its dead letter) for support."""
    await conn.executemany(
        "INSERT INTO usage_conflicts (account_sid, event_id, payload_hash, original,"
        " source_topic, source_partition, source_offset, detected_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [
            (
                event.account_sid,
                event.event_id,
                payload_hash,
                _storable(letter.original),
                letter.source_topic,
                letter.source_partition,
                letter.source_offset,
                letter.rejected_at,
            )
            for event, payload_hash, letter in conflicts
        ],
    )


async def insert_rejections(
    conn: Connection, rejections: Sequence[tuple[InvalidUsage, UsageRejected]]
) -> None:
    """Keep each invalid message with its errors and original text."""
    await conn.executemany(
        "INSERT INTO usage_rejections (account_sid, event_id, kafka_key, errors, original,"
        " source_topic, source_partition, source_offset, rejected_at)"
        " VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9)",
        [
            (
                _storable(invalid.account_sid) if invalid.account_sid else None,
                _storable(invalid.event_id) if invalid.event_id else None,
                _storable(letter.key) if letter.key is not None else None,
                _errors_json(invalid.errors),
                _storable(letter.original),
                letter.source_topic,
                letter.source_partition,
                letter.source_offset,
                letter.rejected_at,
            )
            for invalid, letter in rejections
        ],
    )


async def event_histories(
    conn: Connection, account_sid: str, event_ids: Sequence[str]
) -> dict[str, EventHistory]:
    """What is stored about each of `event_ids` of the account; ids with nothing are left out."""
    recorded = await conn.fetch(
        "SELECT event_id, recorded_at, duplicates FROM usage_events"
        " WHERE account_sid = $1 AND event_id = ANY($2::text[])",
        account_sid,
        event_ids,
    )
    conflicts = await conn.fetch(
        "SELECT event_id, count(*) AS conflicts FROM usage_conflicts"
        " WHERE account_sid = $1 AND event_id = ANY($2::text[]) GROUP BY event_id",
        account_sid,
        event_ids,
    )
    rejections = await conn.fetch(
        "SELECT DISTINCT ON (event_id) event_id, errors,"
        "   count(*) OVER (PARTITION BY event_id) AS rejections"
        " FROM usage_rejections WHERE account_sid = $1 AND event_id = ANY($2::text[])"
        " ORDER BY event_id, id DESC",
        account_sid,
        event_ids,
    )
    recorded_by_id = {row["event_id"]: row for row in recorded}
    conflicts_by_id = {row["event_id"]: row["conflicts"] for row in conflicts}
    rejections_by_id = {row["event_id"]: row for row in rejections}
    return {
        event_id: EventHistory(
            recorded_at=recorded_by_id[event_id]["recorded_at"]
            if event_id in recorded_by_id
            else None,
            duplicates=recorded_by_id[event_id]["duplicates"] if event_id in recorded_by_id else 0,
            conflicts=conflicts_by_id.get(event_id, 0),
            last_rejection=_field_errors(rejections_by_id[event_id]["errors"])
            if event_id in rejections_by_id
            else [],
            rejections=rejections_by_id[event_id]["rejections"]
            if event_id in rejections_by_id
            else 0,
        )
        for event_id in recorded_by_id.keys() | conflicts_by_id.keys() | rejections_by_id.keys()
    }


def _field_errors(stored: str) -> list[FieldError]:
    return [FieldError.model_validate(item) for item in json.loads(stored)]


async def category_totals(conn: Connection, account_sid: str) -> list[CategoryTotal]:
    """Stored events and summed quantity per category of one account."""
    rows = await conn.fetch(
        "SELECT category, count(*) AS events, sum(quantity) AS quantity FROM usage_events"
        " WHERE account_sid = $1 GROUP BY category ORDER BY category",
        account_sid,
    )
    return [CategoryTotal(row["category"], row["events"], row["quantity"]) for row in rows]
