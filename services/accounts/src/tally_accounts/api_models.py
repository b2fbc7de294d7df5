"""The account as the internal API answers it, shared by the routes of every area."""

from datetime import datetime

from pydantic import BaseModel, Field
from tally_contracts.accounts import AccountStatus, BillingMode, InvoicingTerms
from tally_contracts.periods import ZoneSpan

from tally_accounts.domain import Account


class AccountPublic(BaseModel):
    """An account as this API returns it: its whole current state."""

    sid: str
    owner: str
    friendly_name: str
    time_zone: str
    status: AccountStatus
    billing_mode: BillingMode
    contact_email: str | None
    webhook_url: str | None
    flex: bool
    multi_account_invoicing: bool
    reseller: bool
    nonprofit_org: bool
    version: int
    created_at: datetime
    updated_at: datetime
    time_zones: list[ZoneSpan] = Field(description="the zone history; empty: always `time_zone`")
    terms: InvoicingTerms | None
    suspended_for_balance: bool

    @classmethod
    def of(cls, account: Account) -> "AccountPublic":
        """The public shape of a domain account."""
        return cls.model_validate(
            {name: getattr(account, name) for name in cls.model_fields}
            | {"time_zones": list(account.time_zones)}
        )
