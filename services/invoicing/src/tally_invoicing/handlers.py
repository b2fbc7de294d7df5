"""Invoicing's use cases: each applies a batch in the engine's transaction, safe to run twice."""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
from tally_contracts.accounts import AccountState
from tally_contracts.balances import BalanceChanged
from tally_contracts.topics import BALANCE_CHANGED
from tally_contracts.usage import UsageRecorded
from tally_runtime import account_states
from tally_runtime.database import Connection
from tally_runtime.records import ConsumedRecord
from tally_runtime.units import UnitOfWork

from tally_invoicing import domain, prepaid, repository


class CachedRateCard:
    """The rate card, read from the database at most every `max_age` seconds, not per event."""

    def __init__(self, max_age: float = 30.0) -> None:
        self._max_age = max_age
        self._card: domain.RateCard | None = None
        self._loaded_at = 0.0

    async def current(self, conn: Connection) -> domain.RateCard:
        """The rate card, reloaded when it is older than `max_age` or was invalidated."""
        if self._card is None or time.monotonic() - self._loaded_at > self._max_age:
            self._card = await repository.load_rate_card(conn)
            self._loaded_at = time.monotonic()
        return self._card

    def invalidate(self) -> None:
        """Read the rate card again next time (a price was missing: it may have been added)."""
        self._card = None


RATE_CARD = CachedRateCard()
"""The process's rate card: one service, one rate card."""


async def charge_usage(
    records: Sequence[ConsumedRecord], unit: UnitOfWork, *, rate_card: CachedRateCard = RATE_CARD
) -> list[BalanceChanged]:
    """Rate a batch of recorded usage, charge it and draw down the balances.

    Safe to run twice: a charge's id is derived from its usage, so usage charged before
    (redelivered, or republished by usage's relay) finds its charge and moves nothing.
    """
    usages = [UsageRecorded.model_validate_json(record.value) for record in records]
    now = unit.clock()
    prices = await rate_card.current(unit.conn)
    by_id: dict[str, tuple[domain.Charge, ConsumedRecord]] = {}
    try:
        for usage, record in zip(usages, records, strict=True):
            charge = domain.charge_for(usage, prices, now)
            by_id.setdefault(charge.charge_id, (charge, record))
    except domain.NoRateError:
        rate_card.invalidate()
        raise
    new_ids = await repository.insert_charges(unit.conn, [charge for charge, _ in by_id.values()])
    new = [(charge, record) for charge, record in by_id.values() if charge.charge_id in new_ids]
    if not new:
        return []
    charges = [charge for charge, _ in new]
    balances = await repository.add_to_balances(unit.conn, domain.balance_deltas(charges), now)
    changes = domain.balance_changes(charges, balances)
    for change, (_, record) in zip(changes, new, strict=True):
        unit.publish(BALANCE_CHANGED, change.account_sid, change, cause=record)
    return changes


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
    """Keep each account's newest state and threshold; credit a trial account new to invoicing.

    Safe to run twice: the projection and the thresholds keep versions, and the credit is
    keyed by account, so a redelivered or replayed state credits nothing again.
    """
    states = [AccountState.model_validate_json(record.value) for record in records]
    known = await account_states.known_accounts(unit.conn, [s.account_sid for s in states])
    due = prepaid.trial_credits_due(states, {sid: k.version for sid, k in known.items()})
    await account_states.record_account_states(records, unit)
    await repository.store_low_balance_thresholds(unit.conn, prepaid.newest_thresholds(states))
    if not due:
        return []
    now = unit.clock()
    credited = await repository.insert_trial_credits(unit.conn, due, prepaid.TRIAL_CREDIT, now)
    if not credited:
        return []
    balances = await repository.add_to_balances(
        unit.conn, dict.fromkeys(credited, prepaid.TRIAL_CREDIT), now
    )
    cause = {state.account_sid: record for state, record in zip(states, records, strict=True)}
    changes = [prepaid.trial_credited(sid, balances[sid], now) for sid in credited]
    for change in changes:
        unit.publish(BALANCE_CHANGED, change.account_sid, change, cause=cause[change.account_sid])
    return changes
