"""What the services' HTTP APIs share: the pool, the account SID path, /health, exact JSON."""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from tally_contracts.envelope import ACCOUNT_SID_PATTERN
from tally_contracts.usage import read_json


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


class _ExactNumbersRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = read_json(await self.body())
        return self._json


class ExactNumbersRoute(APIRoute):
    """A route whose JSON body keeps numbers exact: `1.0000001` arrives as a Decimal, not a float.

    Usage quantities may be JSON numbers; a float would round away the digits the contract
    rules on (at most 6 decimal places) before anything could check them.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_exactly(request: Request) -> Response:
            return await handle(_ExactNumbersRequest(request.scope, request.receive))

        return handle_exactly
