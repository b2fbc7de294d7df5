"""Invoicing requests (CONTRACTS.md §3, Ops): their facts and the bodies of their API.

Facts go on `accounts.invoicing_requests.v1`, keyed by account SID. They never carry
credit-check data: that stays sealed in the accounts service's database and is read only
through the audited ops endpoint. The bodies are shared by the gateway's public routes and
the accounts service's internal ones, so both validate alike. Every validation message here
names the rule, never the value it was given: a credit check's values must not reach a log
or an error document.
"""

import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictStr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from tally_contracts.accounts import Address
from tally_contracts.envelope import AccountSid, Envelope
from tally_contracts.usage import UsageCategory

MIN_COMMITTED_ANNUAL_SPEND = Decimal("12000.00")
"""Invoiced billing needs a committed contractual spend of at least $12,000 a year."""

_DECIMAL_TEXT = re.compile(r"\d{1,12}(\.\d{1,12})?")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[0-9 ().-]{5,32}")
_DUNS = re.compile(r"[0-9]{9}")


def _decimal_text(value: object) -> Decimal:
    if not isinstance(value, str) or not _DECIMAL_TEXT.fullmatch(value):
        raise ValueError('must be a non-negative decimal string, e.g. "12000.00"')
    return Decimal(value)


def _places(places: int) -> AfterValidator:
    def check(value: Decimal) -> Decimal:
        if value != round(value, places):
            raise ValueError(f"must have at most {places} decimal places")
        return value

    return AfterValidator(check)


def _below(limit: Decimal) -> AfterValidator:
    def check(value: Decimal) -> Decimal:
        if value >= limit:
            raise ValueError(f"must be less than {limit}")
        return value

    return AfterValidator(check)


