"""The accounts service's internal HTTP API, as the gateway calls it."""

from datetime import datetime

import httpx
from pydantic import BaseModel, ConfigDict
from tally_contracts.accounts import AccountStatus, BillingMode

from tally_gateway.schemas import AccountCreate
from tally_gateway.upstream import ServiceClient


class UpstreamAccount(BaseModel):
    """An account as the accounts service returns it (the fields the gateway uses)."""

    model_config = ConfigDict(extra="ignore")

    sid: str
    owner: str
    friendly_name: str
    time_zone: str
    status: AccountStatus
    billing_mode: BillingMode
    contact_email: str | None = None
    webhook_url: str | None = None
    flex: bool = False
    multi_account_invoicing: bool = False
    reseller: bool = False
    nonprofit_org: bool = False
    created_at: datetime | None = None


class AccountsClient(ServiceClient):
    """Calls `POST /accounts` and `GET /accounts/{sid}`; their problems reach the caller as-is."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        super().__init__("accounts", http)

    async def open(self, request: AccountCreate, *, sid: str) -> UpstreamAccount:
        """Open the account `sid`, or find it if this same request opened it already."""
        return await self.call(
            UpstreamAccount, "POST", "/accounts", {**request.model_dump(), "sid": sid}
        )

    async def find(self, sid: str) -> UpstreamAccount | None:
        """The account with this SID, or None."""
        response = await self.send("GET", f"/accounts/{sid}")
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        return self.read(UpstreamAccount, response)
