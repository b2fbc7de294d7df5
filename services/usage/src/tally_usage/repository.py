"""SQL for usage events, conflicts and rejections; row mapping only, no decisions.

Writes take a whole batch and make one round trip each (`unnest` of arrays).
"""

import json
from collections.abc import Sequence
from datetime import datetime

from tally_contracts.errors import FieldError
from tally_contracts.usage import UsageRejected
from tally_runtime.database import Connection

from tally_usage.dating import DatedUsage
from tally_usage.domain import (
    AcceptedUsage,
    InvalidUsage,
    StoredUsage,
)
from tally_usage.receipts import (
    CategoryTotal,
    EventHistory,
)

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


async def insert_new_events(
    conn: Connection, dated: Sequence[DatedUsage], recorded_at: datetime
) -> set[EventKey]:
    """Store the events whose identity is not stored yet, dated; returns the identities stored now.

    One statement for the whole batch; an identity stored already (by an earlier record, or
    by this very record before a crash) is left as it was.
    """
    if not dated:
        return set()
    rows = await conn.fetch(
        "INSERT INTO usage_events (account_sid, event_id, category, quantity, occurred_at,"
        " phone_number, number_type, attributes, payload_hash, recorded_at, source_partition,"
        " source_offset, local_date, period, late)"
        " SELECT account_sid, event_id, category, quantity::numeric, occurred_at, phone_number,"
        "   number_type, attributes::jsonb, payload_hash, $10, source_partition, source_offset,"
        "   local_date, period, late"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],"
        "   $6::text[], $7::text[], $8::text[], $9::text[], $11::int[], $12::bigint[],"
        "   $13::date[], $14::text[], $15::bool[])"
        "   AS u(account_sid, event_id, category, quantity, occurred_at, phone_number,"
        "        number_type, attributes, payload_hash, source_partition, source_offset,"
        "        local_date, period, late)"
        " ON CONFLICT (account_sid, event_id) DO NOTHING"
        " RETURNING account_sid, event_id",
        [d.accepted.event.account_sid for d in dated],
        [d.accepted.event.event_id for d in dated],
        [d.accepted.event.category.value for d in dated],
        [d.accepted.event.wire_quantity() for d in dated],
        [d.accepted.event.occurred_at for d in dated],
        [d.accepted.event.phone_number for d in dated],
        [
            d.accepted.event.number_type.value if d.accepted.event.number_type else None
            for d in dated
        ],
        [_attributes_json(d.accepted.event.attributes) for d in dated],
        [d.accepted.payload_hash for d in dated],
        recorded_at,
        [d.accepted.message.partition for d in dated],
        [d.accepted.message.offset for d in dated],
        [d.local_date for d in dated],
        [d.period for d in dated],
        [d.late for d in dated],
    )
    return {(row["account_sid"], row["event_id"]) for row in rows}


def _attributes_json(attributes: dict[str, str]) -> str:
    if not attributes:
        return "{}"
    return json.dumps({_storable(k): _storable(v) for k, v in attributes.items()})


async def stored_usage(conn: Connection, keys: Sequence[EventKey]) -> dict[EventKey, StoredUsage]:
    """The payload hash and source record stored under each of `keys` that is stored."""
    if not keys:
        return {}
    rows = await conn.fetch(
        "SELECT e.account_sid, e.event_id, e.payload_hash, e.source_partition, e.source_offset"
        " FROM usage_events e"
        " JOIN unnest($1::text[], $2::text[]) AS k(account_sid, event_id)"
        "   USING (account_sid, event_id)",
        [sid for sid, _ in keys],
        [event_id for _, event_id in keys],
    )
    return {
        (row["account_sid"], row["event_id"]): StoredUsage(
            row["payload_hash"], row["source_partition"], row["source_offset"]
        )
        for row in rows
    }


async def insert_duplicates(
    conn: Connection, duplicates: Sequence[AcceptedUsage], detected_at: datetime
) -> int:
    """Keep each repeat of a recorded payload once, by the record that carried it; how many new."""
    if not duplicates:
        return 0
    status = await conn.execute(
        "INSERT INTO usage_duplicates (account_sid, event_id, source_partition, source_offset,"
        " detected_at)"
        " SELECT *, $5 FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[])"
        " ON CONFLICT DO NOTHING",
        [a.event.account_sid for a in duplicates],
        [a.event.event_id for a in duplicates],
        [a.message.partition for a in duplicates],
        [a.message.offset for a in duplicates],
        detected_at,
    )
    return int(status.split()[-1])