def _matching(pattern: re.Pattern[str], rule: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(rule)
        return value

    return AfterValidator(check)


_AS_TEXT = PlainSerializer(str, return_type=str, when_used="json")
_TEXT_SCHEMA = WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?$"})

DecimalText = Annotated[Decimal, BeforeValidator(_decimal_text), _AS_TEXT, _TEXT_SCHEMA]
"""A non-negative decimal written as a string ("0.0085"), never a JSON number."""
Shown = Annotated[Decimal, _AS_TEXT, _TEXT_SCHEMA]
"""A decimal in an answer: a string on the wire."""
Money = Annotated[DecimalText, _places(2)]
UnitPrice = Annotated[DecimalText, _places(6), _below(Decimal(1000))]
Percent = Annotated[DecimalText, _places(2), _below(Decimal(100))]
Email = Annotated[StrictStr, Field(max_length=254), _matching(_EMAIL, "must be an e-mail address")]
By = Annotated[StrictStr, Field(min_length=1, max_length=128, description="who takes the step")]
Text = Annotated[StrictStr, Field(min_length=1, max_length=5000)]


class RequestState(StrEnum):
    PRICING = "pricing"
    CREDIT_CHECK = "credit_check"
    APPROVED = "approved"
    DECLINED = "declined"
    ACTIVATED = "activated"


class InvoicingRequestInformationRequested(Envelope):
    """Ops asked the customer for more information for its invoicing request's credit check.

    Notifications tells the customer (`credit_check_information_requested`): `items` are the
    questions as ops wrote them, `contact_email` the address given with the request.
    """

    type: Literal["invoicing_request.information_requested"] = (
        "invoicing_request.information_requested"
    )
    request_id: str = Field(min_length=1, max_length=64)
    contact_email: str = Field(min_length=3, max_length=254)
    items: list[str] = Field(min_length=1, description="what the customer is asked for")
    requested_by: str = Field(min_length=1, max_length=128, description="the ops person asking")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InvoicingRequestCreate(_Body):
    """The body that opens a request."""

    account_sid: AccountSid
    committed_annual_spend: Money = Field(description="at least 12000.00 a year")
    contact_email: Email = Field(description="who to talk to about the request")

    @field_validator("committed_annual_spend")
    @classmethod
    def _at_least_the_minimum(cls, value: Decimal) -> Decimal:
        if value < MIN_COMMITTED_ANNUAL_SPEND:
            raise ValueError(
                f"must be at least {MIN_COMMITTED_ANNUAL_SPEND}: invoiced billing needs that"
                " committed spend a year"
            )
        return value


class PricingAgreed(_Body):
    """The pricing conversation's outcome."""

    rates: dict[UsageCategory, UnitPrice] = Field(
        description="flat unit prices by category; the default card prices the others"
    )
    discount_percent: Percent
    net_terms_days: int = Field(ge=0, le=180, strict=True, description="days to pay an invoice")
    by: By


class AccountingContact(_Body):
    """Who handles the customer's invoices (any subset; a later post adds to it)."""

    full_name: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None
    email: Email | None = None
    phone: Annotated[StrictStr, _matching(_PHONE, "must be a phone number")] | None = None


class CreditCheckData(_Body):
    """What a credit check may gather; any subset, and more may follow in later posts."""

    legal_company_name: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None
    primary_account_sid: AccountSid | None = None
    accounting_contact: AccountingContact | None = None
    duns_number: Annotated[StrictStr, _matching(_DUNS, "must be exactly 9 digits")] | None = None
    funding_information: Text | None = Field(None, description="investor or private funding")
    financial_statements: list[Annotated[StrictStr, Field(min_length=1, max_length=500)]] | None = (
        Field(None, max_length=50, description="document references (ids or URLs)")
    )
    service_address: Address | None = None
    additional_information: (
        dict[Annotated[StrictStr, Field(min_length=1, max_length=100)], Text] | None
    ) = Field(None, max_length=20, description="anything else ops asked for, by name")


class CreditCheckPost(CreditCheckData):
    """Credit-check data to add to a request, and who records it."""

    by: By

    @model_validator(mode="after")
    def _names_something(self) -> "CreditCheckPost":
        if not self.model_fields_set - {"by"}:
            raise ValueError("name at least one credit-check field")
        return self


class CreditCheckRecord(CreditCheckData):
    """A request's credit-check data as it stands (every post applied)."""

    request_id: str


class InformationRequestPost(_Body):
    """Questions for the customer."""

    items: list[Text] = Field(min_length=1, max_length=50)
    by: By


class DecisionPost(_Body):
    """`{approved: true, credit_limit, by}` or `{approved: false, reason, by}`."""

    approved: StrictBool
    credit_limit: Money | None = Field(None, validate_default=True)
    reason: Text | None = Field(None, validate_default=True)
    by: By

    @field_validator("credit_limit")
    @classmethod
    def _limit_when_approved(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if info.data.get("approved") is True and value is None:
            raise ValueError("is required to approve")
        if info.data.get("approved") is False and value is not None:
            raise ValueError("is only given to approve")
        return value

    @field_validator("reason")
    @classmethod
    def _reason_when_declined(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("approved") is False and value is None:
            raise ValueError("is required to decline")
        if info.data.get("approved") is True and value is not None:
            raise ValueError("is only given to decline")
        return value


class ActivationPost(_Body):
    """Who switches the account to invoiced billing."""

    by: By


class HistoryEntry(BaseModel):
    step: str = Field(description="created, pricing, credit_check, information_request, ...")
    by: str
    at: datetime


class AgreedPricing(BaseModel):
    rates: dict[str, Shown]
    discount_percent: Shown
    net_terms_days: int


class DecisionTaken(BaseModel):
    approved: bool
    credit_limit: Shown | None
    reason: str | None
    by: str
    at: datetime


class InformationAsked(BaseModel):
    items: list[str]
    by: str
    at: datetime


class InvoicingRequestPublic(BaseModel):
    """A request as the ops API returns it."""

    request_id: str
    account_sid: str
    state: RequestState
    committed_annual_spend: Shown
    contact_email: str
    created_at: datetime
    updated_at: datetime
    open_too_long: bool = Field(description="open (not declined or activated) over 5 weeks")
    history: list[HistoryEntry]
    next_steps: list[str] = Field(description="the steps the state allows; empty once closed")
    pricing: AgreedPricing | None = Field(description="the agreed pricing, once priced")
    decision: DecisionTaken | None
    information_requests: list[InformationAsked]


class InvoicingRequestList(BaseModel):
    invoicing_requests: list[InvoicingRequestPublic]
