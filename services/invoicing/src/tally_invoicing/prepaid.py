"""Prepaid balances: the trial credit, top-ups and a balance's state, as pure rules."""

import hashlib
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from tally_contracts.accounts import AccountState, BillingMode
from tally_contracts.balances import BalanceChanged

from tally_invoicing.domain import CURRENCY
from tally_invoicing.ledger import LedgerAccount
from tally_invoicing.payments import CardAnswer

TRIAL_CREDIT = Decimal("15.00")
"""What a trial account starts with (CONTRACTS.md §2); it carries over to pay as you go."""

MAX_TOP_UP = Decimal("100000.00")
"""The most one top-up may add: a typo of a few zeros is refused rather than charged."""

DEFAULT_LOW_BALANCE_THRESHOLD = Decimal("10.00")
"""At or below it (and above 0) a balance is low, unless the account chose another."""

CENT = Decimal("0.01")


class InvoicedAccountError(Exception):
    """The account is invoiced: it has no prepaid balance to read or top up."""

    def __init__(self, account_sid: str) -> None:
        super().__init__(f"{account_sid} is invoiced: invoiced accounts have no prepaid balance")
        self.account_sid = account_sid


class TopUpConflictError(Exception):
    """A top-up id already names another top-up (another amount, card or account)."""

    def __init__(self, top_up_id: str) -> None:
        super().__init__(f"top-up {top_up_id} was already made with another amount or card")
        self.top_up_id = top_up_id


class CardRefusedError(Exception):
    """The payment provider did not approve the card: nothing was charged or credited."""

    def __init__(self, answer: CardAnswer) -> None:
        super().__init__(answer.reason or answer.outcome.value)
        self.answer = answer


def ensure_prepaid(billing_mode: BillingMode | None, account_sid: str) -> None:
    """Refuse an account invoicing knows as invoiced; trial, pay as you go and unknown pass."""
    if billing_mode is BillingMode.INVOICED:
        raise InvoicedAccountError(account_sid)


class BalanceState(StrEnum):
    """Where a prepaid balance stands against its low-balance threshold."""

    OK = "ok"
    LOW = "low"
    DEPLETED = "depleted"


def balance_state(balance: Decimal, low_balance_threshold: Decimal) -> BalanceState:
    """`depleted` at or below 0, `low` above 0 and at or below the threshold, else `ok`.

    Decided on the exact balance, as suspension is: a balance of 0.004 is shown as 0.00 but
    is not yet depleted.
    """
    if balance <= 0:
        return BalanceState.DEPLETED
    if balance <= low_balance_threshold:
        return BalanceState.LOW
    return BalanceState.OK


def low_balance_threshold(state: AccountState) -> Decimal:
    """The account's low-balance threshold: its auto-recharge threshold if it set one.

    One threshold per account: where auto-recharge would charge the card, a reminder is due
    without it (DOMAIN.md). Without a threshold of its own, the default.
    """
    chosen = state.auto_recharge.threshold
    return DEFAULT_LOW_BALANCE_THRESHOLD if chosen is None else chosen


def newest_states(states: Sequence[AccountState]) -> dict[str, AccountState]:
    """Each account's newest state in a batch."""
    newest: dict[str, AccountState] = {}
    for state in states:
        kept = newest.get(state.account_sid)
        if kept is None or kept.version < state.version:
            newest[state.account_sid] = state
    return newest


def newest_thresholds(states: Sequence[AccountState]) -> dict[str, tuple[int, Decimal]]:
    """Each account's newest version in a batch of states, and the threshold it sets."""
    newest = newest_states(states)
    return {sid: (state.version, low_balance_threshold(state)) for sid, state in newest.items()}


def freezes_due(
    newest: Mapping[str, AccountState],
    accounts: Mapping[str, LedgerAccount],
    credited: Set[str],
) -> list[tuple[str, int, Decimal]]:
    """(account, version, remainder) of each balance a switch to invoiced freezes now.

    A state newer than the mode the ledger holds, invoiced while the ledger's mode is not,
    freezes what is left (a trial credit granted in the same batch included); a zero balance
    has nothing to freeze.
    """
    due = []
    for sid, state in sorted(newest.items()):
        account = accounts[sid]
        if state.billing_mode is not BillingMode.INVOICED or state.version <= account.mode_version:
            continue
        if account.billing_mode is BillingMode.INVOICED:
            continue
        remainder = account.balance + (TRIAL_CREDIT if sid in credited else Decimal(0))
        if remainder != 0:
            due.append((sid, state.version, remainder))
    return due


def to_cent(amount: Decimal) -> Decimal:
    """`amount` rounded half-even to the cent, as a balance is shown."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class TopUpRequest:
    """A request to charge a card and credit the balance with the amount, once per id."""

    top_up_id: str
    account_sid: str
    amount: Decimal
    card_token: str

    @property
    def fingerprint(self) -> str:
        """What makes a repeat the same request: the account, the amount and the card."""
        # The token itself is not kept: a hash suffices to recognise the same card.
        same = f"{self.account_sid}|{format(self.amount.normalize(), 'f')}|{self.card_token}"
        return hashlib.sha256(same.encode()).hexdigest()


@dataclass(frozen=True)
class TopUp:
    """A top-up that was made: the card was charged and the balance credited."""

    top_up_id: str
    account_sid: str
    amount: Decimal
    balance: Decimal
    """The balance right after it, at full precision."""
    fingerprint: str
    provider_reference: str | None
    created_at: datetime


def repeat_of(earlier: TopUp, request: TopUpRequest) -> TopUp:
    """The first answer for a repeated request; another request under the same id is refused."""
    if earlier.fingerprint != request.fingerprint:
        raise TopUpConflictError(request.top_up_id)
    return earlier


def top_up_changed(top_up: TopUp) -> BalanceChanged:
    """The fact that a top-up raised the balance; its id derives from the top-up's."""
    return BalanceChanged(
        event_id=f"top_up:{top_up.top_up_id}",
        occurred_at=top_up.created_at,
        account_sid=top_up.account_sid,
        cause="top_up",
        top_up_id=top_up.top_up_id,
        amount=top_up.amount,
        balance=top_up.balance,
        currency=CURRENCY,
    )


def trial_credits_due(
    states: Sequence[AccountState], known_versions: Mapping[str, int]
) -> list[str]:
    """The accounts a batch of states shows as trial for the first time: each gets the credit.

    A trial state no newer than what is known was seen before (a replay), or arrived after a
    newer state: it credits nothing. The credit's own key keeps it to once per account.
    """
    due = {
        state.account_sid
        for state in states
        if state.billing_mode is BillingMode.TRIAL
        and state.version > known_versions.get(state.account_sid, 0)
    }
    return sorted(due)


def trial_credited(account_sid: str, balance: Decimal, at: datetime) -> BalanceChanged:
    """The fact that the trial credit raised the balance; one per account, so its id is too."""
    return BalanceChanged(
        event_id=f"trial_credit:{account_sid}",
        occurred_at=at,
        account_sid=account_sid,
        cause="trial_credit",
        amount=TRIAL_CREDIT,
        balance=balance,
        currency=CURRENCY,
    )
