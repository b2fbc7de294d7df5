"""Prepaid use cases on request: top-ups, card authorizations and the balance's state."""

from dataclasses import dataclass
from decimal import Decimal

import asyncpg
from tally_contracts.topics import BALANCE_ALERTS, BALANCE_CHANGED
from tally_runtime.account_states import known_account
from tally_runtime.clock import Clock
from tally_runtime.outbox import enqueue

from tally_invoicing import domain, ledger_repository, posting, prepaid, repository
from tally_invoicing.ledger import Entry, EntryKind
from tally_invoicing.payments import CardAnswer, PaymentProvider


class _LostRace(Exception):
    """A concurrent request made the same top-up first; this one's transaction rolls back."""


async def top_up(
    request: prepaid.TopUpRequest, *, pool: asyncpg.Pool, provider: PaymentProvider, clock: Clock
) -> prepaid.TopUp:
    """Charge the card and credit the balance, once per top-up id; a repeat gets the first answer.

    The card is charged before the transaction that credits the balance, under the top-up id
    as the provider's idempotency key: if the credit is lost (a crash, a failed commit), the
    caller's retry with the same id charges nothing more and records the credit then.
    The mode is the one invoicing knows: a top-up racing a switch to invoiced may land just
    after it, and is then part of the frozen balance the invoice credits, never lost.
    Raises `InvoicedAccountError`, `TopUpConflictError` or `CardRefusedError`.
    """
    async with pool.acquire() as conn:
        known = await known_account(conn, request.account_sid)
        earlier = await repository.fetch_top_up(conn, request.top_up_id)
    if earlier is not None:
        return prepaid.repeat_of(earlier, request)
    prepaid.ensure_prepaid(known.billing_mode if known else None, request.account_sid)
    answer = await provider.charge(
        idempotency_key=request.top_up_id,
        card_token=request.card_token,
        amount=request.amount,
        currency=domain.CURRENCY,
    )
    if not answer.approved:
        raise prepaid.CardRefusedError(answer)
    try:
        return await _credit(request, answer, pool=pool, clock=clock)
    except _LostRace:
        async with pool.acquire() as conn:
            first = await repository.fetch_top_up(conn, request.top_up_id)
        assert first is not None  # the race was lost to a committed top-up
        return prepaid.repeat_of(first, request)


async def _credit(
    request: prepaid.TopUpRequest, answer: CardAnswer, *, pool: asyncpg.Pool, clock: Clock
) -> prepaid.TopUp:
    """Credit the balance, store the top-up and queue its event, in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        now = clock()
        # The balance row first, as charging does: concurrent twins queue on its lock, and
        # the later one finds the top-up stored when it gets there.
        accounts = await ledger_repository.lock_accounts(conn, [request.account_sid], now)
        if await repository.fetch_top_up(conn, request.top_up_id) is not None:
            raise _LostRace
        entry = Entry(
            f"top_up:{request.top_up_id}",
            request.account_sid,
            EntryKind.TOP_UP,
            request.amount,
            now,
        )
        [posted] = await posting.post_locked(conn, accounts, [entry], now)
        balances = {request.account_sid: posted.balance}
        made = prepaid.TopUp(
            top_up_id=request.top_up_id,
            account_sid=request.account_sid,
            amount=request.amount,
            balance=balances[request.account_sid],
            fingerprint=request.fingerprint,
            provider_reference=answer.reference,
            created_at=now,
        )
        if not await repository.insert_top_up(conn, made):
            raise _LostRace
        await enqueue(conn, BALANCE_CHANGED, made.account_sid, prepaid.top_up_changed(made))
        for crossed in posted.crossings:
            await enqueue(conn, BALANCE_ALERTS, crossed.account_sid, crossed)
    return made


async def authorize_card(card_token: str, *, provider: PaymentProvider) -> CardAnswer:
    """Whether the provider would accept the card; nothing is charged."""
    return await provider.authorize(card_token)


@dataclass(frozen=True)
class BalanceView:
    """A prepaid balance as an account sees it: the amount, its threshold and its state."""

    balance: domain.Balance
    low_balance_threshold: Decimal
    state: prepaid.BalanceState


async def balance_view(account_sid: str, *, pool: asyncpg.Pool) -> BalanceView:
    """The account's prepaid balance and its state; raises `InvoicedAccountError`."""
    async with pool.acquire() as conn:
        known = await known_account(conn, account_sid)
        prepaid.ensure_prepaid(known.billing_mode if known else None, account_sid)
        balance = await repository.fetch_balance(conn, account_sid)
        threshold = await repository.fetch_low_balance_threshold(conn, account_sid)
    balance = balance or domain.Balance.opening(account_sid)
    threshold = prepaid.DEFAULT_LOW_BALANCE_THRESHOLD if threshold is None else threshold
    return BalanceView(
        balance=balance,
        low_balance_threshold=threshold,
        state=prepaid.balance_state(balance.amount, threshold),
    )
