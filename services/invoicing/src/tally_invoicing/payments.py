"""The payment provider port: what invoicing asks of a card processor, and a development one.

Card tokens stand for cards a processor keeps; Tally never sees a card number. A real
provider (a processor's SDK behind this same Protocol) is not part of Tally yet: settings
name the provider, and only the development one exists, which production refuses.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol


class CardOutcome(StrEnum):
    """How a processor answered about a card."""

    APPROVED = "approved"
    DECLINED = "declined"
    """A real card, refused by its issuer (funds, limits, fraud rules)."""
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - an outcome's name, not a secret
    """Not a token the processor knows: the caller sent something else."""


@dataclass(frozen=True)
class CardAnswer:
    """The processor's answer; `reason` says why a card was not approved, in words."""

    outcome: CardOutcome
    reason: str | None = None
    reference: str | None = None
    """The processor's id of an approved charge (for support and refunds)."""

    @property
    def approved(self) -> bool:
        """Whether the card was approved."""
        return self.outcome is CardOutcome.APPROVED


class PaymentProvider(Protocol):
    """A card processor: authorizes cards and charges them, each charge once per key."""

    async def authorize(self, card_token: str) -> CardAnswer:
        """Whether the card would be accepted; moves no money."""
        ...

    async def charge(
        self, *, idempotency_key: str, card_token: str, amount: Decimal, currency: str
    ) -> CardAnswer:
        """Charge the card once per `idempotency_key`; a retry answers as the first attempt."""
        ...


DECLINED_TOKEN = "tok_decline"  # noqa: S105 - a test card's token, not a secret
TOKEN_PREFIX = "tok_"  # noqa: S105 - what every token starts with, not a secret

DECLINED_REASON = "the card was declined"
INVALID_REASON = f"not a card token (a token starts with {TOKEN_PREFIX})"


class DevelopmentPaymentProvider:
    """Approves every `tok_…` token but `tok_decline`; moves no money. Never for production."""

    name = "development"

    async def authorize(self, card_token: str) -> CardAnswer:
        """`tok_decline` declined, another `tok_…` approved, anything else invalid."""
        return _answer(card_token)

    async def charge(
        self, *, idempotency_key: str, card_token: str, amount: Decimal, currency: str
    ) -> CardAnswer:
        """As `authorize`; an approved charge's reference is derived from its key."""
        answer = _answer(card_token)
        if not answer.approved:
            return answer
        return CardAnswer(CardOutcome.APPROVED, reference=f"dev_{idempotency_key}")


def _answer(card_token: str) -> CardAnswer:
    if not card_token.startswith(TOKEN_PREFIX):
        return CardAnswer(CardOutcome.INVALID_TOKEN, INVALID_REASON)
    if card_token == DECLINED_TOKEN:
        return CardAnswer(CardOutcome.DECLINED, DECLINED_REASON)
    return CardAnswer(CardOutcome.APPROVED)


PROVIDERS = {"development": DevelopmentPaymentProvider}
"""The providers settings may name (`TALLY_INVOICING_PAYMENT_PROVIDER`)."""


def provider_named(name: str) -> PaymentProvider:
    """The provider settings name."""
    return PROVIDERS[name]()
