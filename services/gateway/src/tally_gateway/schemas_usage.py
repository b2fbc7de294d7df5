"""Bodies of the usage routes beyond intake (CONTRACTS.md §3): receipts, the number usage report,
usage snapshots; and the usage service's answers they are read from.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from tally_gateway.domain import MAX_EVENTS_PER_REQUEST
from tally_gateway.schemas_money import Instant

MAX_RECEIPT_ID_CHARS = 200
"""The longest id a receipt can be asked for: usage keeps a refused event's id up to this."""


class ReceiptsRequest(BaseModel):
    """The body of `POST /v1/Accounts/{sid}/Usage/Receipts`."""

    model_config = ConfigDict(extra="forbid")

    # Any text, not only valid event ids: an event refused for its id can be asked about too.
    event_ids: list[Annotated[str, Field(min_length=1, max_length=MAX_RECEIPT_ID_CHARS)]] = Field(
        min_length=1,
        max_length=MAX_EVENTS_PER_REQUEST,
        description=f"1 to {MAX_EVENTS_PER_REQUEST} event ids, each 1 to"
        f" {MAX_RECEIPT_ID_CHARS} characters",
    )


class ReceiptStatus(StrEnum):
    RECORDED = "recorded"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


class Receipt(BaseModel):
    """What became of one event id."""

    event_id: str
    status: ReceiptStatus = Field(
        description="`recorded`: stored once and counted once; `rejected`: broke the usage"
        " contract, never stored (`field` and `reason` say why); `unknown`: not stored yet"
    )
    duplicates: int = Field(description="repeats of the recorded payload, ignored")
    conflicts: int = Field(
        description="repeats with another payload under the same id, refused and never applied"
        " (the first payload stays recorded)"
    )
    field: str | None = Field(None, description="`rejected` only: the field that broke a rule")
    reason: str | None = Field(None, description="`rejected` only: the rule it broke")


class Receipts(BaseModel):
    """One receipt per id asked, in the order asked."""

    receipts: list[Receipt]


class UsageSnapshotsRun(BaseModel):
    """The body of `POST /v1/Ops/UsageSnapshots`."""

    model_config = ConfigDict(extra="forbid")

    as_of: Instant = Field(description="an instant (RFC 3339 with its offset), years 1900-2999")


class UsageSnapshotsTaken(BaseModel):
    snapshots: int = Field(
        description="snapshots this request took; those taken before (by the nightly job, an"
        " earlier request or one running at the same time) are not counted again"
    )


class NumberUsage(BaseModel):
    """One phone number's use in the month."""

    phone_number: str
    number_type: str | None = Field(
        description="`local`, `mobile`, `toll-free` or `promo`, as the latest event naming it in"
        " the month said; null when no event said"
    )
    promo: bool
    first_used: date = Field(description="local date, in the account's time zone")
    last_used: date = Field(description="local date, in the account's time zone")
    days_used: int = Field(description="distinct local dates with any event naming it")
    calls: int = Field(description="call events (`calls-*`) naming it")
    minutes: str = Field(description="their minutes, a decimal string")
    in_use: bool = Field(description="held (a `phone-numbers` event) today or yesterday, local")


class NumberUsageReport(BaseModel):
    """Every phone number the account's events named in one local month."""

    month: str
    time_zone: str
    generated_at: datetime
    numbers: list[NumberUsage]


class UpstreamError(BaseModel):
    field: str
    reason: str


class UpstreamReceipt(BaseModel):
    """A receipt as the usage service words it (`conflict` is the contract's `recorded`)."""

    event_id: str
    status: str
    duplicates: int
    conflicts: int
    errors: list[UpstreamError]


class UpstreamReceipts(BaseModel):
    receipts: list[UpstreamReceipt]
