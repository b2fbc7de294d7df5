"""Opening and reading accounts over the internal HTTP API; every change is published."""

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_testkit import new_sid

ReadKeyed = Callable[[str, int], Awaitable[list[dict[str, Any]]]]

NEW_ACCOUNT = {
    "owner": "acme-corp",
    "friendly_name": "Acme",
    "time_zone": "America/Chicago",
    "contact_email": "billing@acme.example",
}


async def test_given_a_valid_request_when_an_account_is_opened_then_it_is_an_active_trial_at_v1(
    accounts: httpx.AsyncClient,
) -> None:
    response = await accounts.post("/accounts", json=NEW_ACCOUNT | {"nonprofit_org": True})
    assert response.status_code == 201, response.text
    account = response.json()
    assert re.fullmatch(r"AC[0-9a-f]{32}", account["sid"])
    assert account | {"sid": "", "created_at": "", "updated_at": ""} == {
        "sid": "",
        "owner": "acme-corp",
        "friendly_name": "Acme",
        "time_zone": "America/Chicago",
        "status": "active",
        "billing_mode": "trial",
        "contact_email": "billing@acme.example",
        "webhook_url": None,
        "time_zones": [],
        "terms": None,
        "suspended_for_balance": False,
        "flex": False,
        "multi_account_invoicing": False,
        "reseller": False,
        "nonprofit_org": True,
        "version": 1,
        "created_at": "",
        "updated_at": "",
    }
    assert (await accounts.get(f"/accounts/{account['sid']}")).json() == account


async def test_given_a_new_account_then_its_state_v1_is_on_the_account_state_topic(
    accounts: httpx.AsyncClient, account_states: ReadKeyed
) -> None:
    account = (await accounts.post("/accounts", json=NEW_ACCOUNT)).json()
    [state] = await account_states(account["sid"], 1)
    assert state["event_id"] == f"account:{account['sid']}:v1"
    assert state["type"] == "account.state"
    assert (state["account_sid"], state["version"], state["billing_mode"], state["status"]) == (
        account["sid"],
        1,
        "trial",
        "active",
    )
    assert (state["owner"], state["time_zone"]) == ("acme-corp", "America/Chicago")


async def test_given_the_same_request_twice_then_two_accounts_each_with_its_own_v1_exist(
    accounts: httpx.AsyncClient, account_states: ReadKeyed
) -> None:
    first = (await accounts.post("/accounts", json=NEW_ACCOUNT)).json()
    second = (await accounts.post("/accounts", json=NEW_ACCOUNT)).json()
    assert first["sid"] != second["sid"]
    assert (await accounts.get(f"/accounts/{first['sid']}")).json() == first
    [first_state] = await account_states(first["sid"], 1)
    [second_state] = await account_states(second["sid"], 1)
    assert (first_state["version"], second_state["version"]) == (1, 1)


async def test_given_an_unknown_time_zone_then_a_problem_names_time_zone(
    accounts: httpx.AsyncClient,
) -> None:
    response = await accounts.post("/accounts", json=NEW_ACCOUNT | {"time_zone": "Mars/Olympus"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["time_zone"]


async def test_given_an_owner_of_129_characters_then_a_problem_names_owner(
    accounts: httpx.AsyncClient,
) -> None:
    response = await accounts.post("/accounts", json=NEW_ACCOUNT | {"owner": "x" * 129})
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["owner"]


async def test_given_an_unknown_sid_then_reading_it_is_a_404_problem(
    accounts: httpx.AsyncClient,
) -> None:
    response = await accounts.get("/accounts/AC" + "0" * 32)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Account not found"


async def test_given_a_malformed_sid_then_reading_it_is_a_422_problem_naming_sid(
    accounts: httpx.AsyncClient,
) -> None:
    response = await accounts.get("/accounts/not-a-sid")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["sid"]


async def test_given_a_started_service_then_health_answers(accounts: httpx.AsyncClient) -> None:
    assert (await accounts.get("/health")).json() == {"status": "ok"}


async def test_given_a_named_sid_asked_again_with_the_same_request_then_the_same_account_once(
    accounts: httpx.AsyncClient, account_states: ReadKeyed
) -> None:
    sid = new_sid()
    first = await accounts.post("/accounts", json=NEW_ACCOUNT | {"sid": sid})
    again = await accounts.post("/accounts", json=NEW_ACCOUNT | {"sid": sid})

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["sid"] == sid
    assert again.json() == first.json()
    [state] = await account_states(sid, 1)
    assert state["event_id"] == f"account:{sid}:v1"


async def test_given_a_named_sid_asked_again_with_another_request_then_409_and_it_is_unchanged(
    accounts: httpx.AsyncClient,
) -> None:
    sid = new_sid()
    first = await accounts.post("/accounts", json=NEW_ACCOUNT | {"sid": sid})
    other = await accounts.post("/accounts", json=NEW_ACCOUNT | {"sid": sid, "reseller": True})

    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert (await accounts.get(f"/accounts/{sid}")).json() == first.json()


@pytest.mark.parametrize("token", [None, "", "not-the-service-token"])
async def test_given_no_or_a_wrong_service_token_then_401_and_no_account_is_read_or_opened(
    accounts: httpx.AsyncClient, token: str | None
) -> None:
    sid = new_sid()
    for request in (
        accounts.build_request("POST", "/accounts", json=NEW_ACCOUNT | {"sid": sid}),
        accounts.build_request("GET", f"/accounts/{sid}"),
    ):
        del request.headers[SERVICE_TOKEN_HEADER]
        if token is not None:
            request.headers[SERVICE_TOKEN_HEADER] = token
        response = await accounts.send(request)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == SERVICE_TOKEN_HEADER
    assert (await accounts.get(f"/accounts/{sid}")).status_code == 404


async def test_given_no_service_token_then_health_still_answers(
    accounts: httpx.AsyncClient,
) -> None:
    request = accounts.build_request("GET", "/health")
    del request.headers[SERVICE_TOKEN_HEADER]
    assert (await accounts.send(request)).json() == {"status": "ok"}
