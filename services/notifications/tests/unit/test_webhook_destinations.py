"""Webhooks never go into Tally's own network outside development and test (SSRF).

An account picks its `webhook_url`; a URL whose host is, or resolves to, a loopback, private
or link-local address is refused before anything is sent, and the delivery fails for good
with the reason in its log.
"""

from datetime import UTC, datetime

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from tally_notifications.config import NotificationsSettings
from tally_notifications.delivery.destinations import DestinationRefused, require_public
from tally_notifications.delivery.email import SmtpRelay
from tally_notifications.delivery.handlers import Senders, attempt
from tally_notifications.delivery.policy import Delivery


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8101/internal/accounts",  # another service's internal API
        "http://localhost:5432/",  # a name that resolves to loopback
        "http://10.0.3.7/hook",
        "http://192.168.1.20/hook",
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata endpoint
        "http://[::1]:8080/hook",
        "http://[fd00::5]/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_given_a_non_public_host_then_the_destination_is_refused(url: str) -> None:
    with pytest.raises(DestinationRefused, match="not a public address"):
        await require_public(url)


async def test_given_a_public_address_then_the_destination_is_allowed() -> None:
    await require_public("https://93.184.215.14/hooks/tally")  # a literal: no DNS asked


def settings(environment: str, **overrides: object) -> NotificationsSettings:
    return NotificationsSettings(
        environment=environment,
        webhook_secret_keys=SecretStr(Fernet.generate_key().decode()),
        service_token=SecretStr("a-real-service-token-of-enough-length-0123456789"),
        **overrides,
    )


def test_given_the_environment_then_private_addresses_are_allowed_only_in_dev_and_test() -> None:
    assert settings("development").private_webhooks_allowed
    assert settings("test").private_webhooks_allowed
    assert not settings("production").private_webhooks_allowed
    assert not settings("test", webhook_private_addresses=False).private_webhooks_allowed


async def test_given_production_when_a_webhook_points_at_loopback_then_it_fails_for_good() -> None:
    # Given a webhook delivery to a loopback address, and a receiver that would answer 200
    delivery = Delivery(
        delivery_id="DL1",
        decision_id="DC1",
        account_sid="AC" + "0" * 32,
        channel="webhook",
        recipient="http://127.0.0.1:8101/internal/accounts",
        kind="invoice_issued",
        subject="Your invoice",
        body={},
        attempts=1,
        created_at=datetime(2026, 11, 29, tzinfo=UTC),
    )
    posted: list[httpx.Request] = []
    receiver = httpx.MockTransport(lambda request: posted.append(request) or httpx.Response(200))
    async with httpx.AsyncClient(transport=receiver) as http:
        senders = Senders(
            relay=SmtpRelay(host="127.0.0.1", port=25, sender="t@tally.localhost"),
            http=http,
            secrets={delivery.account_sid: "secret"},
            clock=lambda: datetime(2026, 11, 29, tzinfo=UTC),
            private_webhooks_allowed=False,
        )

        # When it is attempted
        outcome = await attempt(delivery, senders, within_seconds=5)

    # Then nothing was posted, and it failed for good, saying why
    assert posted == []
    assert outcome.permanent
    assert outcome.error is not None and "127.0.0.1 is not a public address" in outcome.error
