"""The accounts service's internal HTTP API: open an account, read one."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from tally_contracts.accounts import AccountStatus, BillingMode
from tally_contracts.envelope import AccountSid
from tally_runtime.clock import Clock
from tally_runtime.http import AccountSidPath, DatabasePool, internal_caller
from tally_runtime.problems import PROBLEM_JSON, Problem, ProblemError

from tally_accounts import handlers
from tally_accounts.domain import Account, NewAccount, SidTaken, is_valid_time_zone

router = APIRouter(dependencies=[Depends(internal_caller)])

_PROBLEM: dict[str, Any] = {
    "model": Problem,
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status_code: _PROBLEM for status_code in statuses}


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
    sid: AccountSid | None = Field(
        None, description="the SID to open; asking again with the same request finds it (a retry)"
    )

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


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


RequestClock = Annotated[Clock, Depends(_clock)]
"""The clock the composition root put on `app.state.clock`."""


@router.post(
    "/accounts",
    status_code=status.HTTP_201_CREATED,
    responses=_problems(401, 409, 422) | {200: {"description": "opened before by this request"}},
)
async def create_account(
    body: AccountCreate, response: Response, pool: DatabasePool, clock: RequestClock
) -> AccountPublic:
    """Open a trial account; its first state is published on `accounts.state.v1`.

    With a `sid`, the same request again answers 200 with that account as it is now; the
    `sid` of an account another request opened is a 409.
    """
    request = NewAccount(**body.model_dump(exclude={"sid"}))
    try:
        account, opened = await handlers.open_account(request, sid=body.sid, pool=pool, clock=clock)
    except SidTaken as taken:
        raise ProblemError(409, "Account SID taken", detail=str(taken)) from None
    if not opened:
        response.status_code = status.HTTP_200_OK
    return AccountPublic.of(account)


@router.get("/accounts/{sid}", responses=_problems(401, 404, 422))
async def get_account(sid: AccountSidPath, pool: DatabasePool) -> AccountPublic:
    """The account with this SID."""
    account = await handlers.find_account(sid, pool=pool)
    if account is None:
        raise ProblemError(404, "Account not found", detail=f"no account {sid}")
    return AccountPublic.of(account)
