"""The public REST API (CONTRACTS.md §3): thin routes over the handlers."""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, status
from tally_runtime.http import DatabasePool
from tally_runtime.problems import PROBLEM_JSON, Problem

from tally_gateway import handlers
from tally_gateway.dependencies import (
    Accounts,
    OwnAccountSid,
    Publisher,
    RequestClock,
    SettingsDep,
    UsageBody,
    ops_caller,
)
from tally_gateway.domain import MAX_EVENTS_PER_REQUEST, RETRY_WINDOW
from tally_gateway.schemas import (
    AccountCreate,
    AccountCreated,
    AccountPublic,
    UsageAccepted,
    UsageBatch,
    UsageRejection,
)

router = APIRouter(prefix="/v1", tags=["accounts"])


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    problem = {
        "model": Problem,  # registers the schema the problem+json content refers to
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    return {status_code: problem for status_code in statuses}


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="any unique text, e.g. a UUID; a retry with the same key is safe",
    ),
]


@router.post(
    "/Accounts",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(ops_caller)],
    responses=_problems(401, 409, 413, 422, 503),
    description=f"""Open a trial account (ops key). The answer holds its auth token, which is
never stored in clear: keep it now.

**Retries.** Send an `Idempotency-Key` header. The same request again with the same key
answers with the same account (same SID) and the same auth token, however the first attempt
ended: lost answer, timeout or `503`. The account is opened once; it never exists without its
credentials, since the gateway records the token (hashed) before the account is opened. The
same key with another body is a `409`. A key shows its token again for
{RETRY_WINDOW // timedelta(hours=1)} hours; after that its retry is a `409`.
Without the header a retry opens another account; a `503` then names a key to retry with.
""",
)
async def create_account(
    body: AccountCreate,
    accounts: Accounts,
    pool: DatabasePool,
    settings: SettingsDep,
    clock: RequestClock,
    idempotency_key: IdempotencyKey = None,
) -> AccountCreated:
    """Open an account (ops key); the answer holds its auth token."""
    return await handlers.open_account(
        body,
        idempotency_key=idempotency_key,
        accounts=accounts,
        pool=pool,
        pepper=settings.token_pepper.get_secret_value().encode(),
        now=clock(),
    )


@router.get("/Accounts/{sid}", responses=_problems(401, 404, 503))
async def get_account(sid: OwnAccountSid, accounts: Accounts) -> AccountPublic:
    """The caller's account: status, billing mode, time zone."""
    account = await handlers.read_account(sid, accounts=accounts)
    return AccountPublic.model_validate(account.model_dump())


@router.post(
    "/Accounts/{sid}/Usage",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_problems(401, 404, 413, 415, 422, 503),
    # The body is read by a dependency, after the credentials are checked; documented here.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": UsageBatch.model_json_schema()}},
        }
    },
    description=f"""Accept 1 to {MAX_EVENTS_PER_REQUEST} usage events; the answer comes once
every valid one is durably in Kafka. More events, or a body larger than the gateway reads,
is a `413`. A `503` means Kafka did not acknowledge them all: send the same events again, their
event ids make the retry safe.""",
)
async def post_usage(
    sid: OwnAccountSid, body: UsageBody, publisher: Publisher, clock: RequestClock
) -> UsageAccepted:
    """Accept usage events for the caller's account."""
    usage = await handlers.forward_usage(
        body.events, account_sid=sid, publisher=publisher, now=clock()
    )
    return UsageAccepted(
        accepted=len(usage.accepted),
        rejected=[
            UsageRejection(index=r.index, field=r.field, reason=r.reason) for r in usage.rejected
        ],
    )
