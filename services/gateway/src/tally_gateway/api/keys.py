"""API keys: a second credential of an account, `APIKeySid:secret`, revocable."""

from fastapi import APIRouter, Response, status
from tally_runtime.http import DatabasePool

from tally_gateway import handlers
from tally_gateway.api.openapi import IDEMPOTENT_RETRIES, problems
from tally_gateway.dependencies import OwnAccountSid, RequestClock, SettingsDep
from tally_gateway.idempotency import AccountIdempotency
from tally_gateway.schemas import ApiKeyCreated

router = APIRouter(prefix="/v1", tags=["api keys"])


@router.post(
    "/Accounts/{sid}/Keys",
    status_code=status.HTTP_201_CREATED,
    dependencies=[AccountIdempotency],
    responses=problems(401, 404, 409),
    description="""A new API key of the account. Authenticate with HTTP Basic
`key_sid:secret` exactly as with `AccountSid:AuthToken`. The secret is shown in this answer
only (it is stored as a keyed hash; a response kept for a retry is kept encrypted): keep it
now. An account may hold several keys."""
    + IDEMPOTENT_RETRIES,
)
async def create_key(
    sid: OwnAccountSid, pool: DatabasePool, settings: SettingsDep, clock: RequestClock
) -> ApiKeyCreated:
    """Create an API key; its secret is shown once."""
    pepper = settings.token_pepper.get_secret_value().encode()
    return await handlers.create_api_key(sid, pool=pool, pepper=pepper, now=clock())


@router.delete(
    "/Accounts/{sid}/Keys/{key_sid}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 404),
    description="""Revoke an API key: it never authenticates again. Revoking a key already
revoked is a `204` too; a key of another account is a `404`, like one that does not exist.""",
)
async def revoke_key(
    sid: OwnAccountSid, key_sid: str, pool: DatabasePool, clock: RequestClock
) -> Response:
    """Revoke an API key."""
    await handlers.revoke_api_key(sid, key_sid, pool=pool, now=clock())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
