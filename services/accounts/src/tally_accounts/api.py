"""The accounts service's internal HTTP API: open an account, read one."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from tally_contracts.accounts import AccountStatus, BillingMode
from tally_runtime.clock import Clock
from tally_runtime.http import AccountSidPath, DatabasePool
from tally_runtime.problems import PROBLEM_JSON, Problem, ProblemError

from tally_accounts import handlers
from tally_accounts.domain import Account, NewAccount, is_valid_time_zone

router = APIRouter()

_PROBLEM: dict[str, Any] = {
    "model": Problem,
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


class AccountCreate(BaseModel):
    """The body of `POST /accounts`."""

    model_config = ConfigDict(extra="forbid")

    owner: str = Field(min_length=1, max_length=128, description="the customer who owns it")
    friendly_name: str = Field(min_length=1, max_length=128)
    time_zone: str = Field(description="an IANA time zone, e.g. America/Chicago")
    flex: bool = False
    multi_account_invoicing: bool = False
    reseller: bool = False
    nonprofit_org: bool = False

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        if not is_valid_time_zone(value):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. America/Chicago)")
        return value


class AccountPublic(BaseModel):
    """An account as this API returns it: its whole current state."""

    sid: str
    owner: str
    friendly_name: str
    time_zone: str
    status: AccountStatus
    billing_mode: BillingMode
    flex: bool
    multi_account_invoicing: bool
    reseller: bool
    nonprofit_org: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, account: Account) -> "AccountPublic":
        """The public shape of a domain account."""
        return cls(**vars(account))


def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


RequestClock = Annotated[Clock, Depends(_clock)]
"""The clock the composition root put on `app.state.clock`."""


@router.post(
    "/accounts",
    status_code=status.HTTP_201_CREATED,
    responses={422: _PROBLEM},
)
async def create_account(
    body: AccountCreate, pool: DatabasePool, clock: RequestClock
) -> AccountPublic:
    """Open a trial account; its first state is published on `accounts.state.v1`."""
    account = await handlers.create_account(NewAccount(**body.model_dump()), pool=pool, clock=clock)
    return AccountPublic.of(account)


@router.get("/accounts/{sid}", responses={404: _PROBLEM, 422: _PROBLEM})
async def get_account(sid: AccountSidPath, pool: DatabasePool) -> AccountPublic:
    """The account with this SID."""
    account = await handlers.find_account(sid, pool=pool)
    if account is None:
        raise ProblemError(404, "Account not found", detail=f"no account {sid}")
    return AccountPublic.of(account)
