"""What every service's HTTP API shares: its database pool, the account SID path, /health."""

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel
from tally_contracts.envelope import ACCOUNT_SID_PATTERN


def _database_pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


DatabasePool = Annotated[asyncpg.Pool, Depends(_database_pool)]
"""The service's pool, which its composition root puts on `app.state.pool` at start-up."""

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
