"""`GET /v1/Accounts/{sid}/WebhookSecret` through the gateway, from the real notifications
service (served over HTTP like the others), for accounts opened through the gateway."""

import base64
from typing import Any

import httpx

OPS_KEY = "integration-ops-key"  # the gateway fixture's


async def open_account(gateway: httpx.AsyncClient) -> dict[str, str]:
    """A new account's `Authorization: Basic` header and SID."""
    response = await gateway.post(
        "/v1/Accounts",
        json={
            "owner": "acme-corp",
            "friendly_name": "Acme",
            "time_zone": "America/Chicago",
            "contact_email": "billing@acme.example",
            "webhook_url": "https://hooks.acme.example/tally",
        },
        headers={"Authorization": f"Bearer {OPS_KEY}"},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    credentials = base64.b64encode(f"{created['sid']}:{created['auth_token']}".encode()).decode()
    return {"sid": created["sid"], "Authorization": f"Basic {credentials}"}


async def test_given_an_account_then_it_is_shown_the_same_webhook_secret_every_time(
    gateway_with_notifications: httpx.AsyncClient,
) -> None:
    # given an account opened through the gateway
    account = await open_account(gateway_with_notifications)
    auth = {"Authorization": account["Authorization"]}
    path = f"/v1/Accounts/{account['sid']}/WebhookSecret"

    # when it asks for its webhook secret twice
    first = await gateway_with_notifications.get(path, headers=auth)
    again = await gateway_with_notifications.get(path, headers=auth)

    # then it gets one, the same both times
    assert first.status_code == 200, first.text
    assert set(first.json()) == {"webhook_secret"}
    assert first.json()["webhook_secret"].startswith("whsec_")
    assert again.json() == first.json()


async def test_given_another_accounts_sid_then_its_secret_is_not_found(
    gateway_with_notifications: httpx.AsyncClient,
) -> None:
    # given two accounts
    mine = await open_account(gateway_with_notifications)
    theirs = await open_account(gateway_with_notifications)

    # when one asks for the other's secret, and a stranger asks without credentials
    response = await gateway_with_notifications.get(
        f"/v1/Accounts/{theirs['sid']}/WebhookSecret",
        headers={"Authorization": mine["Authorization"]},
    )
    anonymous = await gateway_with_notifications.get(f"/v1/Accounts/{mine['sid']}/WebhookSecret")

    # then it is a 404, as for an account that does not exist, and the stranger a 401
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "webhook_secret" not in response.text
    assert anonymous.status_code == 401
