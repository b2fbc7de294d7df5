"""Balance facts published by invoicing."""

from decimal import Decimal
from typing import Literal

from tally_contracts.envelope import Envelope


class BalanceChanged(Envelope):
    """A rated charge moved the account's balance (money as decimal strings on the wire)."""

    type: Literal["balance.changed"] = "balance.changed"
    charge_id: str
    usage_event_id: str
    amount: Decimal
    balance: Decimal
    currency: Literal["USD"] = "USD"
