"""The public prices (CONTRACTS.md §2) as data, and the exact price of a month's quantity.

Pure: no I/O. A price is exact to 12 decimal places (NUMERIC(30,12) in PostgreSQL) and never
rounded here; money is rounded once, half-even to the cent, at the invoice line
(`round_money`). A negotiated discount is not a price: it is one negative invoice line.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from types import MappingProxyType

from tally_contracts.accounts import InvoicingTerms
from tally_contracts.usage import UsageCategory

CENT = Decimal("0.01")
EXACT = Decimal("0.000000000001")
"""Twelve decimal places: a quantity (≤ 6 places) times a unit price (≤ 6 places) fits."""


@dataclass(frozen=True)
class Tier:
    """`unit_price` for each unit of a month's quantity above `above` (up to the next tier)."""

    above: Decimal
    unit_price: Decimal


@dataclass(frozen=True)
class CategoryPrice:
    """How one category is priced: its unit and graduated tiers (one tier: a flat price)."""

    unit: str
    tiers: tuple[Tier, ...]

    @classmethod
    def flat(cls, unit: str, unit_price: Decimal) -> "CategoryPrice":
        """One price for every unit of the month."""
        return cls(unit=unit, tiers=(Tier(above=Decimal(0), unit_price=unit_price),))


RateCard = Mapping[UsageCategory, CategoryPrice]
"""The price of every usage category."""

DEFAULT_RATE_CARD: RateCard = MappingProxyType(
    {
        UsageCategory.CALLS_INBOUND: CategoryPrice.flat("minute", Decimal("0.0085")),
        UsageCategory.CALLS_OUTBOUND: CategoryPrice(
            unit="minute",
            tiers=(
                Tier(above=Decimal(0), unit_price=Decimal("0.0140")),
                Tier(above=Decimal(10_000), unit_price=Decimal("0.0130")),
            ),
        ),
        UsageCategory.SMS_INBOUND: CategoryPrice.flat("message", Decimal("0.0079")),
        UsageCategory.SMS_OUTBOUND: CategoryPrice.flat("message", Decimal("0.0079")),
        UsageCategory.PHONE_NUMBERS: CategoryPrice.flat("number-day", Decimal("0.0400")),
    }
)
"""CONTRACTS.md §2: USD; tiers apply to an account's quantity within one billing month."""


class UnknownCategoryError(LookupError):
    """A negotiated rate or a charge names a category the rate card does not price."""


def card_for(terms: InvoicingTerms | None) -> RateCard:
    """The account's card: its negotiated flat unit prices where named, the default elsewhere."""
    return card_with({} if terms is None else terms.rates)


def card_with(rates: Mapping[str, Decimal]) -> RateCard:
    """The default card with `rates` (negotiated flat unit prices by category name) in it."""
    if not rates:
        return DEFAULT_RATE_CARD
    card = dict(DEFAULT_RATE_CARD)
    for name, unit_price in rates.items():
        try:
            category = UsageCategory(name)
        except ValueError:
            raise UnknownCategoryError(f"negotiated rate for unknown category {name!r}") from None
        card[category] = CategoryPrice.flat(DEFAULT_RATE_CARD[category].unit, unit_price)
    return MappingProxyType(card)


def price(
    category: UsageCategory, quantity: Decimal, card: RateCard = DEFAULT_RATE_CARD
) -> Decimal:
    """The exact price of a month's total `quantity` of `category`, tiers graduated."""
    try:
        tiers = card[category].tiers
    except KeyError:
        raise UnknownCategoryError(f"the rate card has no price for {category.value}") from None
    total = Decimal(0)
    for tier, following in zip(tiers, (*tiers[1:], None), strict=True):
        if quantity <= tier.above:
            break
        top = quantity if following is None else min(quantity, following.above)
        total += (top - tier.above) * tier.unit_price
    return total.quantize(EXACT)


def unit_price_at(category: UsageCategory, quantity: Decimal, card: RateCard) -> Decimal:
    """The unit price of the next unit after a month's `quantity` (the tier it falls in)."""
    current = card[category].tiers[0].unit_price
    for tier in card[category].tiers:
        if quantity >= tier.above:
            current = tier.unit_price
    return current


def round_money(amount: Decimal) -> Decimal:
    """`amount` rounded once, half-even, to the cent: how an invoice line shows money."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)
