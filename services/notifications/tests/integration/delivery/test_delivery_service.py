"""Delivery inside the running notifications service: its periodic worker sends what the
decision side wrote, and its API shows each account the secret its webhooks are signed with."""

import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from tally_notifications.app import create_app
from tally_notifications.config import NotificationsSettings
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_testkit import eventually, new_sid

from services.notifications.tests.integration.delivery.support import (
    Mailbox,
    Receiver,
    add_delivery,
    delivery_row,
)


@dataclass
class Service:
    http: httpx.AsyncClient
    pool: asyncpg.Pool
    """The service's own pool: rows are written as the decision side writes them."""

    async def settled(self, delivery_id: str) -> asyncpg.Record:
        """The delivery's row once the worker has delivered or failed it."""
        return await eventually(
            lambda: delivery_row(self.pool, delivery_id), lambda row: row["status"] != "pending"
        )


@pytest.fixture
async def service(settings: NotificationsSettings, mailbox: Mailbox) -> AsyncIterator[Service]:
    """The notifications service, started, sending e-mail to the test's SMTP server."""
    app = create_app(
        settings.model_copy(update={"smtp_port": mailbox.port, "delivery_poll_seconds": 0.1})
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://notifications",
            headers={SERVICE_TOKEN_HEADER: settings.service_token.get_secret_value()},
        ) as client,
    ):
        yield Service(client, app.state.pool)


async def test_given_a_pending_email_then_the_smtp_server_receives_it_worded_for_the_account(
    service: Service, mailbox: Mailbox
) -> None:
    # given a recharge reminder decided for an account in Chicago, balance 4.20 USD
    pool = service.pool
    sid, _, delivery_id = await add_delivery(pool, channel="email", recipient="owner@acme.example")

    # when the service's worker picks it up
    row = await service.settled(delivery_id)

    # then the SMTP server received one e-mail, to the recipient, with amount and local date
    [(recipients, message)] = mailbox.received()
    assert recipients == ["owner@acme.example"]
    assert message["To"] == "owner@acme.example"
    assert message["Subject"] == "Your Tally balance is low: 4.20 USD"
    text = message.get_content()
    assert "Your prepaid balance is 4.20 USD as of 2026-11-28" in text
    assert "below your reminder threshold of 5.00 USD" in text
    assert "invoice" not in text.lower()
    assert sid in text
    assert (row["status"], row["attempts"]) == ("delivered", 1)
    assert row["delivered_at"] is not None


async def test_an_accounts_webhook_secret_is_made_once_and_signs_its_webhooks(
    service: Service, receiver: Receiver
) -> None:
    # given an account with a webhook to deliver
    pool = service.pool
    sid, _, delivery_id = await add_delivery(pool, channel="webhook", recipient=receiver.url)

    # when its secret is asked for, twice, and another account's too
    first = await service.http.get(f"/accounts/{sid}/webhook-secret")
    again = await service.http.get(f"/accounts/{sid}/webhook-secret")
    other = await service.http.get(f"/accounts/{new_sid()}/webhook-secret")

    # then the account always gets the same secret, and another account another one
    assert first.status_code == 200, first.text
    secret = first.json()["webhook_secret"]
    assert secret.startswith("whsec_")
    assert again.json() == {"webhook_secret": secret}
    assert other.json()["webhook_secret"] != secret
    # and it is stored sealed, not in the clear
    stored = await pool.fetchval(
        "SELECT sealed_secret FROM webhook_secrets WHERE account_sid = $1", sid
    )
    assert secret.encode() not in bytes(stored)

    # and the webhook the service sends verifies with it
    await service.settled(delivery_id)
    [request] = receiver.requests
    timestamp, _, digest = request.headers["tally-signature"].partition(",v1=")
    signed = f"{timestamp.removeprefix('t=')}.".encode() + request.body
    assert digest == hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


async def test_given_no_service_token_then_the_secret_is_refused(
    service: Service,
) -> None:
    response = await service.http.get(
        f"/accounts/{new_sid()}/webhook-secret", headers={SERVICE_TOKEN_HEADER: "wrong"}
    )

    assert response.status_code == 401
