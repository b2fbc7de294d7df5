"""Notifications' SQL and row mapping; no decisions are taken here."""

import asyncpg
from tally_runtime.database import Connection

from tally_notifications.domain import Outcome, RecordedDecision


async def insert_decision(conn: Connection, decision: RecordedDecision) -> bool:
    """Keep `decision`; False when a decision about the same event is kept already."""
    status = await conn.execute(
        """
        INSERT INTO decisions (decision_id, source_event_id, account_sid, event_type, outcome,
                               reason, decided_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT DO NOTHING
        """,
        decision.decision_id,
        decision.source_event_id,
        decision.account_sid,
        decision.event_type,
        decision.outcome.value,
        decision.reason,
        decision.decided_at,
    )
    return bool(status == "INSERT 0 1")


def _decision(row: asyncpg.Record) -> RecordedDecision:
    return RecordedDecision(
        decision_id=row["decision_id"],
        source_event_id=row["source_event_id"],
        account_sid=row["account_sid"],
        event_type=row["event_type"],
        outcome=Outcome(row["outcome"]),
        reason=row["reason"],
        decided_at=row["decided_at"],
    )


async def fetch_decisions(conn: Connection, account_sid: str, limit: int) -> list[RecordedDecision]:
    """The account's most recent decisions, newest first."""
    rows = await conn.fetch(
        """
        SELECT decision_id, source_event_id, account_sid, event_type, outcome, reason, decided_at
        FROM decisions WHERE account_sid = $1
        ORDER BY decided_at DESC, decision_id DESC
        LIMIT $2
        """,
        account_sid,
        limit,
    )
    return [_decision(row) for row in rows]
