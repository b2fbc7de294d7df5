"""Notifications' SQL and row mapping; no decisions are taken here."""

from collections.abc import Sequence

import asyncpg
from tally_runtime.database import Connection

from tally_notifications.domain import Outcome, RecordedDecision


async def insert_decisions(conn: Connection, decisions: Sequence[RecordedDecision]) -> set[str]:
    """Keep each decision unless one about the same event is kept already (a redelivery).

    Returns the ids of the decisions kept now.
    """
    rows = await conn.fetch(
        """
        INSERT INTO decisions (decision_id, source_event_id, account_sid, event_type, outcome,
                               reason, decided_at)
        SELECT decision_id, source_event_id, account_sid, event_type, outcome, reason, decided_at
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                    $7::timestamptz[])
            WITH ORDINALITY AS u(decision_id, source_event_id, account_sid, event_type, outcome,
                                 reason, decided_at, taken)
        ORDER BY taken
        ON CONFLICT DO NOTHING
        RETURNING decision_id
        """,
        [decision.decision_id for decision in decisions],
        [decision.source_event_id for decision in decisions],
        [decision.account_sid for decision in decisions],
        [decision.event_type for decision in decisions],
        [decision.outcome.value for decision in decisions],
        [decision.reason for decision in decisions],
        [decision.decided_at for decision in decisions],
    )
    return {row["decision_id"] for row in rows}


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
        ORDER BY decided_at DESC, taken_order DESC
        LIMIT $2
        """,
        account_sid,
        limit,
    )
    return [_decision(row) for row in rows]
