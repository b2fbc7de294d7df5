"""Opening an account survives a failure between the gateway and accounts: a retry with the same
Idempotency-Key finishes that same account, and its token signs in.

The gateway under test reaches accounts through a proxy that can lose an answer: the accounts
service has opened the account, but the gateway is told of a failure.
"""

import base64
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp
from tally_gateway.config import Settings as GatewaySettings
from tally_testkit import NewDatabase

OPS = {"Authorization": "Bearer integration-ops-key"}  # the gateway fixture's ops key
NEW_ACCOUNT = {
    "owner": "acme-corp",
    "friendly_name": "Acme",
    "time_zone": "America/Chicago",
    "contact_email": "billing@acme.example",
}


class LosingAnswers:
    """Forwards to the accounts service; the answers of the next `losses` openings are lost."""

    def __init__(self, accounts_url: str) -> None:
        self.losses = 0
        self.lost_sids: list[str] = []
        """The SIDs accounts opened while the gateway was told of a failure (502)."""
        self.http = httpx.AsyncClient(base_url=accounts_url)
        self.app = Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "POST"])])

    async def _forward(self, request: Request) -> Response:
        service_token = {k: v for k, v in request.headers.items() if k == "x-tally-service-token"}
        answer = await self.http.request(
            request.method,
            request.url.path,
            content=await request.body(),
            headers=service_token | {"content-type": "application/json"},
        )
        if request.method == "POST" and self.losses:
            self.losses -= 1
            self.lost_sids.append(answer.json()["sid"])
            return Response(status_code=502)
        return Response(answer.content, answer.status_code, media_type="application/json")


class MovableClock:
    """The wall clock, moved on by `ahead`."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@pytest.fixture(scope="module")
def proxy(accounts_url: str) -> LosingAnswers:
    return LosingAnswers(accounts_url)


@pytest.fixture(scope="module")
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(scope="module")
async def gateway_via_proxy(
    gateway_settings: GatewaySettings,
    new_database: NewDatabase,
    proxy: LosingAnswers,
    clock: MovableClock,
    serve: Callable[[ASGIApp], AbstractAsyncContextManager[str]],
    start_gateway: Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]],
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway with a database and a clock of its own, reaching accounts through the proxy."""
    async with proxy.http, serve(proxy.app) as proxy_url:
        settings = gateway_settings.model_copy(
            update={"accounts_url": proxy_url, "database_url": await new_database("gateway")}
        )
        async with start_gateway(settings, clock) as client:
            yield client


def basic(account: dict[str, Any]) -> dict[str, str]:
    pair = f"{account['sid']}:{account['auth_token']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


async def test_given_a_lost_answer_when_retried_with_its_key_then_the_same_account_signs_in(
    gateway_via_proxy: httpx.AsyncClient, proxy: LosingAnswers
) -> None:
    gateway, key = gateway_via_proxy, {"Idempotency-Key": "open-acme-after-a-lost-answer"}
    proxy.losses = 1
    failed = await gateway.post("/v1/Accounts", json=NEW_ACCOUNT, headers=OPS | key)
    assert failed.status_code == 503, failed.text
    assert failed.headers["content-type"] == "application/problem+json"
    opened_meanwhile = proxy.lost_sids[-1]

    retried = await gateway.post("/v1/Accounts", json=NEW_ACCOUNT, headers=OPS | key)

    assert retried.status_code == 201, retried.text
    account = retried.json()
    assert account["sid"] == opened_meanwhile
    read = await gateway.get(f"/v1/Accounts/{account['sid']}", headers=basic(account))
    assert read.status_code == 200
    assert read.json()["sid"] == opened_meanwhile
    # And once more: the very same answer, token included.
    again = await gateway.post("/v1/Accounts", json=NEW_ACCOUNT, headers=OPS | key)
    assert (again.status_code, again.json()) == (201, account)


async def test_given_no_key_and_a_lost_answer_then_the_problem_names_a_key_that_finishes_it(
    gateway_via_proxy: httpx.AsyncClient, proxy: LosingAnswers
) -> None:
    proxy.losses = 1
    failed = await gateway_via_proxy.post("/v1/Accounts", json=NEW_ACCOUNT, headers=OPS)
    assert failed.status_code == 503, failed.text
    named = re.search(r"`Idempotency-Key: ([^`]+)`", failed.json()["detail"])
    assert named, failed.json()["detail"]

    retried = await gateway_via_proxy.post(
        "/v1/Accounts", json=NEW_ACCOUNT, headers=OPS | {"Idempotency-Key": named[1]}
    )

    assert retried.status_code == 201, retried.text
    assert retried.json()["sid"] == proxy.lost_sids[-1]
    read = await gateway_via_proxy.get(
        f"/v1/Accounts/{retried.json()['sid']}", headers=basic(retried.json())
    )
    assert read.status_code == 200


async def test_given_a_key_used_then_another_body_with_it_is_a_409_and_changes_nothing(
    gateway_via_proxy: httpx.AsyncClient,
) -> None:
    key = {"Idempotency-Key": "open-acme-once"}
    first = await gateway_via_proxy.post("/v1/Accounts", json=NEW_ACCOUNT, headers=OPS | key)
    assert first.status_code == 201, first.text

    other = NEW_ACCOUNT | {"friendly_name": "Acme EU"}
    conflict = await gateway_via_proxy.post("/v1/Accounts", json=other, headers=OPS | key)

    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    assert conflict.json()["title"] == "Idempotency-Key already used"
    same = await gateway_via_proxy.post("/v1/Accounts", json=NEW_ACCOUNT, headers=OPS | key)
    assert same.json() == first.json()


async def test_given_a_key_older_than_a_day_then_its_retry_is_a_409_and_the_token_still_works(
    gateway_via_proxy: httpx.AsyncClient, clock: MovableClock
) -> None:
    key = {"Idempotency-Key": "open-acme-long-ago"}
    first = await gateway_via_proxy.post("/v1/Accounts", json=NEW_ACCOUNT, headers=OPS | key)
    assert first.status_code == 201, first.text

    clock.ahead = timedelta(hours=25)
    try:
        late = await gateway_via_proxy.post("/v1/Accounts", json=NEW_ACCOUNT, headers=OPS | key)
    finally:
        clock.ahead = timedelta(0)

    assert late.status_code == 409
    assert late.json()["title"] == "Idempotency-Key expired"
    account = first.json()
    read = await gateway_via_proxy.get(f"/v1/Accounts/{account['sid']}", headers=basic(account))
    assert read.status_code == 200


async def test_given_an_idempotency_key_over_255_characters_then_a_422_names_it(
    gateway_via_proxy: httpx.AsyncClient,
) -> None:
    key = {"Idempotency-Key": "k" * 256}
    response = await gateway_via_proxy.post("/v1/Accounts", json=NEW_ACCOUNT, headers=OPS | key)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["Idempotency-Key"]
