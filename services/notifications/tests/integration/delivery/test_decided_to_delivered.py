"""From a balance crossing to the customer's inbox and webhook endpoint: the decision side and
delivery in one running service, on real Kafka, PostgreSQL, SMTP server and HTTP receiver."""

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from tally_contracts.accounts import AccountState, AccountStatus, BillingMode
from tally_contracts.balances import BalanceCrossed, BalanceCrossing
from tally_contracts.topics import ACCOUNT_STATE, BALANCE_ALERTS
from tally_notifications.app import create_app
from tally_notifications.config import NotificationsSettings
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_testkit import Publish, eventually, new_sid

from services.notifications.tests.integration.delivery.support import Mailbox, Receiver


@pytest.fixture
async def service(
    settings: NotificationsSettings, mailbox: Mailbox
) -> AsyncIterator[httpx.AsyncClient]:
    """The notifications service, deciding and delivering, its e-mail to the test's server."""
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
        yield client


def pay_as_you_go(sid: str, webhook_url: str) -> AccountState:
    # 23:30 in Chicago on 28 November is already the 29th in UTC
    return AccountState(
        event_id=f"account:{sid}:v1",
        occurred_at=datetime(2026, 11, 29, 5, 30, tzinfo=UTC),
        account_sid=sid,
        version=1,
        owner="delivery-test",
        friendly_name="Acme",
        time_zone="America/Chicago",
        status=AccountStatus.ACTIVE,
        billing_mode=BillingMode.PAY_AS_YOU_GO,
        contact_email="billing@acme.example",
        webhook_url=webhook_url,
    )


async def test_given_a_pay_as_you_go_account_whose_balance_falls_low_then_mail_and_webhook_arrive(
    service: httpx.AsyncClient, publish: Publish, mailbox: Mailbox, receiver: Receiver
) -> None:
    # given a pay-as-you-go account in Chicago, with a contact address and a webhook
    sid = new_sid()
    await publish(ACCOUNT_STATE, pay_as_you_go(sid, receiver.url))

    # when its balance falls below the threshold late on 28 November, Chicago time
    await publish(
        BALANCE_ALERTS,
        BalanceCrossed(
            event_id=f"crossing:{sid}:{uuid.uuid4().hex}",
            occurred_at=datetime(2026, 11, 29, 5, 30, tzinfo=UTC),
            account_sid=sid,
            crossing=BalanceCrossing.LOW,
            balance=Decimal("4.4"),
            threshold=Decimal("10.00"),
            auto_recharge=False,
        ),
    )

    # then one e-mail reaches the contact address, with the amounts and the local date
    [(recipients, message)] = await eventually(mailbox.arrived, lambda got: len(got) >= 1)
    assert recipients == ["billing@acme.example"]
    text = message.get_content()
    assert "4.40 USD" in text and "10.00 USD" in text
    assert "2026-11-28" in text
    assert "invoice" not in (message["Subject"] + text).lower()

    # and one webhook reaches the receiver, signed with the secret the account is shown
    [request] = await eventually(receiver.arrived, lambda got: len(got) >= 1)
    secret = (await service.get(f"/accounts/{sid}/webhook-secret")).json()["webhook_secret"]
    timestamp, _, digest = request.headers["tally-signature"].partition(",v1=")
    signed = f"{timestamp.removeprefix('t=')}.".encode() + request.body
    assert hmac.compare_digest(
        digest, hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    )
    document = json.loads(request.body)
    assert (document["kind"], document["account_sid"]) == ("recharge_reminder", sid)
    assert document["data"]["balance"] == "4.40"
