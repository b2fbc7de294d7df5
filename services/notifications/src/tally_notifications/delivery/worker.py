"""The delivery worker: a periodic job in every replica, safe to run at once in several.

Each run drains what is due, a batch at a time: claim (a short transaction that locks due
rows with SKIP LOCKED, applies the rate limit, counts the attempt and leases the rows to this
worker), ask accounts whether a prepaid-only kind may still go (`guard`), send outside any
transaction, then record every outcome in one transaction. A
delivery is marked delivered only by the worker holding its current attempt, so a repeat
changes nothing; docs/notifications.md names the window in which a message can go out twice.
"""

import asyncio
import contextlib
from datetime import timedelta

import asyncpg
import httpx
from tally_runtime.clock import Clock
from tally_runtime.periodic import Periodic

from tally_notifications.config import NotificationsSettings
from tally_notifications.delivery import handlers
from tally_notifications.delivery.accounts import AccountsApi
from tally_notifications.delivery.email import SmtpRelay
from tally_notifications.delivery.guard import cleared_to_send
from tally_notifications.delivery.policy import Backoff

MAX_BATCHES_PER_RUN = 50
"""Then the run ends and the next tick carries on, so one run never holds on for ever."""


def delivery_config(settings: NotificationsSettings) -> handlers.DeliveryConfig:
    """The worker's configuration from the service's settings."""
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return handlers.DeliveryConfig(
        relay=SmtpRelay(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            tls=settings.smtp_tls,
            username=settings.smtp_username,
            password=password,
            timeout_seconds=settings.smtp_timeout_seconds,
        ),
        cipher=settings.webhook_cipher(),
        backoff=Backoff(
            initial_seconds=settings.delivery_backoff_initial_seconds,
            max_seconds=settings.delivery_backoff_max_seconds,
            max_attempts=settings.delivery_max_attempts,
        ),
        batch_size=settings.delivery_batch_size,
        lease_seconds=settings.delivery_lease_seconds,
        notifications_per_hour=settings.notifications_per_hour,
        webhook_timeout_seconds=settings.webhook_timeout_seconds,
        accounts=AccountsApi(
            url=settings.accounts_url,
            service_token=settings.service_token.get_secret_value(),
            timeout_seconds=settings.accounts_timeout_seconds,
        ),
        private_webhooks_allowed=settings.private_webhooks_allowed,
    )


async def deliver_batch(pool: asyncpg.Pool, config: handlers.DeliveryConfig, clock: Clock) -> int:
    """Claim, send and record one batch; how many deliveries it claimed."""
    claimed = await handlers.claim_due(pool, config, clock)
    if not claimed:
        return 0
    sendable = await cleared_to_send(pool, claimed, config.accounts, clock)
    webhook_accounts = [d.account_sid for d in sendable if d.channel == "webhook"]
    secrets: dict[str, str] = {}
    if webhook_accounts:
        async with pool.acquire() as conn:
            secrets = await handlers.webhook_secrets(conn, webhook_accounts, config.cipher)
    # Each send is bounded by its own timeouts; this one bounds the whole attempt, well
    # inside the lease, so no other worker takes a delivery over while it is being sent.
    timeout = max(config.relay.timeout_seconds, config.webhook_timeout_seconds) * 3
    async with contextlib.AsyncExitStack() as stack:
        http = None
        if webhook_accounts:
            http = await stack.enter_async_context(
                httpx.AsyncClient(timeout=config.webhook_timeout_seconds, follow_redirects=False)
            )
        senders = handlers.Senders(
            relay=config.relay,
            http=http,
            secrets=secrets,
            clock=clock,
            private_webhooks_allowed=config.private_webhooks_allowed,
        )
        attempts = await asyncio.gather(
            *(handlers.attempt(delivery, senders, timeout) for delivery in sendable)
        )
    await handlers.record(pool, attempts, config.backoff, clock)
    return len(claimed)


async def deliver_due(pool: asyncpg.Pool, config: handlers.DeliveryConfig, clock: Clock) -> int:
    """Deliver what is due now, batch after batch; how many deliveries were attempted."""
    total = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        claimed = await deliver_batch(pool, config, clock)
        total += claimed
        if claimed < config.batch_size:
            break
    return total


def delivery_job(settings: NotificationsSettings) -> Periodic:
    """The periodic job that sends due deliveries, every `delivery_poll_seconds`."""
    config = delivery_config(settings)

    async def run(pool: asyncpg.Pool, clock: Clock) -> int:
        return await deliver_due(pool, config, clock)

    return Periodic("deliveries", timedelta(seconds=settings.delivery_poll_seconds), run)
