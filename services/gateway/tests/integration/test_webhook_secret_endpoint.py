"""`GET /v1/Accounts/{sid}/WebhookSecret` through the gateway, from the real notifications
service (served over HTTP like the others), for accounts opened through the gateway."""

import base64
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.types import ASGIApp
from tally_contracts.topics import ALL_TOPICS
from tally_gateway.config import Settings as GatewaySettings
from tally_notifications.app import create_app as create_notifications_app
from tally_notifications.config import NotificationsSettings
from tally_testkit import NewDatabase, commit_groups_at_end

OPS_KEY = "integration-ops-key"  # the gateway fixture's
SERVICE_TOKEN = "integration-service-token"
WEBHOOK_SECRET_KEYS = "RhuNHUtsWaRBrbk56PYuViKf1g-9sHdPlrvcOlPCVyk="  # a Fernet key, tests only


@pytest.fixture(scope="module")
async def notifications_url(
    kafka_bootstrap: str,
    new_database: NewDatabase,
    serve: Callable[[ASGIApp], AbstractAsyncContextManager[str]],
) -> AsyncIterator[str]:
    """Base URL of a running notifications service."""
    settings = NotificationsSettings(
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=await new_database("notifications"),
        consumer_group=f"test-gateway-notifications-{uuid.uuid4().hex[:8]}",
        service_token=SecretStr(SERVICE_TOKEN),
        webhook_secret_keys=SecretStr(WEBHOOK_SECRET_KEYS),
    )
    await commit_groups_at_end(
        kafka_bootstrap, [settings.consumer_group], [t.name for t in ALL_TOPICS]
    )
    async with serve(create_notifications_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
async def gateway_with_notifications(
    gateway_settings: GatewaySettings,
    notifications_url: str,
    start_gateway: Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]],
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a gateway that talks to the accounts and notifications services."""
    async with start_gateway(
        gateway_settings.model_copy(update={"notifications_url": notifications_url})
    ) as client:
        yield client


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
