"""Notifications' SQL for decisions and deliveries; no decisions are taken here."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from tally_runtime.database import Connection

from tally_notifications.domain import Decision, Outcome
from tally_notifications.triggers import Trigger, parsed, trigger_from


@dataclass(frozen=True)
class KeptDecision:
    """A decision as listed: what support reads back to a customer."""

    decision_id: str
    trigger_event_id: str
    account_sid: str
    event_type: str
    kind: str
    outcome: Outcome
    reason: str
    billing_mode: str | None
    channels: tuple[str, ...]
    decided_at: datetime


async def known_decisions(conn: Connection, decision_ids: Sequence[str]) -> set[str]:
    """Which of `decision_ids` are kept already, whatever their outcome."""
    rows = await conn.fetch(
        "SELECT decision_id FROM decisions WHERE decision_id = ANY($1::text[])", list(decision_ids)
    )
    return {row["decision_id"] for row in rows}


async def insert_decisions(conn: Connection, decisions: Sequence[Decision]) -> set[str]:
    """Keep each decision, and its deliveries, unless it is kept already (a redelivery).

    Returns the ids of the decisions kept now.
    """
    rows = await conn.fetch(
        """
        INSERT INTO decisions (decision_id, trigger_event_id, account_sid, event_type, kind,
                               outcome, reason, billing_mode, channels, decided_at,
                               trigger_topic, trigger)
        SELECT u.decision_id, u.trigger_event_id, u.account_sid, u.event_type, u.kind, u.outcome,
               u.reason, u.billing_mode, string_to_array(u.channels, ','), u.decided_at,
               u.trigger_topic, u.trigger::jsonb
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                    $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::text[],
                    $12::text[])
            WITH ORDINALITY AS u(decision_id, trigger_event_id, account_sid, event_type, kind,
                                 outcome, reason, billing_mode, channels, decided_at,
                                 trigger_topic, trigger, taken)
        ORDER BY taken
        ON CONFLICT DO NOTHING
        RETURNING decision_id
        """,
        [d.decision_id for d in decisions],
        [d.trigger.event_id for d in decisions],
        [d.trigger.account_sid for d in decisions],
        [d.trigger.event_type for d in decisions],
        [d.trigger.kind.value for d in decisions],
        [d.outcome.value for d in decisions],
        [d.reason for d in decisions],
        [d.billing_mode.value if d.billing_mode else None for d in decisions],
        [",".join(d.channels) for d in decisions],
        [d.decided_at for d in decisions],
        [d.trigger.topic for d in decisions],
        [json.dumps(d.trigger.payload) for d in decisions],
    )
    kept = {row["decision_id"] for row in rows}
    await insert_deliveries(conn, [d for d in decisions if d.decision_id in kept])
    return kept


async def insert_deliveries(conn: Connection, decisions: Sequence[Decision]) -> None:
    """The pending deliveries of `decisions` (those sent), due at once."""
    rows = [(d, delivery) for d in decisions for delivery in d.deliveries]
    if not rows:
        return
    await conn.execute(
        """
        INSERT INTO deliveries (delivery_id, decision_id, account_sid, channel, recipient, kind,
                                subject, body, next_attempt_at, created_at)
        SELECT delivery_id, decision_id, account_sid, channel, recipient, kind, subject,
               body::jsonb, created_at, created_at
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                    $7::text[], $8::text[], $9::timestamptz[])
            AS u(delivery_id, decision_id, account_sid, channel, recipient, kind, subject, body,
                 created_at)
        ON CONFLICT DO NOTHING
        """,
        [delivery.delivery_id for _, delivery in rows],
        [d.decision_id for d, _ in rows],
        [d.trigger.account_sid for d, _ in rows],
        [delivery.channel.value for _, delivery in rows],
        [delivery.recipient for _, delivery in rows],
        [d.trigger.kind.value for d, _ in rows],
        [delivery.subject for _, delivery in rows],
        [json.dumps(delivery.body) for _, delivery in rows],
        [d.decided_at for d, _ in rows],
    )


async def lock_deferred(conn: Connection, now: datetime, limit: int) -> list[Trigger]:
    """The triggers of up to `limit` deferred decisions due by `now`, locked for this
    transaction; rows another replica holds are skipped, so replicas never decide one twice."""
    rows = await conn.fetch(
        """
        SELECT trigger_topic, trigger FROM decisions
        WHERE outcome = 'deferred' AND (retry_at IS NULL OR retry_at <= $1)
        ORDER BY retry_at NULLS FIRST
        LIMIT $2
        FOR UPDATE SKIP LOCKED
        """,
        now,
        limit,
    )
    triggers = (
        trigger_from(row["trigger_topic"], parsed(json.loads(row["trigger"]))) for row in rows
    )
    return [trigger for trigger in triggers if trigger is not None]


async def postpone_deferred(
    conn: Connection, decisions: Sequence[Decision], base_seconds: float, max_seconds: float
) -> None:
    """Keep still-deferred decisions deferred with their new reason, retried later each time."""
    await conn.execute(
        """
        UPDATE decisions d
        SET reason = u.reason, retries = d.retries + 1,
            retry_at = u.now + make_interval(
                secs => least($3::float8, $2::float8 * power(2, least(d.retries, 20))))
        FROM unnest($1::text[], $4::text[], $5::timestamptz[]) AS u(decision_id, reason, now)
        WHERE d.decision_id = u.decision_id AND d.outcome = 'deferred'
        """,
        [d.decision_id for d in decisions],
        base_seconds,
        max_seconds,
        [d.reason for d in decisions],
        [d.decided_at for d in decisions],
    )


async def update_decisions(conn: Connection, decisions: Sequence[Decision]) -> None:
    """Replace deferred decisions by the ones taken now (only while they are still deferred)."""
    await conn.execute(
        """
        UPDATE decisions d
        SET outcome = u.outcome, reason = u.reason, billing_mode = u.billing_mode,
            channels = string_to_array(u.channels, ','), decided_at = u.decided_at
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                    $6::timestamptz[])
            AS u(decision_id, outcome, reason, billing_mode, channels, decided_at)
        WHERE d.decision_id = u.decision_id AND d.outcome = 'deferred'
        """,
        [d.decision_id for d in decisions],
        [d.outcome.value for d in decisions],
        [d.reason for d in decisions],
        [d.billing_mode.value if d.billing_mode else None for d in decisions],
        [",".join(d.channels) for d in decisions],
        [d.decided_at for d in decisions],
    )
    await insert_deliveries(conn, [d for d in decisions if d.outcome is Outcome.SENT])


def _kept(row: asyncpg.Record) -> KeptDecision:
    return KeptDecision(
        decision_id=row["decision_id"],
        trigger_event_id=row["trigger_event_id"],
        account_sid=row["account_sid"],
        event_type=row["event_type"],
        kind=row["kind"],
        outcome=Outcome(row["outcome"]),
        reason=row["reason"],
        billing_mode=row["billing_mode"],
        channels=tuple(row["channels"]),
        decided_at=row["decided_at"],
    )


async def fetch_decisions(conn: Connection, account_sid: str, limit: int) -> list[KeptDecision]:
    """The account's most recent decisions, newest first."""
    rows = await conn.fetch(
        """
        SELECT decision_id, trigger_event_id, account_sid, event_type, kind, outcome, reason,
               billing_mode, channels, decided_at
        FROM decisions WHERE account_sid = $1
        ORDER BY decided_at DESC, taken_order DESC
        LIMIT $2
        """,
        account_sid,
        limit,
    )
    return [_kept(row) for row in rows]