async def insert_conflicts(
    conn: Connection, conflicts: Sequence[tuple[AcceptedUsage, UsageRejected]]
) -> set[str]:
    """Keep each conflicting repeat with its dead letter; returns the letter ids new here."""
    if not conflicts:
        return set()
    rows = await conn.fetch(
        "INSERT INTO usage_conflicts (account_sid, event_id, payload_hash, original,"
        " source_topic, source_partition, source_offset, detected_at, letter_id)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
        "   $6::int[], $7::bigint[], $8::timestamptz[], $9::text[])"
        " ON CONFLICT (letter_id) DO NOTHING RETURNING letter_id",
        [accepted.event.account_sid for accepted, _ in conflicts],
        [accepted.event.event_id for accepted, _ in conflicts],
        [accepted.payload_hash for accepted, _ in conflicts],
        [_storable(letter.original) for _, letter in conflicts],
        [letter.source_topic for _, letter in conflicts],
        [letter.source_partition for _, letter in conflicts],
        [letter.source_offset for _, letter in conflicts],
        [letter.rejected_at for _, letter in conflicts],
        [letter.letter_id for _, letter in conflicts],
    )
    return {row["letter_id"] for row in rows}


async def insert_rejections(
    conn: Connection, rejections: Sequence[tuple[InvalidUsage, UsageRejected]]
) -> set[str]:
    """Keep each invalid message with its errors and original text; returns new letter ids."""
    if not rejections:
        return set()
    rows = await conn.fetch(
        "INSERT INTO usage_rejections (account_sid, event_id, kafka_key, errors, original,"
        " source_topic, source_partition, source_offset, rejected_at, letter_id)"
        " SELECT account_sid, event_id, kafka_key, errors::jsonb, original, source_topic,"
        "   source_partition, source_offset, rejected_at, letter_id"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
        "   $7::int[], $8::bigint[], $9::timestamptz[], $10::text[])"
        "   AS u(account_sid, event_id, kafka_key, errors, original, source_topic,"
        "        source_partition, source_offset, rejected_at, letter_id)"
        " ON CONFLICT (letter_id) DO NOTHING RETURNING letter_id",
        [_storable(bad.account_sid) if bad.account_sid else None for bad, _ in rejections],
        [_storable(bad.event_id) if bad.event_id else None for bad, _ in rejections],
        [_storable(ltr.key) if ltr.key is not None else None for _, ltr in rejections],
        [_errors_json(bad.errors) for bad, _ in rejections],
        [_storable(letter.original) for _, letter in rejections],
        [letter.source_topic for _, letter in rejections],
        [letter.source_partition for _, letter in rejections],
        [letter.source_offset for _, letter in rejections],
        [letter.rejected_at for _, letter in rejections],
        [letter.letter_id for _, letter in rejections],
    )
    return {row["letter_id"] for row in rows}


async def event_histories(
    conn: Connection, account_sid: str, event_ids: Sequence[str]
) -> dict[str, EventHistory]:
    """What is stored about each of `event_ids` of the account; ids with nothing are left out."""
    # Ids are stored as PostgreSQL can hold them: an id asked as sent ("\u0000") is found so.
    asked = event_ids
    event_ids = sorted({_storable(event_id) for event_id in asked})
    recorded = await conn.fetch(
        "SELECT e.event_id, e.recorded_at,"
        "   (SELECT count(*) FROM usage_duplicates d"
        "    WHERE d.account_sid = e.account_sid AND d.event_id = e.event_id) AS duplicates"
        " FROM usage_events e WHERE e.account_sid = $1 AND e.event_id = ANY($2::text[])",
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
    found = {
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
    return {
        event_id: found[_storable(event_id)] for event_id in asked if _storable(event_id) in found
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


async def awaiting_counts(conn: Connection) -> tuple[int, dict[str, int]]:
    """Records awaiting their account's state: in all, and per account SID (for ops)."""
    rows = await conn.fetch(
        "SELECT account_sid, count(*) AS records FROM awaiting_account GROUP BY account_sid"
    )
    per_account = {row["account_sid"]: row["records"] for row in rows}
    return sum(per_account.values()), per_account
