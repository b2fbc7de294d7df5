"""Notifications' use cases: each applies one event in one transaction, and is safe to run twice."""

import asyncpg
from tally_contracts.envelope import Envelope
from tally_runtime import inbox
from tally_runtime.account_states import known_account
from tally_runtime.clock import Clock

from tally_notifications import domain, repository

DECIDE = "notifications.decide"
"""The inbox consumer name of `decide_notification`."""


async def decide_notification(
    event: Envelope, *, pool: asyncpg.Pool, clock: Clock
) -> domain.RecordedDecision | None:
    """Decide whether `event` leads to a notification and keep the decision; None if seen."""
    async with pool.acquire() as conn, conn.transaction():
        if not await inbox.first_delivery(conn, DECIDE, event.event_id):
            return None
        account = await known_account(conn, event.account_sid)
        decision = domain.recorded(event, domain.decide(event, account), clock())
        if not await repository.insert_decision(conn, decision):
            # Reachable only if the inbox forgot the event: the decision kept first stands.
            return None
        return decision


async def list_decisions(
    account_sid: str, *, pool: asyncpg.Pool, limit: int
) -> list[domain.RecordedDecision]:
    """The account's decisions, newest first."""
    async with pool.acquire() as conn:
        return await repository.fetch_decisions(conn, account_sid, limit)
