"""The public API's request and response bodies (CONTRACTS.md §3)."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from tally_contracts.accounts import AccountStatus, Address, BillingMode, EmailAddress, WebUrl

from tally_gateway.domain import MAX_EVENTS_PER_REQUEST


class AccountCreate(BaseModel):
    """The body of `POST /v1/Accounts`."""

    model_config = ConfigDict(extra="forbid")

    owner: str = Field(min_length=1, max_length=128, description="the customer who owns it")
    friendly_name: str = Field(min_length=1, max_length=128)
    time_zone: str = Field(description="an IANA time zone, e.g. America/Chicago")
    contact_email: EmailAddress
    webhook_url: WebUrl | None = None
    flex: bool = False
    multi_account_invoicing: bool = False
    reseller: bool = False
    nonprofit_org: bool = False
    address: Address | None = Field(None, description="joins the owner's address book")


class AccountPublic(BaseModel):
    """An account as its owner sees it (CONTRACTS.md §3, exactly these fields)."""

    sid: str
    owner: str
    friendly_name: str
    time_zone: str = Field(
        description="the zone last chosen; a change applies from the next billing month"
    )
    status: AccountStatus
    billing_mode: BillingMode
    contact_email: str | None = Field(description="null only for accounts opened before it")
    webhook_url: str | None
    flex: bool
    multi_account_invoicing: bool
    reseller: bool
    nonprofit_org: bool
    date_created: datetime | None


class ApiKeyCreated(BaseModel):
    """A new API key: authenticate with `key_sid:secret`; the secret is shown only here."""

    key_sid: str = Field(description="`SK` + 32 hex digits")
    secret: str = Field(description="shown only in this answer: store it now")


class AccountCreated(AccountPublic):
    """A new account and its auth token, shown only in this answer (and its retries)."""

    auth_token: str = Field(
        description="shown only in this answer and its retries (same Idempotency-Key); store it"
    )


class UsageBatch(BaseModel):
    """The body of `POST /v1/Accounts/{sid}/Usage`."""

    model_config = ConfigDict(extra="forbid")

    # Items stay unvalidated here: each event is checked on its own, so one bad event
    # is reported by its index instead of refusing the whole request.
    events: list[Any] = Field(
        min_length=1,
        max_length=MAX_EVENTS_PER_REQUEST,
        description="usage events (CONTRACTS.md §1); `account_sid` may be left out",
    )


class UsageRejection(BaseModel):
    """Why one event of the request was not accepted."""

    index: int = Field(description="its position in `events`")
    field: str
    reason: str


class UsageAccepted(BaseModel):
    """How many events are durably in Kafka, and why the others were refused."""

    accepted: int
    rejected: list[UsageRejection]


class IneligibleReason(BaseModel):
    """A rule that keeps the account from pay by invoice."""

    rule: str = Field(
        description="`not_trial`, `no_approved_credit_check`, `flex_account`,"
        " `multi_account_invoicing`, `reseller` or `nonprofit_org`"
    )
    message: str


class UpgradeAddress(Address):
    """An address one of the owner's other accounts used."""

    address_id: str


class UpgradeOptions(BaseModel):
    """What a trial account may upgrade to, and with which address."""

    eligible_for_pay_by_invoice: bool
    ineligible_reasons: list[IneligibleReason] = Field(description="every failing rule")
    addresses: list[UpgradeAddress] = Field(
        description="the addresses the owner's other accounts used; none chosen (enter"
        " manually) means `address` in the POST, which leads to pay as you go"
    )
    methods: list[str] = Field(
        description="what this account may complete now: `pay_by_invoice` (only when"
        " eligible, with an `address_id`) and `pay_as_you_go`; empty once upgraded"
    )


class BillingPreferences(BaseModel):
    """Where and to whom the account's invoices go."""

    mailing_address: Address | None
    po_number: str | None
    invoice_recipients: list[str]


class AutoRechargePublic(BaseModel):
    """Auto-recharge: when the balance falls to `threshold`, `amount` is charged to the card."""

    enabled: bool
    threshold: Decimal | None
    amount: Decimal | None
    card_token: str | None
