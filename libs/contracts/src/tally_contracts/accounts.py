"""Account state, published on the compacted topic `accounts.state.v1`."""

import re
import zoneinfo
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from tally_contracts.envelope import Envelope, UtcDatetime
from tally_contracts.periods import EARLIEST, ZoneSpan


class BillingMode(StrEnum):
    TRIAL = "trial"
    PAY_AS_YOU_GO = "pay_as_you_go"
    INVOICED = "invoiced"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class Address(BaseModel):
    """A postal address: mailing, billing or service."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str | None = Field(None, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2, e.g. US")


class InvoicingTerms(BaseModel):
    """What an invoiced account was agreed: negotiated flat unit prices, discount, terms, limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str = Field(description="the invoicing request that agreed them")
    rates: dict[str, Decimal] = Field(
        default_factory=dict, description="unit price by usage category; the default card else"
    )
    discount_percent: Decimal = Decimal(0)
    net_terms_days: int = Field(ge=0)
    credit_limit: Decimal


class AutoRecharge(BaseModel):
    """A pay-as-you-go account's auto-recharge: below `threshold`, charge `amount` to the card."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False
    threshold: Decimal | None = None
    amount: Decimal | None = None
    card_token: str | None = None


class BillingPreferences(BaseModel):
    """Where and to whom an account's invoices go."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mailing_address: Address | None = None
    billing_address: Address | None = Field(
        None, description="the address chosen when the account was upgraded"
    )
    po_number: str | None = None
    invoice_recipients: list[str] = Field(default_factory=list)


class AccountState(Envelope):
    """The whole current state of one account; `version` grows by one with every change.

    Consumers keep the highest version they have seen, so a replayed or reordered older
    state never overwrites a newer one.
    """

    type: Literal["account.state"] = "account.state"
    version: int = Field(ge=1)
    owner: str = Field(min_length=1, max_length=128, description="the customer who owns it")
    friendly_name: str
    time_zone: str
    status: AccountStatus
    billing_mode: BillingMode
    flex: bool = False
    multi_account_invoicing: bool = False
    reseller: bool = False
    nonprofit_org: bool = False
    time_zones: list[ZoneSpan] = Field(
        default_factory=list,
        description=(
            "every zone the account has had or will have, oldest first; a change applies from"
            " the next billing month. Empty in states published before it existed: then"
            " `time_zone` has always applied"
        ),
    )

    contact_email: str | None = Field(None, description="None in states published before it")
    webhook_url: str | None = None
    terms: InvoicingTerms | None = Field(
        None, description="an invoiced account's agreed terms; None for the other modes"
    )
    auto_recharge: AutoRecharge = Field(default_factory=AutoRecharge)
    billing: BillingPreferences = Field(default_factory=BillingPreferences)
    suspended_for_balance: bool = Field(
        False, description="suspended because its prepaid balance stayed at or below zero"
    )

    def zone_history(self) -> list[ZoneSpan]:
        """The zones that date this account's usage, oldest first (never empty)."""
        return self.time_zones or [ZoneSpan(time_zone=self.time_zone, effective_from=EARLIEST)]


class AccountUpgraded(Envelope):
    """A trial account completed the self-service upgrade to `billing_mode`."""

    type: Literal["accounts.upgraded"] = "accounts.upgraded"
    version: int = Field(ge=1, description="the account's version the upgrade produced")
    billing_mode: BillingMode
    address_id: str | None = None


class BillingModeChanged(Envelope):
    """The account's billing mode changed (an upgrade, or an invoicing request's activation)."""

    type: Literal["accounts.billing_mode_changed"] = "accounts.billing_mode_changed"
    version: int = Field(ge=1)
    previous: BillingMode
    billing_mode: BillingMode


class SuspensionReason(StrEnum):
    BALANCE_DEPLETED = "balance_depleted"


class AccountSuspended(Envelope):
    """The account was suspended; `depleted_since` is when its balance reached zero."""

    type: Literal["accounts.suspended"] = "accounts.suspended"
    version: int = Field(ge=1)
    reason: SuspensionReason
    depleted_since: UtcDatetime | None = None


