"""Delivery's internal HTTP API: an account's webhook secret, for the gateway to show."""

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from tally_runtime.http import AccountSidPath, DatabasePool, internal_caller

from tally_notifications.config import NotificationsSettings
from tally_notifications.delivery.handlers import webhook_secrets

router = APIRouter(dependencies=[Depends(internal_caller)])  # Tally's services only


class WebhookSecretPublic(BaseModel):
    webhook_secret: str = Field(
        description="the key of the account's `Tally-Signature` HMAC; made on first need"
    )


@router.get("/accounts/{sid}/webhook-secret")
async def get_webhook_secret(
    sid: AccountSidPath, pool: DatabasePool, request: Request
) -> WebhookSecretPublic:
    """The account's webhook secret, made now if it has none yet; the same on every call."""
    settings: NotificationsSettings = request.app.state.settings
    async with pool.acquire() as conn:
        secrets = await webhook_secrets(conn, [sid], settings.webhook_cipher())
    return WebhookSecretPublic(webhook_secret=secrets[sid])
