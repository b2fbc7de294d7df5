"""The public REST API (CONTRACTS.md §2): thin routes over the handlers."""

from typing import Any

from fastapi import APIRouter, Depends, status
from tally_runtime.http import DatabasePool, ExactNumbersRoute
from tally_runtime.problems import PROBLEM_JSON, Problem

from tally_gateway import handlers
from tally_gateway.dependencies import (
    Accounts,
    Broker,
    OwnAccountSid,
    RequestClock,
    SettingsDep,
    ops_caller,
)
from tally_gateway.schemas import (
    AccountCreate,
    AccountCreated,
    AccountPublic,
    UsageAccepted,
    UsageBatch,
    UsageRejection,
)

# Exact numbers: a usage quantity sent as a JSON number must not pass through a float.
router = APIRouter(prefix="/v1", tags=["accounts"], route_class=ExactNumbersRoute)


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    problem = {
        "model": Problem,  # registers the schema the problem+json content refers to
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    return {status_code: problem for status_code in statuses}


@router.post(
    "/Accounts",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(ops_caller)],
    responses=_problems(401, 422, 503),
)
async def create_account(
    body: AccountCreate, accounts: Accounts, pool: DatabasePool, settings: SettingsDep
) -> AccountCreated:
    """Open an account (ops key); the answer holds its auth token, shown this once only."""
    pepper = settings.token_pepper.get_secret_value().encode()
    return await handlers.create_account(body, accounts=accounts, pool=pool, pepper=pepper)


@router.get("/Accounts/{sid}", responses=_problems(401, 404, 503))
async def get_account(sid: OwnAccountSid, accounts: Accounts) -> AccountPublic:
    """The caller's account: status, billing mode, time zone."""
    account = await handlers.read_account(sid, accounts=accounts)
    return AccountPublic.model_validate(account.model_dump())


@router.post(
    "/Accounts/{sid}/Usage",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_problems(401, 404, 422, 503),
)
async def post_usage(
    sid: OwnAccountSid, body: UsageBatch, broker: Broker, clock: RequestClock
) -> UsageAccepted:
    """Accept up to 1,000 usage events; answers once every valid one is durably in Kafka."""
    usage = await handlers.forward_usage(body.events, account_sid=sid, broker=broker, now=clock())
    return UsageAccepted(
        accepted=len(usage.accepted),
        rejected=[
            UsageRejection(index=r.index, field=r.field, reason=r.reason) for r in usage.rejected
        ],
    )
