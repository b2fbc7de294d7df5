"""Ops on usage (ops key): take the usage snapshots due at an instant, now."""

from fastapi import APIRouter, Depends

from tally_gateway import usage_reads
from tally_gateway.api.openapi import IDEMPOTENT_RETRIES, problems
from tally_gateway.dependencies import UsageService, ops_caller
from tally_gateway.idempotency import OpsIdempotency
from tally_gateway.schemas_usage import UsageSnapshotsRun, UsageSnapshotsTaken

router = APIRouter(prefix="/v1", tags=["ops"], dependencies=[Depends(ops_caller)])


@router.post(
    "/Ops/UsageSnapshots",
    dependencies=[OpsIdempotency],
    responses=problems(401, 409, 422, 503),
    description="""For every account, the usage snapshot of the local month holding the day
before `as_of`'s local date, through that day: what the billing page shows. The service takes
these by itself shortly after each account's local midnight; this takes them now, for any
instant (a past one to fill a gap, say).

Exactly one snapshot per account and day, however often or concurrently it is asked:
`snapshots` counts those this request took, so asking again for the same `as_of` answers
`0`."""
    + IDEMPOTENT_RETRIES,
)
async def take_usage_snapshots(body: UsageSnapshotsRun, usage: UsageService) -> UsageSnapshotsTaken:
    """Take every account's usage snapshot due at `as_of` (ops key)."""
    return await usage_reads.take_snapshots(body.as_of, usage=usage)
