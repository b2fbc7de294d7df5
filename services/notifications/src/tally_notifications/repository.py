"""Notifications' SQL and row mapping; no decisions are taken here."""

import asyncpg
from tally_contracts.accounts import AccountState, AccountStatus, BillingMode
from tally_runtime.database import Connection

from tally_notifications.domain import KnownAccount, Outcome, RecordedDecision


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


async def save_account_if_newer(conn: Connection, state: AccountState) -> bool:
    """Store `state` unless a version at least as new is stored; True when it was stored."""
    status = await conn.execute(
        """
        INSERT INTO accounts (account_sid, version, billing_mode, status, time_zone,
                              state_occurred_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, now())
        ON CONFLICT (account_sid) DO UPDATE
            SET version = EXCLUDED.version,
                billing_mode = EXCLUDED.billing_mode,
                status = EXCLUDED.status,
                time_zone = EXCLUDED.time_zone,
                state_occurred_at = EXCLUDED.state_occurred_at,
                updated_at = EXCLUDED.updated_at
            WHERE accounts.version < EXCLUDED.version
        """,
        state.account_sid,
        state.version,
        state.billing_mode.value,
        state.status.value,
        state.time_zone,
        state.occurred_at,
    )
    return bool(status == "INSERT 0 1")


async def fetch_account(conn: Connection, account_sid: str) -> KnownAccount | None:
    """The newest state stored for one account, if any."""
    row = await conn.fetchrow(
        "SELECT account_sid, version, billing_mode, status, time_zone"
        " FROM accounts WHERE account_sid = $1",
        account_sid,
    )
    if row is None:
        return None
    return KnownAccount(
        account_sid=row["account_sid"],
        version=row["version"],
        billing_mode=BillingMode(row["billing_mode"]),
        status=AccountStatus(row["status"]),
        time_zone=row["time_zone"],
    )
