"""Notifications' use cases: each applies a batch in the engine's transaction, safe to run twice."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from tally_contracts.accounts import AccountState
from tally_runtime.clock import Clock
from tally_runtime.database import Connection
from tally_runtime.records import ConsumedRecord
from tally_runtime.units import UnitOfWork

from tally_notifications import accounts_repository, domain, repository
from tally_notifications.freshness import EndOffsets, stale_accounts
from tally_notifications.triggers import Trigger, trigger_of

REDECIDE_BATCH = 500
"""How many deferred decisions one run of the periodic job takes again."""

RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 60.0
"""A decision still deferred is tried again after 0.5 s, then 1 s, 2 s, ... at most a minute."""


@dataclass(frozen=True)
class Deciding:
    """What deciding needs besides the database: the state topic's end, the ops contacts."""

    end_offsets: EndOffsets
    ops_emails: tuple[str, ...] = ()

    async def decide_triggers(
        self, records: Sequence[ConsumedRecord], unit: UnitOfWork
    ) -> list[domain.Decision]:
        """Decide about each trigger of the batch once; the decisions kept now.

        Safe to run twice: a decision's id derives from its trigger, so a redelivered trigger
        finds its decision (whatever its outcome) and is neither decided nor sent again.
        """
        triggers: dict[str, Trigger] = {}
        for record in records:
            trigger = trigger_of(record.topic, record.value)
            if trigger is not None:
                triggers.setdefault(domain.decision_id_for(trigger.event_id), trigger)
        known = await repository.known_decisions(unit.conn, list(triggers))
        new = [trigger for decision_id, trigger in triggers.items() if decision_id not in known]
        if not new:
            return []
        decisions = await self.decide(unit.conn, new, unit.clock())
        kept = await repository.insert_decisions(unit.conn, decisions)
        return [decision for decision in decisions if decision.decision_id in kept]

    async def decide(
        self, conn: Connection, triggers: Sequence[Trigger], now: datetime
    ) -> list[domain.Decision]:
        """Decide about `triggers` with their accounts' states, proven fresh first."""
        sids = {trigger.account_sid for trigger in triggers}
        # The barrier first, the states after: a state read later can only be newer.
        stale = await stale_accounts(conn, sids, self.end_offsets)
        views = await accounts_repository.account_views(conn, sids)
        return [
            domain.decide(
                trigger,
                views.get(trigger.account_sid),
                fresh=stale.get(trigger.account_sid),
                ops_emails=self.ops_emails,
                now=now,
            )
            for trigger in triggers
        ]

    async def redecide_deferred(self, pool: asyncpg.Pool, clock: Clock) -> int:
        """Take deferred decisions again; those still not provably fresh stay deferred.

        Safe in every replica at once: the rows are locked, others skip them.
        """
        now = clock()
        async with pool.acquire() as conn, conn.transaction():
            triggers = await repository.lock_deferred(conn, now, REDECIDE_BATCH)
            if not triggers:
                return 0
            decisions = await self.decide(conn, triggers, now)
            taken = [d for d in decisions if d.outcome is not domain.Outcome.DEFERRED]
            still = [d for d in decisions if d.outcome is domain.Outcome.DEFERRED]
            await repository.update_decisions(conn, taken)
            await repository.postpone_deferred(conn, still, RETRY_BASE_SECONDS, RETRY_MAX_SECONDS)
            return len(taken)


async def project_account_states(records: Sequence[ConsumedRecord], unit: UnitOfWork) -> None:
    """Keep each account's newest state and how far each partition has been applied.

    Both in the batch's transaction, so the recorded offsets never claim a state not kept.
    The version is the idempotency key: a repeat or an older state changes nothing.
    """
    newest: dict[str, AccountState] = {}
    next_offsets: dict[int, int] = {}
    for record in records:
        next_offsets[record.partition] = max(
            next_offsets.get(record.partition, 0), record.offset + 1
        )
        if not record.value:  # a tombstone on the compacted topic: nothing to keep
            continue
        state = AccountState.model_validate_json(record.value)
        kept = newest.get(state.account_sid)
        if kept is None or kept.version < state.version:
            newest[state.account_sid] = state
    if newest:
        await accounts_repository.upsert_states(unit.conn, list(newest.values()))
    await accounts_repository.advance_progress(unit.conn, next_offsets)


async def list_decisions(
    account_sid: str, *, pool: asyncpg.Pool, limit: int
) -> list[repository.KeptDecision]:
    """The account's decisions, newest first."""
    async with pool.acquire() as conn:
        return await repository.fetch_decisions(conn, account_sid, limit)
