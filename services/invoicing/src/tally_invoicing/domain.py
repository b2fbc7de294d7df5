"""Rating and charging: pure rules over plain data, Decimal money, an explicit clock."""

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from tally_contracts.balances import BalanceChanged
from tally_contracts.usage import UsageCategory, UsageRecorded

CURRENCY = "USD"

# A charge keeps sub-cent precision (micro-dollars, NUMERIC(20,6) in PostgreSQL): a thousand
# 0.0085 charges must add up to 8.50, not to a thousand rounded cents. Only an invoice rounds,
# once, to the cent.
CHARGE_PRECISION = Decimal("0.000001")

RateCard = Mapping[UsageCategory, Decimal]
"""The flat price of one unit of each usage category, in USD."""


class NoRateError(LookupError):
    """The rate card has no price for a usage category."""

    def __init__(self, category: UsageCategory) -> None:
        super().__init__(f"the rate card has no price for {category.value}")
        self.category = category


def rate(category: UsageCategory, quantity: Decimal, rate_card: RateCard) -> Decimal:
    """What `quantity` units of `category` cost, to the micro-dollar."""
    try:
        unit_price = rate_card[category]
    except KeyError:
        raise NoRateError(category) from None
    # Half-up is the rounding a finance team reproduces by hand.
    return (unit_price * quantity).quantize(CHARGE_PRECISION, rounding=ROUND_HALF_UP)


def charge_id_for(account_sid: str, usage_event_id: str) -> str:
    """The charge's id, derived from the usage it prices so a replay finds the same charge."""
    digest = hashlib.sha256(f"{account_sid}/{usage_event_id}".encode()).hexdigest()
    return f"CH{digest[:32]}"


@dataclass(frozen=True)
class Charge:
    """One usage event, rated."""

    charge_id: str
    account_sid: str
    usage_event_id: str
    category: UsageCategory
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    usage_occurred_at: datetime
    charged_at: datetime

    @property
    def balance_delta(self) -> Decimal:
        """How the charge moves the account's balance: it draws it down."""
        return -self.amount


def charge_for(usage: UsageRecorded, rate_card: RateCard, now: datetime) -> Charge:
    """Rate recorded usage into a charge."""
    amount = rate(usage.category, usage.quantity, rate_card)
    return Charge(
        charge_id=charge_id_for(usage.account_sid, usage.usage_event_id),
        account_sid=usage.account_sid,
        usage_event_id=usage.usage_event_id,
        category=usage.category,
        quantity=usage.quantity,
        unit_price=rate_card[usage.category],
        amount=amount,
        usage_occurred_at=usage.usage_occurred_at,
        charged_at=now,
    )


def balance_deltas(charges: Sequence[Charge]) -> dict[str, Decimal]:
    """How much a batch of charges moves each account's balance in all."""
    deltas: dict[str, Decimal] = defaultdict(Decimal)
    for charge in charges:
        deltas[charge.account_sid] += charge.balance_delta
    return dict(deltas)


def balance_changes(
    charges: Sequence[Charge], final_balances: Mapping[str, Decimal]
) -> list[BalanceChanged]:
    """One fact per charge, each with the balance right after it, given where each ended.

    The charges moved the balances in their order, so the balance after a charge is the final
    balance less the charges of its account that came after it.
    """
    after_later_charges = dict(final_balances)
    changes = []
    for charge in reversed(charges):
        changes.append(balance_changed(charge, after_later_charges[charge.account_sid]))
        after_later_charges[charge.account_sid] -= charge.balance_delta
    changes.reverse()
    return changes


def balance_changed(charge: Charge, balance: Decimal) -> BalanceChanged:
    """The fact that `charge` moved the account's balance to `balance`."""
    return BalanceChanged(
        event_id=f"charge:{charge.charge_id}",
        occurred_at=charge.charged_at,
        account_sid=charge.account_sid,
        cause="charge",
        charge_id=charge.charge_id,
        usage_event_id=charge.usage_event_id,
        amount=charge.amount,
        balance=balance,
        currency=CURRENCY,
    )


@dataclass(frozen=True)
class Balance:
    """An account's prepaid balance; `updated_at` is None until something first moved it."""

    account_sid: str
    amount: Decimal
    updated_at: datetime | None

    @classmethod
    def opening(cls, account_sid: str) -> "Balance":
        """The balance of an account nothing has moved yet: it starts at 0."""
        return cls(account_sid=account_sid, amount=Decimal(0), updated_at=None)
