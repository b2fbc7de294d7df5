"""Accounts: open one (ops), read one, change one."""

from datetime import timedelta

from fastapi import APIRouter, Depends, status
from tally_contracts.accounts import AccountPatch
from tally_runtime.http import DatabasePool

from tally_gateway import handlers
from tally_gateway.accounts_client import UpstreamAccount
from tally_gateway.api.openapi import IdempotencyKey, problems
from tally_gateway.dependencies import (
    Accounts,
    AccountsService,
    OwnAccountSid,
    RequestClock,
    SettingsDep,
    ops_caller,
)
from tally_gateway.domain import RETRY_WINDOW
from tally_gateway.schemas import (
    AccountCreate,
    AccountCreated,
    AccountPublic,
)

router = APIRouter(prefix="/v1", tags=["accounts"])


@router.post(
    "/Accounts",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(ops_caller)],
    responses=problems(401, 409, 413, 422, 503),
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


@router.get("/Accounts/{sid}", responses=problems(401, 404, 503))
async def get_account(sid: OwnAccountSid, accounts: Accounts) -> AccountPublic:
    """The caller's account: status, billing mode, time zone, contact, flags."""
    return handlers.public_account(await handlers.read_account(sid, accounts=accounts))


@router.patch(
    "/Accounts/{sid}",
    responses=problems(401, 404, 422, 503),
    description="""Change `friendly_name`, `time_zone`, `contact_email` or `webhook_url`
(`null` removes the webhook URL); a left-out field stays. Any other field is a `422` naming
it. A new time zone is shown at once but applies from the account's next billing month: this
month's usage, billing page and invoice stay in the zone the month began in.""",
)
async def patch_account(
    sid: OwnAccountSid, body: AccountPatch, accounts: AccountsService
) -> AccountPublic:
    """Change what a customer may change of its account."""
    account = await accounts.call(
        UpstreamAccount, "PATCH", f"/accounts/{sid}", body.model_dump(exclude_unset=True)
    )
    return handlers.public_account(account)
