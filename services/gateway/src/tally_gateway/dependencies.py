"""What routes may ask for: the wiring app.py built, who the caller is, the usage body.

`authenticated_account` is the one place that decides whether a caller may touch an
account: every `/v1/Accounts/{sid}/...` route depends on it. A usage body is read only
after it, so a stranger never makes the gateway read or parse one.
"""

import json
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.http import HTTPBase
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from tally_contracts.errors import FieldError
from tally_contracts.usage import read_json
from tally_runtime.clock import Clock
from tally_runtime.http import DatabasePool
from tally_runtime.problems import ProblemError

from tally_gateway import handlers
from tally_gateway.accounts_client import AccountsClient
from tally_gateway.config import Settings
from tally_gateway.domain import MAX_EVENTS_PER_REQUEST, basic_credentials, is_ops_key
from tally_gateway.rate_limits import RateLimits
from tally_gateway.schemas import UsageBatch
from tally_gateway.upstream import ServiceClient
from tally_gateway.usage_producer import UsagePublisher


# `async` getters: FastAPI would run a plain `def` in a worker thread, for every request.
async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _publisher(request: Request) -> UsagePublisher:
    publisher: UsagePublisher = request.app.state.usage_publisher
    return publisher


async def _accounts(request: Request) -> AccountsClient:
    accounts: AccountsClient = request.app.state.accounts
    return accounts


def _service(name: str) -> Any:
    async def client(request: Request) -> ServiceClient:
        services: dict[str, ServiceClient] = request.app.state.services
        return services[name]

    return Depends(client)


async def _rate_limits(request: Request) -> RateLimits:
    rate_limits: RateLimits = request.app.state.rate_limits
    return rate_limits


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


SettingsDep = Annotated[Settings, Depends(_settings)]
Publisher = Annotated[UsagePublisher, Depends(_publisher)]
Accounts = Annotated[AccountsClient, Depends(_accounts)]
RequestClock = Annotated[Clock, Depends(_clock)]
CallerRateLimits = Annotated[RateLimits, Depends(_rate_limits)]
UsageService = Annotated[ServiceClient, _service("usage")]
InvoicingService = Annotated[ServiceClient, _service("invoicing")]
NotificationsService = Annotated[ServiceClient, _service("notifications")]
AccountsService = Annotated[ServiceClient, _service("accounts")]
"""Clients of the services' internal APIs; their 4xx problems are relayed as they are."""

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
    rate_limits: CallerRateLimits,
) -> str:
    """The SID in the path, once the caller has proved it is that account.

    Bad or missing credentials are a 401; good credentials of another account are a 404,
    exactly like an account that does not exist, so nobody learns which SIDs are real. A
    proven caller past its rate limit is a 429, whichever account it asked for.
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
    await rate_limits.admit(caller)
    if caller != sid:
        raise handlers.account_not_found(sid)
    return caller


async def ops_caller(
    authorization: Annotated[HTTPAuthorizationCredentials | None, Security(_ops_key)],
    settings: SettingsDep,
    rate_limits: CallerRateLimits,
) -> None:
    """Let the request through only with `Authorization: Bearer <ops key>`, within its limit."""
    if authorization is None or not is_ops_key(
        authorization.credentials, settings.ops_key.get_secret_value()
    ):
        raise _unauthorized('Bearer realm="Tally ops"')
    await rate_limits.admit(OPS_CALLER)


OPS_CALLER = "ops"
"""The ops key's caller name: its rate limit's, and its Idempotency-Keys' scope."""
OwnAccountSid = Annotated[str, Depends(authenticated_account)]
"""The path's account SID, proven to be the caller's."""


async def _usage_batch(_caller: OwnAccountSid, request: Request) -> UsageBatch:
    """The body of a usage request, read only once the caller has proved who it is.

    FastAPI reads a declared body before any dependency runs; reading it here instead keeps a
    stranger from making the gateway read and parse megabytes.
    """
    if not _is_json(request.headers.get("content-type", "")):
        raise ProblemError(415, "Unsupported media type", detail="send application/json")
    document = _json_document(await request.body())
    events = document.get("events") if isinstance(document, dict) else None
    if isinstance(events, list) and len(events) > MAX_EVENTS_PER_REQUEST:
        reason = f"at most {MAX_EVENTS_PER_REQUEST} events per request, not {len(events)}"
        errors = [FieldError(field="events", reason=reason)]
        raise ProblemError(413, "Too many events", detail=reason, errors=errors)
    try:
        return UsageBatch.model_validate(document)
    except ValidationError as error:
        raise RequestValidationError(
            [{**detail, "loc": ("body", *detail["loc"])} for detail in error.errors()]
        ) from None


def _is_json(content_type: str) -> bool:
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _json_document(body: bytes) -> Any:
    try:
        return read_json(body)
    except json.JSONDecodeError as error:
        position, cause = error.pos, error.msg
    except UnicodeDecodeError as error:
        position, cause = error.start, "not UTF-8 text"
    except RecursionError:
        position, cause = 0, "nested too deeply"
    # Worded by the problem handlers as for any JSON body FastAPI parses itself.
    invalid = {"type": "json_invalid", "loc": ("body", position), "ctx": {"error": cause}}
    raise RequestValidationError([invalid])


UsageBody = Annotated[UsageBatch, Depends(_usage_batch)]
"""The request's usage batch, read after the caller's credentials were checked."""
