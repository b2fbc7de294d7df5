"""Suspension for balance: invoicing's balance facts start and end a grace period; a periodic
job suspends prepaid accounts whose grace period has run out.

The timer is a column (`balance_depleted_since`), so it survives restarts; the job locks the
rows it suspends and skips those another replica holds, so several replicas never suspend an
account twice.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import asyncpg
from tally_contracts.accounts import AccountReactivated, AccountSuspended, SuspensionReason
from tally_contracts.balances import BalanceChanged
from tally_contracts.topics import ACCOUNT_LIFECYCLE, ACCOUNT_STATE
from tally_runtime import outbox
from tally_runtime.clock import Clock
from tally_runtime.periodic import Periodic
from tally_runtime.records import ConsumedRecord
from tally_runtime.units import UnitOfWork

from tally_accounts import repository
from tally_accounts.changes import balance_outcome, may_suspend, reactivated, suspended
from tally_accounts.config import Settings
from tally_accounts.domain import Account, state_event

SUSPEND_BATCH = 500
"""Accounts one transaction of the job suspends at most."""


async def record_balances(records: Sequence[ConsumedRecord], unit: UnitOfWork) -> None:
    """Start or end each account's grace period from its balance facts, in their order.

    Safe to run twice: a fact older than the newest one applied is ignored, so a redelivered
    batch finds every fact already seen and changes nothing.
    """
    facts: dict[str, list[tuple[BalanceChanged, ConsumedRecord]]] = defaultdict(list)
    for record in records:  # one account's facts share a partition: later offsets are newer
        fact = BalanceChanged.model_validate_json(record.value)
        facts[fact.account_sid].append((fact, record))
    now = unit.clock()
    timers: list[Account] = []
    for account in await repository.lock_accounts(unit.conn, list(facts)):
        current, cause = account, None
        for fact, record in facts[account.sid]:
            seen = current.balance_seen_at
            if seen is not None and fact.occurred_at < seen:
                continue
            outcome = balance_outcome(current, fact.balance, at=fact.occurred_at)
            if outcome.reactivate:
                current, cause = reactivated(current, now=now), (fact, record)
            current = replace(
                current,
                balance_depleted_since=outcome.depleted_since,
                balance_seen_at=fact.occurred_at,
            )
        if cause is None:
            timers.append(current)
            continue
        await repository.update_account(unit.conn, current)
        _publish_reactivation(unit, current, *cause)
    if timers:
        await repository.set_balance_timers(
            unit.conn,
            [a.sid for a in timers],
            [a.balance_depleted_since for a in timers],
            [a.balance_seen_at for a in timers],
        )


def _publish_reactivation(
    unit: UnitOfWork, active: Account, fact: BalanceChanged, record: ConsumedRecord
) -> None:
    unit.publish(ACCOUNT_STATE, active.sid, state_event(active), cause=record)
    unit.publish(
        ACCOUNT_LIFECYCLE,
        active.sid,
        AccountReactivated(
            event_id=f"account:{active.sid}:v{active.version}:reactivated",
            occurred_at=active.updated_at,
            account_sid=active.sid,
            version=active.version,
            balance=fact.balance,
        ),
        cause=record,
    )


async def suspend_expired(pool: asyncpg.Pool, clock: Clock, *, grace_hours: float) -> int:
    """Suspend every active prepaid account depleted for longer than the grace period."""
    total = 0
    while True:
        now = clock()
        async with pool.acquire() as conn, conn.transaction():
            due = await repository.lock_depleted_before(
                conn, now - timedelta(hours=grace_hours), limit=SUSPEND_BATCH
            )
            for account in due:
                if not may_suspend(account, now=now, grace_hours=grace_hours):
                    continue
                stopped = suspended(account, now=now)
                await repository.update_account(conn, stopped)
                await outbox.enqueue(conn, ACCOUNT_STATE, stopped.sid, state_event(stopped))
                await outbox.enqueue(
                    conn,
                    ACCOUNT_LIFECYCLE,
                    stopped.sid,
                    AccountSuspended(
                        event_id=f"account:{stopped.sid}:v{stopped.version}:suspended",
                        occurred_at=now,
                        account_sid=stopped.sid,
                        version=stopped.version,
                        reason=SuspensionReason.BALANCE_DEPLETED,
                        depleted_since=account.balance_depleted_since,
                    ),
                )
                total += 1
        if len(due) < SUSPEND_BATCH:
            return total


def suspension_timer(settings: Settings) -> Periodic:
    """The job that suspends accounts whose grace period ran out, every few seconds."""

    async def run(pool: asyncpg.Pool, clock: Clock) -> int:
        return await suspend_expired(pool, clock, grace_hours=settings.suspension_grace_hours)

    return Periodic(
        "suspend-depleted-accounts", timedelta(seconds=settings.suspension_check_seconds), run
    )
