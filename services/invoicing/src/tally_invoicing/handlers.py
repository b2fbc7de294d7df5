"""Invoicing's use cases: each applies one event in one transaction, and is safe to run twice."""

from dataclasses import dataclass
from decimal import Decimal

import asyncpg
from tally_contracts.balances import BalanceChanged
from tally_contracts.topics import BALANCE_CHANGED
from tally_contracts.usage import UsageRecorded
from tally_runtime import inbox, outbox
from tally_runtime.clock import Clock

from tally_invoicing import domain, repository

CHARGE_USAGE = "invoicing.charge-usage"
"""The inbox consumer name of `charge_usage`."""


async def charge_usage(
    usage: UsageRecorded, *, pool: asyncpg.Pool, clock: Clock
) -> BalanceChanged | None:
    """Rate recorded usage, charge it and draw down the balance; None if already applied."""
    async with pool.acquire() as conn, conn.transaction():
        if not await inbox.first_delivery(conn, CHARGE_USAGE, usage.event_id):
            return None
        rate_card = await repository.load_rate_card(conn)
        # Every account draws down for now; billing modes come next, and then an invoiced
        # account's usage accumulates into its monthly invoice instead.
        charge = domain.charge_for(usage, rate_card, clock())
        if not await repository.insert_charge(conn, charge):
            # The same usage arrived under another envelope id: it is charged already.
            return None
        balance = await repository.add_to_balance(
            conn, charge.account_sid, charge.balance_delta, charge.charged_at
        )
        changed = domain.balance_changed(charge, balance)
        await outbox.enqueue(conn, BALANCE_CHANGED, charge.account_sid, changed)
        return changed


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
    """The account's prepaid balance; an account never charged has its opening balance."""
    async with pool.acquire() as conn:
        balance = await repository.fetch_balance(conn, account_sid)
    return balance or domain.Balance.opening(account_sid)
