"""The invoicing terms an approved invoicing request agreed with an owner.

Written by the invoicing-request use cases (pricing, then decision), read by the upgrade: an
owner with approved terms may move its later trial accounts to pay by invoice on those terms.
"""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class AgreedTerms:
    """Negotiated flat unit prices by category, a discount, net terms and a credit limit."""

    request_id: str
    rates: dict[str, Decimal]
    discount_percent: Decimal
    net_terms_days: int
    credit_limit: Decimal
