"""Account state, published on the compacted topic `accounts.state.v1`."""

from enum import StrEnum
from typing import Literal

from pydantic import Field

from tally_contracts.envelope import Envelope
from tally_contracts.periods import EARLIEST, ZoneSpan


class BillingMode(StrEnum):
    TRIAL = "trial"
    PAY_AS_YOU_GO = "pay_as_you_go"
    INVOICED = "invoiced"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


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

    def zone_history(self) -> list[ZoneSpan]:
        """The zones that date this account's usage, oldest first (never empty)."""
        return self.time_zones or [ZoneSpan(time_zone=self.time_zone, effective_from=EARLIEST)]
