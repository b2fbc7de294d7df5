"""Every notification decision about the account (CONTRACTS.md §3, Notifications)."""

from fastapi import APIRouter

from tally_gateway.api.openapi import problems
from tally_gateway.dependencies import NotificationsService, OwnAccountSid
from tally_gateway.schemas_notifications import NotificationsPublic

router = APIRouter(prefix="/v1", tags=["notifications"])


@router.get(
    "/Accounts/{sid}/Notifications",
    responses=problems(401, 404, 503),
    description="""Every decision about a notification for this account, newest first (the
latest 100): `sent`, `suppressed` (with the rule in `reason`, e.g. a recharge reminder held back
because the account is invoiced), `deferred` (the account's newest billing mode could not be
proven yet; it is decided again shortly and then shows its final decision) or `failed`.

A `sent` decision becomes `failed` when delivery finally gives up on it. `billing_mode` is the
account's mode when the decision was taken, not when its trigger happened; it is `null` while a
decision is deferred on a state not known yet. `notification_id` is derived from the triggering
event, so the same trigger never yields two notifications.""",
)
async def list_notifications(
    sid: OwnAccountSid, notifications: NotificationsService
) -> NotificationsPublic:
    """The account's notification decisions, newest first."""
    return await notifications.call(NotificationsPublic, "GET", f"/accounts/{sid}/notifications")
