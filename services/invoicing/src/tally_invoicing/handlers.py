"""Invoicing's use cases: each applies a batch in the engine's transaction, safe to run twice."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
from tally_contracts.accounts import AccountState, BillingMode
from tally_contracts.balances import BalanceChanged
from tally_contracts.topics import BALANCE_ALERTS, BALANCE_CHANGED
from tally_runtime import account_states
from tally_runtime.records import ConsumedRecord
from tally_runtime.units import UnitOfWork

from tally_invoicing import (
    domain,
    ledger_repository,
    posting,
    prepaid,
    recharge_repository,
    repository,
)
from tally_invoicing.charging import charge_usage
from tally_invoicing.ledger import Entry, EntryKind

__all__ = ["charge_usage", "current_balance", "list_charges", "record_account_states"]


@dataclass(frozen=True)
class ChargeList:
    """The most recent charges of an account, and the count and total of all of them."""

    charges: list[domain.Charge]
    count: int
    total: Decimal


async def list_charges(account_sid: str, *, pool: asyncpg.Pool, limit: int) -> ChargeList:
    """The account's charges, newest first, with their total at full precision."""
    # One snapshot, so the listed charges and the total agree.
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        charges = await repository.fetch_charges(conn, account_sid, limit)
        count, total = await repository.charges_summary(conn, account_sid)
    return ChargeList(charges=charges, count=count, total=total)


async def current_balance(account_sid: str, *, pool: asyncpg.Pool) -> domain.Balance:
    """The account's prepaid balance; an account nothing moved yet has its opening balance."""
    async with pool.acquire() as conn:
        balance = await repository.fetch_balance(conn, account_sid)
    return balance or domain.Balance.opening(account_sid)


async def record_account_states(
    records: Sequence[ConsumedRecord], unit: UnitOfWork
) -> list[BalanceChanged]:
    """Keep each account's newest state; credit a new trial account; freeze on invoiced.

    Safe to run twice: the projection and the account views keep versions, and the credit
    and the freeze are ledger entries with natural ids, so a redelivered or replayed state
    credits and freezes nothing again.
    """
    states = [AccountState.model_validate_json(record.value) for record in records]
    known = await account_states.known_accounts(unit.conn, [s.account_sid for s in states])
    due = prepaid.trial_credits_due(states, {sid: k.version for sid, k in known.items()})
    await account_states.record_account_states(records, unit)
    await repository.store_low_balance_thresholds(unit.conn, prepaid.newest_thresholds(states))
    now = unit.clock()
    newest = prepaid.newest_states(states)
    accounts = await ledger_repository.lock_accounts(unit.conn, list(newest), now)
    credited = set()
    if due:
        credited = set(
            await repository.insert_trial_credits(unit.conn, due, prepaid.TRIAL_CREDIT, now)
        )
    entries = [
        Entry(f"trial_credit:{sid}", sid, EntryKind.TRIAL_CREDIT, prepaid.TRIAL_CREDIT, now)
        for sid in sorted(credited)
    ]
    freezes = prepaid.freezes_due(newest, accounts, credited)
    entries += [
        Entry(f"freeze:{sid}:v{version}", sid, EntryKind.FREEZE, -remainder, now)
        for sid, version, remainder in freezes
    ]
    posted = {
        p.account.account_sid: p
        for p in await posting.post_locked(unit.conn, accounts, entries, now)
    }
    if freezes:
        await ledger_repository.insert_frozen_balances(
            unit.conn, [(f"freeze:{sid}:v{v}", sid, r) for sid, v, r in freezes], now
        )
    invoiced = [sid for sid, s in newest.items() if s.billing_mode is BillingMode.INVOICED]
    if invoiced:
        await recharge_repository.skip_pending_recharges(unit.conn, invoiced, now)
    await ledger_repository.store_account_views(unit.conn, list(newest.values()))
    cause = {state.account_sid: record for state, record in zip(states, records, strict=True)}
    changes = []
    for sid in sorted(credited):
        balance = next(b for e, b in posted[sid].entries if e.kind is EntryKind.TRIAL_CREDIT)
        changes.append(prepaid.trial_credited(sid, balance, now))
    for change in changes:
        unit.publish(BALANCE_CHANGED, change.account_sid, change, cause=cause[change.account_sid])
    for p in posted.values():
        for crossed in p.crossings:
            unit.publish(
                BALANCE_ALERTS, crossed.account_sid, crossed, cause=cause[crossed.account_sid]
            )
    return changes
