"""Delivery's pure rules: backoff, the rate limit's token bucket, the webhook signature."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from tally_notifications.config import NotificationsSettings
from tally_notifications.delivery.policy import (
    Backoff,
    Bucket,
    Delivery,
    admit,
    full_bucket,
    signature,
    webhook_body,
)
from tally_notifications.delivery.secrets import (
    WebhookSecretCipher,
    WebhookSecretKeysInvalid,
    new_webhook_secret,
)
from tally_runtime.settings import PLACEHOLDER_SECRET

NOW = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)


def test_given_failed_attempts_then_each_wait_is_at_least_half_the_doubled_wait_and_capped() -> (
    None
):
    backoff = Backoff(initial_seconds=30, max_seconds=600, max_attempts=8)

    waits = [backoff.wait_after(attempt) for attempt in range(1, 9) for _ in range(20)]

    for index, wait in enumerate(waits):
        attempt = index // 20 + 1
        floor = min(15 * 2 ** (attempt - 1), 300)
        assert timedelta(seconds=floor) <= wait <= timedelta(seconds=2 * floor)
    assert len({backoff.wait_after(3) for _ in range(10)}) > 1, "jittered, not fixed"


def test_given_the_last_attempt_failed_then_it_gives_up() -> None:
    backoff = Backoff(initial_seconds=1, max_seconds=10, max_attempts=3)

    assert not backoff.gives_up_after(2)
    assert backoff.gives_up_after(3)


def test_given_a_full_bucket_when_more_are_wanted_than_it_holds_then_the_excess_waits() -> None:
    admission = admit(full_bucket(3, NOW), wanted=5, now=NOW, per_hour=3)

    assert admission.admitted == 3
    assert admission.retry_at == NOW + timedelta(minutes=20), "one token comes every 20 minutes"
    assert admission.bucket == Bucket(0.0, NOW)


def test_given_an_empty_bucket_then_it_refills_with_time_up_to_its_size() -> None:
    empty = Bucket(0.0, NOW)

    assert admit(empty, 5, NOW + timedelta(minutes=40), per_hour=3).admitted == 2
    assert admit(empty, 5, NOW + timedelta(days=2), per_hour=3).admitted == 3
    assert admit(empty, 1, NOW + timedelta(minutes=10), per_hour=3).admitted == 0


def test_given_all_admitted_then_nothing_waits() -> None:
    admission = admit(full_bucket(20, NOW), wanted=2, now=NOW, per_hour=20)

    assert admission.admitted == 2 and admission.retry_at is None


def test_the_signature_is_an_hmac_of_the_timestamp_and_the_body_as_contracts_say() -> None:
    body = b'{"kind":"recharge_reminder"}'

    header = signature("whsec_abc", body, NOW)

    timestamp = int(NOW.timestamp())
    expected = hmac.new(b"whsec_abc", f"{timestamp}.".encode() + body, hashlib.sha256)
    assert header == f"t={timestamp},v1={expected.hexdigest()}"


def test_the_webhook_body_names_the_delivery_kind_account_and_variables() -> None:
    delivery = Delivery(
        delivery_id="DL1",
        decision_id="DN1",
        account_sid="AC" + "0" * 32,
        channel="webhook",
        recipient="https://example.test/hook",
        kind="recharge_reminder",
        subject="low",
        body={"balance": "4.20", "currency": "USD"},
        attempts=1,
        created_at=NOW,
    )

    document = json.loads(webhook_body(delivery))

    assert document["delivery_id"] == "DL1"
    assert document["kind"] == "recharge_reminder"
    assert document["data"] == {"balance": "4.20", "currency": "USD"}


def test_a_webhook_secret_sealed_is_opened_by_the_same_keys_and_not_kept_in_clear() -> None:
    cipher = WebhookSecretCipher(PLACEHOLDER_SECRET, environment="development")
    secret = new_webhook_secret()

    sealed = cipher.seal(secret)

    assert secret.encode() not in sealed
    assert cipher.open(sealed) == secret
    assert secret.startswith("whsec_") and len(secret) == 6 + 64


def test_given_the_placeholder_key_outside_development_then_settings_are_refused() -> None:
    # (the shared settings refuse every placeholder secret first; the cipher would too)
    with pytest.raises((ValueError, WebhookSecretKeysInvalid), match="placeholder"):
        NotificationsSettings(environment="test", service_token="a-real-token")


def test_given_a_key_that_is_not_a_fernet_key_then_it_is_named_by_position_only() -> None:
    with pytest.raises(WebhookSecretKeysInvalid, match="key 2") as refused:
        WebhookSecretCipher(
            "Z2F0ZXdheS10ZXN0cy1jcmVkaXQtY2hlY2sta2V5ISE=,not-a-key", environment="test"
        )
    assert "not-a-key" not in str(refused.value)
