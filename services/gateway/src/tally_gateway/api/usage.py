"""Usage: accept a producer's events over HTTP."""

from fastapi import APIRouter, status

from tally_gateway import handlers
from tally_gateway.api.openapi import problems
from tally_gateway.dependencies import OwnAccountSid, Publisher, RequestClock, UsageBody
from tally_gateway.domain import MAX_EVENTS_PER_REQUEST
from tally_gateway.schemas import UsageAccepted, UsageBatch, UsageRejection

router = APIRouter(prefix="/v1", tags=["usage"])


@router.post(
    "/Accounts/{sid}/Usage",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(401, 404, 413, 415, 422, 503),
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
event ids make the retry safe.""",
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
