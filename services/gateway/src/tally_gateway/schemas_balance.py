"""The bodies of the prepaid balance's routes (CONTRACTS.md §3, Money)."""

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

MAX_TOP_UP = Decimal("100000.00")
"""The most one top-up may add (invoicing's rule too): a few zeros too many are refused."""


def _cents(amount: Decimal) -> str:
    return format(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN), "f")


Cents = Annotated[Decimal, PlainSerializer(_cents, return_type=str)]
"""USD as a decimal string to the cent ("12.50"), rounded half-even."""


class BalancePublic(BaseModel):
    """The prepaid balance of a trial or pay-as-you-go account."""

    balance: Cents = Field(description="rounded half-even to the cent")
    currency: Literal["USD"] = "USD"
    low_balance_threshold: Cents = Field(
        description="the account's auto-recharge threshold if it set one, else 10.00"
    )
    state: Literal["ok", "low", "depleted"] = Field(
        description="`depleted` at or below 0.00; `low` above 0.00 and at or below"
        " `low_balance_threshold`; else `ok`"
    )


class TopUpCreate(BaseModel):
    """The body of `POST /v1/Accounts/{sid}/Balance/TopUps`."""

    model_config = ConfigDict(extra="forbid")

    amount: Annotated[
        Decimal,
        Field(
            gt=0,
            le=MAX_TOP_UP,
            decimal_places=2,
            description=f"USD to add: above 0, at most {MAX_TOP_UP}, at most 2 decimals",
        ),
    ]
    card_token: str = Field(
        min_length=1,
        max_length=255,
        description="the payment provider's token of the card to charge (`tok_…`)",
    )


class TopUpPublic(BaseModel):
    """A top-up made: the card was charged and the balance credited."""

    top_up_id: str
    amount: Cents
    balance: Cents = Field(description="right after this top-up, rounded half-even to the cent")
