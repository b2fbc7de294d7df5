"""The prepaid ledger's rules: entries, the balance they sum to, and threshold crossings.

Pure: no I/O. A balance is the sum of its account's entries; a crossing is derived from the
entry that crossed, so it is one fact however often the entry's cause is applied.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tally_contracts.accounts import BillingMode
from tally_contracts.balances import BalanceCrossed, BalanceCrossing

from tally_invoicing.domain import CURRENCY

DEFAULT_THRESHOLD = Decimal("10.00")


class EntryKind(StrEnum):
    """What moved a prepaid balance."""

    OPENING = "opening"
    TRIAL_CREDIT = "trial_credit"
    TOP_UP = "top_up"
    DRAWDOWN = "drawdown"
    RECHARGE = "recharge"
    FREEZE = "freeze"


@dataclass(frozen=True)
class Entry:
    """One movement of a balance; `entry_id` is the natural id of its cause."""

    entry_id: str
    account_sid: str
    kind: EntryKind
    amount: Decimal
    """Signed: a drawdown is negative, a credit positive."""
    created_at: datetime


@dataclass(frozen=True)
class LedgerAccount:
    """An account as the ledger holds it (its row locked): balance, mode and alert state."""

    account_sid: str
    balance: Decimal
    billing_mode: BillingMode | None
    mode_version: int
    threshold: Decimal | None
    auto_recharge: bool
    recharge_amount: Decimal | None
    alerted: str
    """The state last alerted: ok, low or depleted."""

    @property
    def low_threshold(self) -> Decimal:
        """The account's low-balance threshold (its auto-recharge one, else the default)."""
        return DEFAULT_THRESHOLD if self.threshold is None else self.threshold

    @property
    def recharges(self) -> bool:
        """Whether invoicing's view says a crossing should auto-recharge (the guard decides)."""
        return (
            self.billing_mode is BillingMode.PAY_AS_YOU_GO
            and self.auto_recharge
            and self.recharge_amount is not None
            and self.recharge_amount > 0
        )


def state_of(balance: Decimal, threshold: Decimal) -> str:
    """`depleted` at or below 0, `low` at or below the threshold, else `ok`."""
    if balance <= 0:
        return "depleted"
    if balance <= threshold:
        return "low"
    return "ok"


@dataclass(frozen=True)
class Posted:
    """Entries applied to one account: each with the balance after it, and what they crossed."""

    account: LedgerAccount
    entries: list[tuple[Entry, Decimal]]
    crossings: list[BalanceCrossed]
    alerted: str
    """The alert state after the entries."""

    @property
    def balance(self) -> Decimal:
        """The balance after the last entry."""
        return self.entries[-1][1] if self.entries else self.account.balance


def post(account: LedgerAccount, entries: Sequence[Entry]) -> Posted:
    """Apply entries in order: the balance after each, and each crossing once.

    Low when a fall reaches the threshold (above 0), depleted when it reaches 0, recovered
    when it rises above the threshold after either. Rising from depleted to low is no
    recovery: it alerts nothing, nor does falling back to 0 from there; a balance that
    recovers and falls again crosses anew. Invoiced
    accounts alert nothing: they have no prepaid balance.
    """
    balance, alerted = account.balance, account.alerted
    after: list[tuple[Entry, Decimal]] = []
    crossings = []
    for entry in entries:
        balance += entry.amount
        after.append((entry, balance))
        if account.billing_mode is BillingMode.INVOICED or entry.kind is EntryKind.FREEZE:
            continue
        now = state_of(balance, account.low_threshold)
        crossing = _crossing(alerted, now)
        if crossing is None:
            continue
        alerted = now
        crossings.append(
            BalanceCrossed(
                event_id=f"crossed:{crossing.value}:{entry.entry_id}",
                occurred_at=entry.created_at,
                account_sid=account.account_sid,
                crossing=crossing,
                balance=balance,
                threshold=account.low_threshold,
                auto_recharge=account.recharges,
                currency=CURRENCY,
            )
        )
    return Posted(account=account, entries=after, crossings=crossings, alerted=alerted)


def _crossing(alerted: str, now: str) -> BalanceCrossing | None:
    if now == alerted:
        return None
    if now == "depleted":
        return BalanceCrossing.DEPLETED
    if now == "low":
        return BalanceCrossing.LOW if alerted == "ok" else None
    return BalanceCrossing.RECOVERED


def recharge_id_for(crossed: BalanceCrossed) -> str:
    """The auto-recharge a crossing asks for: one per crossing, and the provider's key."""
    return f"recharge:{crossed.event_id}"


def needs_recharge(account: LedgerAccount, crossed: BalanceCrossed) -> bool:
    """Whether a crossing asks for an auto-recharge, as invoicing knows the account."""
    return account.recharges and crossed.crossing in (
        BalanceCrossing.LOW,
        BalanceCrossing.DEPLETED,
    )


def exposure_level(exposure: Decimal, credit_limit: Decimal | None) -> int:
    """The share of the credit limit reached: 100, 80 or 0 (no limit: 0)."""
    if credit_limit is None or credit_limit <= 0:
        return 0
    if exposure >= credit_limit:
        return 100
    if exposure * 100 >= credit_limit * 80:
        return 80
    return 0
