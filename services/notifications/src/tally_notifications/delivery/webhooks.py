"""Webhooks: a signed JSON POST to the account's `webhook_url` (the delivery's recipient)."""

import httpx
from tally_runtime.clock import Clock

from tally_notifications.delivery.policy import (
    DELIVERY_ID_HEADER,
    SIGNATURE_HEADER,
    Delivery,
    signature,
    webhook_body,
)


class WebhookRefused(Exception):
    """The receiver answered, but not with a 2xx."""


async def post_webhook(
    client: httpx.AsyncClient, delivery: Delivery, secret: str, clock: Clock
) -> None:
    """POST the delivery to its URL, signed with `secret`; raises unless the answer is 2xx.

    Redirects are not followed: a receiver that moved says so by failing until its URL is
    updated, rather than having signed payloads sent wherever a 3xx points.
    """
    body = webhook_body(delivery)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret, body, clock()),
        DELIVERY_ID_HEADER: delivery.delivery_id,
        "User-Agent": "Tally-Webhooks/1",
    }
    response = await client.post(delivery.recipient, content=body, headers=headers)
    if not response.is_success:
        raise WebhookRefused(f"{delivery.recipient} answered {response.status_code}")
