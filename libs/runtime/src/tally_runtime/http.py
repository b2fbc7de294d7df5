"""What the services' HTTP APIs share: the pool, the account SID path, /health, a service token."""

import hmac
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Path, Request, Security
from fastapi.security import APIKeyHeader
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from tally_contracts.envelope import ACCOUNT_SID_PATTERN

from tally_runtime.settings import ServiceSettings

SERVICE_TOKEN_HEADER = "X-Tally-Service-Token"  # noqa: S105 - a header name, not a secret
"""Where a caller of an internal API puts the shared service token (`TALLY_SERVICE_TOKEN`)."""


async def _database_pool(request: Request) -> asyncpg.Pool:
    # `async`, like every dependency here: FastAPI runs a plain `def` in a worker thread.
    pool: asyncpg.Pool = request.app.state.pool
    return pool


DatabasePool = Annotated[asyncpg.Pool, Depends(_database_pool)]
"""The service's pool, which its composition root puts on `app.state.pool` at start-up."""

_service_token = APIKeyHeader(
    name=SERVICE_TOKEN_HEADER,
    scheme_name="ServiceToken",
    description="the shared service token; only Tally's own services call internal APIs",
    auto_error=False,
)


async def internal_caller(
    request: Request, presented: Annotated[str | None, Security(_service_token)]
) -> None:
    """Let a request through only with the service token: add it to each internal router.

    The composition root puts its settings on `app.state.settings`; without them nobody
    gets in (the error is a 500, logged), never everybody.
    """
    settings: ServiceSettings = request.app.state.settings
    expected = settings.service_token.get_secret_value().encode()
    if presented is None or not hmac.compare_digest(presented.encode(), expected):
        raise HTTPException(
            401, "Invalid or missing service token", {"WWW-Authenticate": SERVICE_TOKEN_HEADER}
        )


AccountSidPath = Annotated[
    str, Path(pattern=ACCOUNT_SID_PATTERN.pattern, description="`AC` + 32 lowercase hex digits")
]


class Health(BaseModel):
    status: str = "ok"


health_router = APIRouter()


@health_router.get("/health")
async def health() -> Health:
    """Answers once the service has started: database migrated, consumers running."""
    return Health()