class AccountReactivated(Envelope):
    """A suspended account is active again (a top-up made its balance positive)."""

    type: Literal["accounts.reactivated"] = "accounts.reactivated"
    version: int = Field(ge=1)
    balance: Decimal | None = None


AccountLifecycleEvent = AccountUpgraded | BillingModeChanged | AccountSuspended | AccountReactivated
"""Every event on `accounts.lifecycle.v1` (tell them apart by `type`)."""


# What a client may send to change an account (CONTRACTS.md §3). Shared by the gateway and the
# accounts service, so both refuse the same fields: every model forbids unknown ones, and a
# client can never name its billing mode, status, balance, credit limit, rates or flags.

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_HOST_DEPENDENT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


def is_iana_zone(name: str) -> bool:
    """True when `name` is an IANA time zone this machine can compute periods in."""
    if name in _HOST_DEPENDENT_ZONES:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _is_email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("must be an e-mail address, e.g. billing@example.com")
    return value


def _is_web_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https URL, e.g. https://example.com/hooks/tally")
    return value


def _is_zone(value: str) -> str:
    if not is_iana_zone(value):
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. America/Chicago)")
    return value


def _not_null(value: object) -> object:
    if value is None:
        raise ValueError("may be left out, not null")
    return value


EmailAddress = Annotated[str, Field(max_length=254), AfterValidator(_is_email)]
WebUrl = Annotated[str, Field(max_length=2000), AfterValidator(_is_web_url)]
TimeZoneName = Annotated[
    str, AfterValidator(_is_zone), Field(description="an IANA time zone, e.g. America/Chicago")
]
Money = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2, description="USD")]
CardToken = Annotated[
    str, Field(min_length=1, max_length=200, description="the payment provider's card token")
]


class AccountPatch(BaseModel):
    """`PATCH /v1/Accounts/{sid}`: what a customer may change; left-out fields stay."""

    model_config = ConfigDict(extra="forbid")

    friendly_name: str | None = Field(None, min_length=1, max_length=128)
    time_zone: TimeZoneName | None = Field(
        None, description="applies from the account's next billing month"
    )
    contact_email: EmailAddress | None = None
    webhook_url: WebUrl | None = Field(None, description="null removes it")

    _present = field_validator("friendly_name", "time_zone", "contact_email", mode="before")(
        _not_null
    )


class TopUpRequest(BaseModel):
    """A top-up charged to a card."""

    model_config = ConfigDict(extra="forbid")

    amount: Money
    card_token: CardToken


class AutoRechargeSetup(BaseModel):
    """Auto-recharge asked for with an upgrade: below `threshold`, charge `amount`."""

    model_config = ConfigDict(extra="forbid")

    threshold: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
    amount: Money
    card_token: CardToken


class UpgradeRequest(BaseModel):
    """`POST /v1/Accounts/{sid}/Upgrade`."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["pay_by_invoice", "pay_as_you_go"]
    address_id: str | None = Field(None, max_length=64, description="one of `addresses`")
    address: Address | None = Field(
        None, description='"enter manually": pay as you go only; it joins the address book'
    )
    top_up: TopUpRequest | None = None
    auto_recharge: AutoRechargeSetup | None = None


class BillingPreferencesPatch(BaseModel):
    """`PATCH /v1/Accounts/{sid}/BillingPreferences`; left-out fields stay, null clears."""

    model_config = ConfigDict(extra="forbid")

    mailing_address: Address | None = None
    po_number: str | None = Field(None, max_length=64)
    invoice_recipients: list[EmailAddress] | None = Field(None, max_length=20)

    _present = field_validator("invoice_recipients", mode="before")(_not_null)


class AutoRechargeSettings(BaseModel):
    """`PUT /v1/Accounts/{sid}/AutoRecharge`: the whole setting; enabled needs all three."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool
    threshold: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)] | None = None
    amount: Money | None = None
    card_token: CardToken | None = None
