"""Delivery's use cases: claim what is due, send it, record how each attempt ended."""

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import asyncpg
import httpx
from tally_runtime.clock import Clock
from tally_runtime.database import Connection

from tally_notifications.delivery import repository
from tally_notifications.delivery.accounts import AccountsApi
from tally_notifications.delivery.destinations import DestinationRefused, require_public
from tally_notifications.delivery.email import SmtpRelay, message_of, send_email
from tally_notifications.delivery.policy import Backoff, Delivery, admit, full_bucket
from tally_notifications.delivery.secrets import WebhookSecretCipher, new_webhook_secret
from tally_notifications.delivery.templates import TemplateFailed
from tally_notifications.delivery.webhooks import post_webhook


class PermanentFailure(Exception):
    """A delivery no retry can send (no recipient, no template for its kind)."""


@dataclass(frozen=True)
class DeliveryConfig:
    """Everything the worker needs besides the pool and the clock."""

    relay: SmtpRelay
    cipher: WebhookSecretCipher
    backoff: Backoff
    batch_size: int
    lease_seconds: float
    notifications_per_hour: int
    webhook_timeout_seconds: float
    accounts: AccountsApi
    private_webhooks_allowed: bool
    """Webhooks may go to loopback and private addresses (development and test only)."""


async def webhook_secrets(
    conn: Connection, accounts: Sequence[str], cipher: WebhookSecretCipher
) -> dict[str, str]:
    """Each account's webhook secret, made (and stored sealed) on first need."""
    sealed = await repository.fetch_webhook_secrets(conn, accounts)
    missing = [account for account in set(accounts) if account not in sealed]
    if missing:
        await repository.insert_webhook_secrets(
            conn, {account: cipher.seal(new_webhook_secret()) for account in missing}
        )
        sealed = await repository.fetch_webhook_secrets(conn, accounts)
    return {account: cipher.open(token) for account, token in sealed.items()}


async def claim_due(pool: asyncpg.Pool, config: DeliveryConfig, clock: Clock) -> list[Delivery]:
    """Claim a batch of due deliveries the rate limit admits; the rest of it waits its turn.

    One short transaction: lock due rows (SKIP LOCKED), lock their accounts' buckets, count
    an attempt for the admitted ones and lease them to this worker, postpone the others.
    """
    async with pool.acquire() as conn, conn.transaction():
        now = clock()
        due = await repository.lock_due(conn, now, config.batch_size)
        if not due:
            return []
        by_key: dict[tuple[str, str], list[Delivery]] = defaultdict(list)
        for delivery in due:
            by_key[(delivery.account_sid, delivery.channel)].append(delivery)
        full = full_bucket(config.notifications_per_hour, now)
        buckets = await repository.lock_buckets(conn, list(by_key), full)
        claimed: list[Delivery] = []
        postponed: dict[str, datetime] = {}
        for key, deliveries in by_key.items():
            admission = admit(buckets[key], len(deliveries), now, config.notifications_per_hour)
            buckets[key] = admission.bucket
            claimed += deliveries[: admission.admitted]
            if admission.retry_at is not None:
                waiting = deliveries[admission.admitted :]
                postponed |= dict.fromkeys((d.delivery_id for d in waiting), admission.retry_at)
        await repository.save_buckets(conn, buckets)
        lease_until = now + timedelta(seconds=config.lease_seconds)
        await repository.claim(conn, [d.delivery_id for d in claimed], lease_until)
        if postponed:
            await repository.postpone(conn, postponed)
    return [replace(delivery, attempts=delivery.attempts + 1) for delivery in claimed]


@dataclass(frozen=True)
class Senders:
    """What sending a batch needs: the relay, a webhook client, the accounts' secrets, a clock."""

    relay: SmtpRelay
    http: httpx.AsyncClient | None
    secrets: dict[str, str]
    clock: Clock
    private_webhooks_allowed: bool = False


async def send(delivery: Delivery, senders: Senders) -> None:
    """Send one delivery by its channel; raises what made it fail."""
    if not delivery.recipient:
        raise PermanentFailure(f"no {delivery.channel} recipient")
    if delivery.channel == "email":
        await send_email(senders.relay, message_of(delivery, senders.relay.sender))
    elif delivery.channel == "webhook":
        assert senders.http is not None, "a batch with webhooks gets a client"
        if not senders.private_webhooks_allowed:
            await require_public(delivery.recipient)
        secret = senders.secrets[delivery.account_sid]
        await post_webhook(senders.http, delivery, secret, senders.clock)
    else:
        raise PermanentFailure(f"unknown channel {delivery.channel!r}")


@dataclass(frozen=True)
class Attempt:
    """How sending one claimed delivery ended: `error` None for sent."""

    delivery: Delivery
    error: str | None = None
    permanent: bool = False


async def attempt(delivery: Delivery, senders: Senders, within_seconds: float) -> Attempt:
    """Send one delivery, giving up after `within_seconds`; a failure becomes the error."""
    try:
        async with asyncio.timeout(within_seconds):
            await send(delivery, senders)
    except (PermanentFailure, TemplateFailed, DestinationRefused) as error:
        return Attempt(delivery, str(error), permanent=True)
    except TimeoutError:
        return Attempt(delivery, f"no answer within {within_seconds:g} s")
    except Exception as error:
        described = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return Attempt(delivery, described)
    return Attempt(delivery)


async def record(
    pool: asyncpg.Pool, attempts: Sequence[Attempt], backoff: Backoff, clock: Clock
) -> None:
    """Mark sent deliveries delivered, schedule retries, fail the hopeless (and their decisions)."""
    now = clock()
    tries = {a.delivery.delivery_id: a.delivery.attempts for a in attempts}
    sent = {a.delivery.delivery_id: tries[a.delivery.delivery_id] for a in attempts if not a.error}
    retry_at: dict[str, datetime] = {}
    errors: dict[str, str] = {}
    final: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for a in attempts:
        if a.error is None:
            continue
        delivery = a.delivery
        errors[delivery.delivery_id] = a.error
        if a.permanent or backoff.gives_up_after(delivery.attempts):
            final[delivery.delivery_id] = a.error
            reasons[delivery.delivery_id] = (
                f"{delivery.channel} delivery to {delivery.recipient or 'nobody'} failed after"
                f" {delivery.attempts} attempt(s): {a.error}"
            )
        else:
            retry_at[delivery.delivery_id] = now + backoff.wait_after(delivery.attempts)
    async with pool.acquire() as conn, conn.transaction():
        if sent:
            await repository.mark_delivered(conn, sent, now)
        if retry_at:
            await repository.schedule_retries(conn, tries, retry_at, errors)
        if final:
            await repository.mark_failed(conn, tries, final, reasons)
