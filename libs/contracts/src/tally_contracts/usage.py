"""Usage: the producer contract `usage.events.v1` (CONTRACTS.md §1) and what becomes of it."""

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    ValidationInfo,
    field_serializer,
    field_validator,
)

from tally_contracts.decimals import plain_decimal
from tally_contracts.envelope import AccountSid, Envelope, UtcDatetime
from tally_contracts.errors import FieldError

MAX_QUANTITY = Decimal("1e9")
QUANTITY_STEP = Decimal("0.000001")
"""The finest quantity a producer may send: at most 6 decimal places."""
MAX_FUTURE_SKEW = timedelta(minutes=5)
MAX_ATTRIBUTES = 20

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


class UsageCategory(StrEnum):
    """The rate card's usage categories and what one unit of each is."""

    CALLS_INBOUND = "calls-inbound"
    CALLS_OUTBOUND = "calls-outbound"
    SMS_INBOUND = "sms-inbound"
    SMS_OUTBOUND = "sms-outbound"
    PHONE_NUMBERS = "phone-numbers"

    @property
    def unit(self) -> str:
        """The unit a quantity of this category counts."""
        if self.value.startswith("calls-"):
            return "minutes"
        if self.value.startswith("sms-"):
            return "messages"
        return "number-days"


class NumberType(StrEnum):
    LOCAL = "local"
    MOBILE = "mobile"
    TOLL_FREE = "toll-free"
    PROMO = "promo"


_EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_E164 = re.compile(r"\+\d{8,15}")
# Plain decimal notation only: no exponent, sign "+", spaces or "_" separators.
_DECIMAL_TEXT = re.compile(r"-?\d+(\.\d+)?")


def _is_event_id(value: str) -> str:
    if not _EVENT_ID.fullmatch(value):
        raise ValueError("must be 1-128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'")
    return value


def _is_e164(value: str) -> str:
    if not _E164.fullmatch(value):
        raise ValueError("must be an E.164 number: '+' followed by 8 to 15 digits")
    return value


EventId = Annotated[StrictStr, AfterValidator(_is_event_id)]
E164 = Annotated[StrictStr, AfterValidator(_is_e164)]


def validation_context(now: datetime | None) -> dict[str, Any]:
    """The context UsageEvent validation reads its clock from (None: the wall clock)."""
    return {"now": now}


class UsageEvent(BaseModel):
    """One usage event as a producer publishes it; every rule of CONTRACTS.md §1 is enforced."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: EventId
    account_sid: AccountSid
    category: UsageCategory
    quantity: Decimal
    occurred_at: datetime
    phone_number: E164 | None = Field(default=None, validate_default=True)
    number_type: NumberType | None = Field(default=None, validate_default=True)
    attributes: dict[StrictStr, StrictStr] = Field(default_factory=dict)

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity_is_a_bounded_decimal(cls, value: object) -> Decimal:
        # bool is an int subclass and JSON `true` must not count as 1 unit.
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise ValueError("must be a decimal string or a JSON number")
        if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
            raise ValueError(f"{value!r} is not a plain decimal number")
        # A float has already lost digits; parse_usage_event reads JSON numbers as Decimal.
        quantity = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not quantity.is_finite():
            raise ValueError("must be a finite number")
        if quantity < 0:
            raise ValueError("must be at least 0")
        if quantity > MAX_QUANTITY:
            raise ValueError("must be at most 1e9")
        if quantity != quantity.quantize(QUANTITY_STEP, rounding=ROUND_DOWN):
            raise ValueError("must have at most 6 decimal places")
        return quantity

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _occurred_at_is_rfc3339(cls, value: object) -> datetime:
        if not isinstance(value, str) or not _RFC3339.fullmatch(value):
            raise ValueError("must be an RFC 3339 timestamp with an offset or Z")
        try:
            return datetime.fromisoformat(value.upper()).astimezone(UTC)
        except ValueError:
            raise ValueError(f"{value!r} is not a valid date and time") from None

    @field_validator("occurred_at")
    @classmethod
    def _occurred_at_not_in_future(cls, value: datetime, info: ValidationInfo) -> datetime:
        context = info.context or {}
        now: datetime = context.get("now") or datetime.now(UTC)
        if value > now + MAX_FUTURE_SKEW:
            raise ValueError("must not be more than 5 minutes in the future")
        return value

    @field_validator("attributes")
    @classmethod
    def _few_attributes(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_ATTRIBUTES:
            raise ValueError(f"must have at most {MAX_ATTRIBUTES} entries")
        return value

    @field_validator("phone_number")
    @classmethod
    def _phone_numbers_name_the_number(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("category") is UsageCategory.PHONE_NUMBERS:
            raise ValueError("is required for category phone-numbers")
        return value

    @field_validator("number_type")
    @classmethod
    def _phone_numbers_name_the_type(
        cls, value: NumberType | None, info: ValidationInfo
    ) -> NumberType | None:
        # CONTRACTS.md §1: required for phone-numbers (the number usage report shows it).
        if value is None and info.data.get("category") is UsageCategory.PHONE_NUMBERS:
            raise ValueError("is required for category phone-numbers")
        return value

    @field_serializer("quantity", when_used="json")
    def _canonical_quantity(self, quantity: Decimal) -> str:
        # As stored and forwarded: the same event always encodes to the same bytes.
        return plain_decimal(quantity)

    def wire_quantity(self) -> str:
        """The quantity as the canonical decimal string stored and forwarded downstream."""
        return plain_decimal(self.quantity)


def read_json(raw: bytes | str) -> Any:
    """Decode JSON with every number read as an exact Decimal (floats would lose digits)."""
    return json.loads(raw, parse_float=Decimal, parse_constant=str)


def parse_usage_event(raw: bytes | str, *, now: datetime | None = None) -> UsageEvent:
    """Parse one producer event from its JSON bytes; raises ValidationError naming the field."""
    try:
        document = read_json(raw)
    except ValueError:
        # Not JSON (or not UTF-8): let pydantic word the error the same way as for any field.
        return UsageEvent.model_validate_json(raw, context=validation_context(now))
    return usage_event_from_json_value(document, now=now)


def usage_event_from_json_value(document: Any, *, now: datetime | None = None) -> UsageEvent:
    """Validate one event already decoded by `read_json` (e.g. an item of a batch)."""
    return UsageEvent.model_validate(document, context=validation_context(now))


class UsageRecorded(Envelope):
    """A usage event was accepted: validated, deduplicated and stored (input of rating)."""

    type: Literal["usage.recorded"] = "usage.recorded"
    usage_event_id: str
    category: UsageCategory
    quantity: Decimal
    usage_occurred_at: UtcDatetime
    phone_number: str | None = None
    number_type: NumberType | None = None
    local_date: date | None = Field(default=None, description="in the account's time zone")
    period: str | None = Field(default=None, description="billing period key, `2026-10@Zone`")
    late: bool = Field(
        default=False,
        description="its period was already closed when it arrived: an adjustment, not usage",
    )


class UsageRejected(BaseModel):
    """A dead letter: the original bytes of a usage event that broke the contract, and why.

    Not an Envelope: a rejected event may not even name a valid account.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["usage.rejected"] = "usage.rejected"
    letter_id: str = Field(
        description="derived from the rejected record (position and bytes): one id, one rejection"
    )
    rejected_at: UtcDatetime
    source_topic: str
    source_partition: int
    source_offset: int
    key: str | None
    original: str = Field(description="the original value, decoded as UTF-8 with replacement")
    errors: list[FieldError]
    reason: Literal["invalid", "conflict"] = "invalid"
