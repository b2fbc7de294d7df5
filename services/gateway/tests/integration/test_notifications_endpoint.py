"""`GET /v1/Accounts/{sid}/Notifications` through the gateway, from the real notifications
service, for accounts opened through the gateway (their state reaches notifications on
`accounts.state.v1`, as in production)."""

import base64
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from tally_contracts.balances import BalanceCrossed, BalanceCrossing
from tally_contracts.topics import BALANCE_ALERTS
from tally_testkit import Publish, eventually, new_sid

OPS_KEY = "integration-ops-key"  # the gateway fixture's


async def open_account(gateway: httpx.AsyncClient) -> dict[str, str]:
    """A new trial account's SID and `Authorization: Basic` header."""
    response = await gateway.post(
        "/v1/Accounts",
        json={
            "owner": "acme-corp",
            "friendly_name": "Acme",
            "time_zone": "America/Chicago",
            "contact_email": "billing@acme.example",
        },
        headers={"Authorization": f"Bearer {OPS_KEY}"},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    credentials = base64.b64encode(f"{created['sid']}:{created['auth_token']}".encode()).decode()
    return {"sid": created["sid"], "Authorization": f"Basic {credentials}"}


def low_balance(sid: str) -> BalanceCrossed:
    return BalanceCrossed(
        event_id=f"crossing:{sid}:{uuid.uuid4().hex}",
        occurred_at=datetime.now(UTC),
        account_sid=sid,
        crossing=BalanceCrossing.LOW,
        balance=Decimal("9.60"),
        threshold=Decimal("10.00"),
        auto_recharge=False,
    )


async def test_given_a_trial_account_whose_balance_fell_low_then_it_sees_the_reminder_sent(
    gateway_with_notifications: httpx.AsyncClient, publish: Publish
) -> None:
    gateway = gateway_with_notifications
    # given a trial account opened through the gateway
    account = await open_account(gateway)
    auth = {"Authorization": account["Authorization"]}
    # when its balance crosses the low threshold
    crossing = low_balance(account["sid"])
    await publish(BALANCE_ALERTS, crossing)

    # then its notifications show the recharge reminder, sent under the trial mode
    async def listed() -> list[dict[str, Any]]:
        response = await gateway.get(f"/v1/Accounts/{account['sid']}/Notifications", headers=auth)
        assert response.status_code == 200, response.text
        return list(response.json()["notifications"])

    found = await eventually(listed, lambda got: any(n["decision"] == "sent" for n in got))
    [notification] = found
    assert notification["kind"] == "recharge_reminder"
    assert notification["billing_mode"] == "trial"
    assert notification["channels"] == ["email"]  # no webhook URL was given
    assert notification["trigger_event_id"] == crossing.event_id
    assert set(notification) == {
        "notification_id",
        "kind",
        "decision",
        "reason",
        "billing_mode",
        "channels",
        "decided_at",
        "trigger_event_id",
    }


async def test_given_another_accounts_sid_then_404_and_nothing_of_it_is_shown(
    gateway_with_notifications: httpx.AsyncClient,
) -> None:
    gateway = gateway_with_notifications
    mine, theirs = await open_account(gateway), await open_account(gateway)
    for sid in (theirs["sid"], new_sid()):
        response = await gateway.get(
            f"/v1/Accounts/{sid}/Notifications",
            headers={"Authorization": mine["Authorization"]},
        )
        assert response.status_code == 404
        assert "notifications" not in response.json()


async def test_given_no_credentials_then_401(gateway_with_notifications: httpx.AsyncClient) -> None:
    response = await gateway_with_notifications.get(f"/v1/Accounts/{new_sid()}/Notifications")
    assert response.status_code == 401
