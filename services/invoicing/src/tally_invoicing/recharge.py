"""Auto-recharge: pending recharges executed after their commit, behind the billing-mode guard.

A crossing records a pending recharge in the consumer's transaction; this job charges the
card outside any transaction (a processor may hang), under a charge lease from accounts, with
the recharge id as the provider's idempotency key, then credits the balance once.
"""

import asyncio
import uuid
from datetime import timedelta

import asyncpg
from tally_contracts.balances import BalanceChanged, CardCharged, CardDeclined
from tally_contracts.topics import BALANCE_ALERTS, BALANCE_CHANGED
from tally_runtime.clock import Clock
from tally_runtime.outbox import enqueue
from tally_runtime.periodic import Periodic

from tally_invoicing import ledger_repository, posting, recharge_repository
from tally_invoicing.charge_guard import ChargeGuard, ChargeRefused, GuardUnavailable, Lease
from tally_invoicing.domain import CURRENCY
from tally_invoicing.ledger import Entry, EntryKind
from tally_invoicing.payments import CardAnswer, PaymentProvider

BATCH = 100


async def execute_pending(
    pool: asyncpg.Pool, clock: Clock, *, provider: PaymentProvider, guard: ChargeGuard
) -> dict[str, str]:
    """Try every pending recharge once; what became of each (charged, declined, ...)."""
    async with pool.acquire() as conn:
        pending = await recharge_repository.pending_recharges(conn, BATCH)
    outcomes = {}
    for recharge_id, account_sid in pending:
        outcomes[recharge_id] = await execute(
            recharge_id, account_sid, pool=pool, clock=clock, provider=provider, guard=guard
        )
    return outcomes


async def execute(
    recharge_id: str,
    account_sid: str,
    *,
    pool: asyncpg.Pool,
    clock: Clock,
    provider: PaymentProvider,
    guard: ChargeGuard,
) -> str:
    """Charge the card for one pending recharge if the guard allows it, then settle it.

    Safe in several replicas at once: the provider charges once per recharge id, and only
    the first settlement of a pending recharge credits the balance.
    """
    lease_id = f"{recharge_id}:{uuid.uuid4().hex[:12]}"  # one lease per attempt
    try:
        lease = await guard.lease(account_sid, lease_id)
    except ChargeRefused as refused:
        await _settle(pool, clock, recharge_id, account_sid, "skipped", None, str(refused))
        return "skipped"
    except GuardUnavailable:
        return "deferred"  # the mode cannot be proven now: try at the next tick
    # Settled before the lease is released: a switch to invoiced waits for the lease, so the
    # credit is committed before the state that skips pending recharges can exist.
    try:
        answer = await _charge_within(lease, recharge_id, provider)
        if answer is None:
            return "deferred"  # unknown outcome: the same key next time answers as this one
        if answer.approved:
            await _settle(pool, clock, recharge_id, account_sid, "charged", answer, None, lease)
            return "charged"
        reason = answer.reason or answer.outcome.value
        await _settle(pool, clock, recharge_id, account_sid, "declined", answer, reason, lease)
        return "declined"
    finally:
        await guard.release(account_sid, lease_id)


async def _charge_within(
    lease: Lease, recharge_id: str, provider: PaymentProvider
) -> CardAnswer | None:
    """The provider's answer if it came while the lease lives; None if it did not."""
    remaining = lease.remaining()
    if remaining <= 0:
        return None
    try:
        return await asyncio.wait_for(
            provider.charge(
                idempotency_key=recharge_id,
                card_token=lease.card_token,
                amount=lease.amount,
                currency=CURRENCY,
            ),
            timeout=remaining,
        )
    except TimeoutError:
        return None


async def _settle(
    pool: asyncpg.Pool,
    clock: Clock,
    recharge_id: str,
    account_sid: str,
    state: str,
    answer: CardAnswer | None,
    reason: str | None,
    lease: Lease | None = None,
) -> None:
    """Record the outcome, credit an approved charge and queue its events, in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        now = clock()
        accounts = await ledger_repository.lock_accounts(conn, [account_sid], now)
        amount = lease.amount if lease else None
        settled = await recharge_repository.settle_recharge(
            conn,
            recharge_id,
            state=state,
            amount=amount,
            reason=reason,
            reference=answer.reference if answer else None,
            at=now,
        )
        if not settled or lease is None:
            return
        if state == "declined":
            declined = CardDeclined(
                event_id=f"card_declined:{recharge_id}",
                occurred_at=now,
                account_sid=account_sid,
                recharge_id=recharge_id,
                amount=lease.amount,
                reason=reason or "declined",
            )
            await enqueue(conn, BALANCE_ALERTS, account_sid, declined)
            return
        entry = Entry(recharge_id, account_sid, EntryKind.RECHARGE, lease.amount, now)
        [posted] = await posting.post_locked(conn, accounts, [entry], now)
        charged = CardCharged(
            event_id=f"card_charged:{recharge_id}",
            occurred_at=now,
            account_sid=account_sid,
            recharge_id=recharge_id,
            amount=lease.amount,
            balance=posted.balance,
        )
        await enqueue(conn, BALANCE_ALERTS, account_sid, charged)
        for crossed in posted.crossings:
            await enqueue(conn, BALANCE_ALERTS, account_sid, crossed)
        change = BalanceChanged(
            event_id=f"top_up:{recharge_id}",
            occurred_at=now,
            account_sid=account_sid,
            cause="top_up",
            top_up_id=recharge_id,
            amount=lease.amount,
            balance=posted.balance,
        )
        await enqueue(conn, BALANCE_CHANGED, account_sid, change)


def recharge_job(every_seconds: float, provider: PaymentProvider, guard: ChargeGuard) -> Periodic:
    """The job that executes pending auto-recharges, in every replica."""

    async def run(pool: asyncpg.Pool, clock: Clock) -> dict[str, str]:
        return await execute_pending(pool, clock, provider=provider, guard=guard)

    return Periodic("auto-recharge", timedelta(seconds=every_seconds), run)
