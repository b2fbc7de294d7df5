"""The public API's request and response bodies (CONTRACTS.md §3)."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from tally_contracts.accounts import AccountStatus, BillingMode

from tally_gateway.domain import MAX_EVENTS_PER_REQUEST


class AccountCreate(BaseModel):
    """The body of `POST /v1/Accounts`."""

    model_config = ConfigDict(extra="forbid")

    owner: str = Field(min_length=1, max_length=128, description="the customer who owns it")
    friendly_name: str = Field(min_length=1, max_length=128)
    time_zone: str = Field(description="an IANA time zone, e.g. America/Chicago")
    flex: bool = False
    multi_account_invoicing: bool = False
    reseller: bool = False
    nonprofit_org: bool = False


class AccountPublic(BaseModel):
    """An account as its owner sees it."""

    sid: str
    friendly_name: str
    owner: str
    time_zone: str
    status: AccountStatus
    billing_mode: BillingMode


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
