"""Notifications' use cases: each applies a batch in the engine's transaction, safe to run twice."""

from collections.abc import Sequence

import asyncpg
from tally_contracts.balances import BalanceChanged
from tally_runtime.account_states import known_accounts
from tally_runtime.records import ConsumedRecord
from tally_runtime.units import UnitOfWork

from tally_notifications import domain, repository


async def decide_notifications(
    records: Sequence[ConsumedRecord], unit: UnitOfWork
) -> list[domain.RecordedDecision]:
    """Decide whether each balance change leads to a notification; the decisions kept now.

    Safe to run twice: a decision's id is derived from its event, so a redelivered event
    finds its decision kept and changes nothing.
    """
    events = [BalanceChanged.model_validate_json(record.value) for record in records]
    accounts = await known_accounts(unit.conn, [event.account_sid for event in events])
    now = unit.clock()
    decisions = [
        domain.recorded(event, domain.decide(event, accounts.get(event.account_sid)), now)
        for event in events
    ]
    kept = await repository.insert_decisions(unit.conn, decisions)
    return [decision for decision in decisions if decision.decision_id in kept]


async def list_decisions(
    account_sid: str, *, pool: asyncpg.Pool, limit: int
) -> list[domain.RecordedDecision]:
    """The account's decisions, newest first."""
    async with pool.acquire() as conn:
        return await repository.fetch_decisions(conn, account_sid, limit)
