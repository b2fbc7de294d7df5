"""The account's webhook secret, which signs its webhooks (CONTRACTS.md §3, Notifications)."""

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tally_gateway.api.openapi import problems
from tally_gateway.dependencies import NotificationsService, OwnAccountSid

router = APIRouter(prefix="/v1", tags=["notifications"])


class WebhookSecretPublic(BaseModel):
    webhook_secret: str = Field(
        description="the key of `Tally-Signature`'s HMAC-SHA256; `whsec_` + 64 hex digits"
    )


@router.get(
    "/Accounts/{sid}/WebhookSecret",
    responses=problems(401, 404, 503),
    description="""The secret the account's webhooks are signed with. Every webhook POST to the
account's `webhook_url` carries `Tally-Signature: t=<unix>,v1=<hex>`, where `v1` is the
HMAC-SHA256, keyed by this secret, of the timestamp, a `.`, and the request body exactly as
received. To verify: compute it over the raw body, compare in constant time, and refuse a `t`
too far from your clock (five minutes, say) so a captured request cannot be replayed later.
Every attempt of one delivery carries the same `Tally-Delivery-Id` header: a receiver that has
seen it already can answer `200` and ignore the repeat (retries follow a failed or unanswered
attempt, with exponential backoff).

The secret is made the first time it is needed (this call, or the first webhook) and stays the
same afterwards; it is stored encrypted, never in the clear. Another account's SID is a
`404`.""",
)
async def get_webhook_secret(
    sid: OwnAccountSid, notifications: NotificationsService
) -> WebhookSecretPublic:
    """The account's webhook signing secret."""
    return await notifications.call(WebhookSecretPublic, "GET", f"/accounts/{sid}/webhook-secret")
