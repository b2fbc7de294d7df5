"""Ops on parked records (ops key): list a service's parked records, replay one.

What `python -m tally_runtime.parked` does on a service's database, through the gateway: each
service serves its own parked records on its internal API (`tally_runtime.parked_api`).
"""

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from tally_runtime.parked_api import ParkedId, ParkedList, Replayed

from tally_gateway.api.openapi import problems
from tally_gateway.dependencies import ops_caller
from tally_gateway.upstream import ServiceClient

router = APIRouter(prefix="/v1", tags=["ops"], dependencies=[Depends(ops_caller)])


class ConsumingService(StrEnum):
    """The services whose consumers park records."""

    ACCOUNTS = "accounts"
    USAGE = "usage"
    INVOICING = "invoicing"
    NOTIFICATIONS = "notifications"


def _client(request: Request, service: ConsumingService) -> ServiceClient:
    services: dict[str, ServiceClient] = request.app.state.services
    return services[service.value]


@router.get(
    "/Ops/ParkedRecords/{service}",
    responses=problems(401, 422, 503),
    description="""The records `service`'s consumers parked after they failed every try (a
broken internal schema, a category without a price...), oldest first, replayed ones included:
where each came from, its error and its bytes as text. `waiting` counts those not replayed.""",
)
async def list_parked(
    service: ConsumingService,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ParkedList:
    """A service's parked records (ops key)."""
    client = _client(request, service)
    return await client.call(ParkedList, "GET", "/ops/parked", params={"limit": limit})


@router.post(
    "/Ops/ParkedRecords/{service}/{parked_id}/Replay",
    responses=problems(401, 404, 409, 422, 503),
    description="""Publish a parked record to its topic again, with its original key and bytes,
and mark it replayed: it goes through the service's ordinary path, which is safe to run twice.
Fix what made it fail first. A record replayed already is a `409`; an unknown id a `404`.""",
)
async def replay_parked(
    service: ConsumingService, parked_id: ParkedId, request: Request
) -> Replayed:
    """Replay one parked record (ops key)."""
    client = _client(request, service)
    return await client.call(Replayed, "POST", f"/ops/parked/{parked_id}/replay")
