"""Balance facts published by invoicing."""

from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import Field

from tally_contracts.envelope import Envelope

BalanceCause = Literal["charge", "top_up", "trial_credit"]
"""What moved a balance: a rated charge drew it down; a top-up or the trial credit raised it."""


class BalanceChanged(Envelope):
    """Something moved the account's prepaid balance (money as decimal strings on the wire).

    `amount` is how much it moved, always positive: `cause` says which way (a `charge` draws
    the balance down, a `top_up` or the `trial_credit` raises it). `balance` is the balance
    right after it, at full precision. Events published before `cause` existed are charges.
    """

    type: Literal["balance.changed"] = "balance.changed"
    cause: BalanceCause = "charge"
    charge_id: str | None = Field(None, description="with `cause` charge: the rated charge")
    usage_event_id: str | None = Field(None, description="with `cause` charge: the usage rated")
    top_up_id: str | None = Field(None, description="with `cause` top_up: the top-up")
    amount: Decimal
    balance: Decimal
    currency: Literal["USD"] = "USD"


class BalanceCrossing(StrEnum):
    """A threshold a prepaid balance crossed: each crossing is one fact, not one per charge."""

    LOW = "low"
    """Fell to or below the account's low-balance threshold, still above zero."""
    DEPLETED = "depleted"
    """Fell to or below zero."""
    RECOVERED = "recovered"
    """Rose above the low-balance threshold again (a top-up, a recharge): the next fall is new."""


class BalanceCrossed(Envelope):
    """The balance crossed a threshold (published on `balances.alerts.v1`).

    `event_id` names the crossing (account and the ledger entry that caused it), so the same
    crossing is one fact however often it is derived; a balance that recovers and falls again
    is a new crossing with a new id.
    """

    type: Literal["balance.crossed"] = "balance.crossed"
    crossing: BalanceCrossing
    balance: Decimal
    threshold: Decimal = Field(description="the account's low-balance threshold then")
    auto_recharge: bool = Field(description="whether auto-recharge was on when it crossed")
    currency: Literal["USD"] = "USD"


class CardCharged(Envelope):
    """An auto-recharge charged the account's card and topped up its balance."""

    type: Literal["card.charged"] = "card.charged"
    recharge_id: str
    amount: Decimal
    balance: Decimal = Field(description="the balance after the top-up")
    currency: Literal["USD"] = "USD"


class CardDeclined(Envelope):
    """An auto-recharge was declined by the card's issuer; the balance did not move."""

    type: Literal["card.declined"] = "card.declined"
    recharge_id: str
    amount: Decimal
    reason: str
    currency: Literal["USD"] = "USD"


class ExposureCrossed(Envelope):
    """An invoiced account's exposure (unbilled usage plus open invoices) crossed a share of
    its credit limit: for its ops contacts, never a recharge reminder."""

    type: Literal["exposure.crossed"] = "exposure.crossed"
    percent: Literal[80, 100]
    exposure: Decimal
    credit_limit: Decimal
    currency: Literal["USD"] = "USD"
