"""Current charges: a month's quantities so far, priced as the month's invoice would price them.

Pure: quantities and the account's agreed terms in, money out. Each category is one line,
`round_money(price(quantity, card))`, exactly as the invoice's usage line; a negotiated discount
is one negative amount, `round_money(sum of the lines x discount %)`, as the invoice's discount
line; the total is their sum.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from tally_contracts.accounts import InvoicingTerms
from tally_contracts.usage import UsageCategory

from tally_invoicing.pricing import card_for, price, round_money

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class ChargeLine:
    """One category's quantity so far and what it costs, to the cent."""

    category: UsageCategory
    quantity: Decimal
    amount: Decimal


@dataclass(frozen=True)
class CurrentCharges:
    """A month's lines (in the rate card's order), its discount (0 or negative) and its total."""

    lines: list[ChargeLine]
    discount: Decimal
    total: Decimal


def current_charges(
    quantities: Mapping[UsageCategory, Decimal], terms: InvoicingTerms | None
) -> CurrentCharges:
    """Price a month's total quantity per category on the account's card, with its discount."""
    card = card_for(terms)
    lines = [
        ChargeLine(
            category=category,
            quantity=quantities.get(category, Decimal(0)),
            amount=round_money(price(category, quantities.get(category, Decimal(0)), card)),
        )
        for category in UsageCategory
    ]
    usage_total = sum((line.amount for line in lines), Decimal(0))
    percent = terms.discount_percent if terms is not None else Decimal(0)
    discount = -round_money(usage_total * percent / HUNDRED) if percent else Decimal("0.00")
    return CurrentCharges(lines=lines, discount=discount, total=usage_total + discount)
