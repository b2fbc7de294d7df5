"""Usage: accept a producer's events over HTTP, and tell it what became of them."""

from fastapi import APIRouter, status

from tally_gateway import handlers, usage_reads
from tally_gateway.api.openapi import IDEMPOTENT_RETRIES, problems
from tally_gateway.dependencies import (
    OwnAccountSid,
    Publisher,
    RequestClock,
    UsageBody,
    UsageService,
)
from tally_gateway.domain import MAX_EVENTS_PER_REQUEST
from tally_gateway.idempotency import AccountIdempotency
from tally_gateway.schemas import UsageAccepted, UsageBatch, UsageRejection
from tally_gateway.schemas_usage import MAX_RECEIPT_ID_CHARS, Receipts, ReceiptsRequest

router = APIRouter(prefix="/v1", tags=["usage"])


@router.post(
    "/Accounts/{sid}/Usage",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[AccountIdempotency],
    responses=problems(401, 404, 409, 413, 415, 422, 503),
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
event ids make the retry safe (with or without an `Idempotency-Key`)."""
    + IDEMPOTENT_RETRIES,
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


@router.post(
    "/Accounts/{sid}/Usage/Receipts",
    response_model_exclude_none=True,
    responses=problems(401, 404, 413, 422, 503),
    description=f"""What became of each of 1 to {MAX_EVENTS_PER_REQUEST} event ids of the
account, one receipt per id asked, in the order asked (an id asked twice gets two receipts).

- `recorded`: stored once and counted once. `duplicates` counts repeats of the same payload,
  which were ignored; `conflicts` counts repeats with another payload under the same id, which
  were refused and never applied (the first payload is the one that counts).
- `rejected`: the event broke the usage contract and was never stored; `field` and `reason`
  name the first rule it broke (the latest copy's, if it was sent more than once).
- `unknown`: nothing is stored under this id yet. Events accepted with a `202` moments ago, and
  events of an account whose details the usage service has not received yet (they wait for
  them, and are recorded then), are `unknown` until they are stored: ask again later.

More than {MAX_EVENTS_PER_REQUEST} ids, or an id longer than {MAX_RECEIPT_ID_CHARS}
characters, is a `422` naming `event_ids`; a body larger than the gateway reads is a `413`.""",
)
async def post_receipts(sid: OwnAccountSid, body: ReceiptsRequest, usage: UsageService) -> Receipts:
    """Receipts for the caller's event ids."""
    return await usage_reads.receipts(sid, body.event_ids, usage=usage)
