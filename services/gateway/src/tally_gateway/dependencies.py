"""What routes may ask for: the wiring app.py built, and who the caller is.

`authenticated_account` is the one place that decides whether a caller may touch an
account: every `/v1/Accounts/{sid}/...` route depends on it.
"""

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.http import HTTPBase
from faststream.kafka import KafkaBroker
from starlette.exceptions import HTTPException
from tally_runtime.clock import Clock
from tally_runtime.http import DatabasePool

from tally_gateway import handlers
from tally_gateway.accounts_client import AccountsClient
from tally_gateway.config import Settings
from tally_gateway.domain import basic_credentials, is_ops_key


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _broker(request: Request) -> KafkaBroker:
    broker: KafkaBroker = request.app.state.broker
    return broker


def _accounts(request: Request) -> AccountsClient:
    accounts: AccountsClient = request.app.state.accounts
    return accounts


def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


SettingsDep = Annotated[Settings, Depends(_settings)]
Broker = Annotated[KafkaBroker, Depends(_broker)]
Accounts = Annotated[AccountsClient, Depends(_accounts)]
RequestClock = Annotated[Clock, Depends(_clock)]

_account_credentials = HTTPBase(
    scheme="basic",
    scheme_name="AccountCredentials",
    description="HTTP Basic with `AccountSid:AuthToken`",
    auto_error=False,
)
_ops_key = HTTPBearer(scheme_name="OpsKey", description="the ops key", auto_error=False)


def _unauthorized(challenge: str) -> HTTPException:
    return HTTPException(401, "Invalid or missing credentials", {"WWW-Authenticate": challenge})


async def authenticated_account(
    sid: str,
    authorization: Annotated[HTTPAuthorizationCredentials | None, Security(_account_credentials)],
    pool: DatabasePool,
    settings: SettingsDep,
) -> str:
    """The SID in the path, once the caller has proved it is that account.

    Bad or missing credentials are a 401; good credentials of another account are a 404,
    exactly like an account that does not exist, so nobody learns which SIDs are real.
    """
    credentials = (
        basic_credentials(authorization.scheme, authorization.credentials)
        if authorization
        else None
    )
    pepper = settings.token_pepper.get_secret_value().encode()
    caller = (
        await handlers.authenticate(credentials, pool=pool, pepper=pepper) if credentials else None
    )
    if caller is None:
        raise _unauthorized('Basic realm="Tally"')
    if caller != sid:
        raise handlers.account_not_found(sid)
    return caller


async def ops_caller(
    authorization: Annotated[HTTPAuthorizationCredentials | None, Security(_ops_key)],
    settings: SettingsDep,
) -> None:
    """Let the request through only with `Authorization: Bearer <ops key>`."""
    if authorization is None or not is_ops_key(
        authorization.credentials, settings.ops_key.get_secret_value()
    ):
        raise _unauthorized('Bearer realm="Tally ops"')


OwnAccountSid = Annotated[str, Depends(authenticated_account)]
"""The path's account SID, proven to be the caller's."""
