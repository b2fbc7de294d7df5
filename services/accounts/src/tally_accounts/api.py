"""The accounts service's internal HTTP API: open, read and change accounts.

The upgrade, billing preferences and auto-recharge routes live beside it (`api_upgrade`,
`api_billing`); `router` serves them all.
"""

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, ConfigDict, Field
from tally_contracts.accounts import (
    AccountPatch,
    Address,
    EmailAddress,
    TimeZoneName,
    WebUrl,
)
from tally_contracts.envelope import AccountSid
from tally_runtime.http import AccountSidPath, DatabasePool, internal_caller
from tally_runtime.problems import ProblemError

from tally_accounts import api_billing, api_upgrade, charge_leases, handlers
from tally_accounts.api_models import AccountPublic
from tally_accounts.domain import NewAccount, SidTaken
from tally_accounts.web import RequestClock, as_problems, problems

router = APIRouter(dependencies=[Depends(internal_caller)])


class AccountCreate(BaseModel):
    """The body of `POST /accounts`."""

    model_config = ConfigDict(extra="forbid")

    owner: str = Field(min_length=1, max_length=128, description="the customer who owns it")
    friendly_name: str = Field(min_length=1, max_length=128)
    time_zone: TimeZoneName
    contact_email: EmailAddress
    webhook_url: WebUrl | None = None
    flex: bool = False
    multi_account_invoicing: bool = False
    reseller: bool = False
    nonprofit_org: bool = False
    address: Address | None = Field(None, description="joins the owner's address book")
    sid: AccountSid | None = Field(
        None, description="the SID to open; asking again with the same request finds it (a retry)"
    )


@router.post(
    "/accounts",
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 409, 422) | {200: {"description": "opened before by this request"}},
)
async def create_account(
    body: AccountCreate, response: Response, pool: DatabasePool, clock: RequestClock
) -> AccountPublic:
    """Open a trial account; its first state is published on `accounts.state.v1`.

    With a `sid`, the same request again answers 200 with that account as it is now; the
    `sid` of an account another request opened is a 409.
    """
    request = NewAccount(**{name: getattr(body, name) for name in NewAccount.__dataclass_fields__})
    try:
        account, opened = await handlers.open_account(request, sid=body.sid, pool=pool, clock=clock)
    except SidTaken as taken:
        raise ProblemError(409, "Account SID taken", detail=str(taken)) from None
    if not opened:
        response.status_code = status.HTTP_200_OK
    return AccountPublic.of(account)


@router.get("/accounts/{sid}", responses=problems(401, 404, 422))
async def get_account(sid: AccountSidPath, pool: DatabasePool) -> AccountPublic:
    """The account with this SID."""
    with as_problems():
        return AccountPublic.of(await handlers.find_account(sid, pool=pool))


@router.patch("/accounts/{sid}", responses=problems(401, 404, 422))
async def patch_account(
    sid: AccountSidPath, body: AccountPatch, pool: DatabasePool, clock: RequestClock
) -> AccountPublic:
    """Change the friendly name, time zone, contact e-mail or webhook URL; nothing else.

    A new time zone applies from the account's next billing month (see `time_zones`). A
    change publishes the next version; a patch that changes nothing publishes nothing.
    """
    with as_problems():
        account = await handlers.patch_account(sid, body, pool=pool, clock=clock)
    return AccountPublic.of(account)


router.include_router(api_upgrade.router)
router.include_router(api_billing.router)
router.include_router(charge_leases.router)
