"""The ops routes of invoicing requests through the gateway, relayed to a real accounts service."""

import hashlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from tally_runtime.http import SERVICE_TOKEN_HEADER

OPS_KEY = "integration-ops-key"  # the gateway fixture's
SERVICE_TOKEN = "integration-service-token"
OPS = {"Authorization": f"Bearer {OPS_KEY}"}
OPS_FINGERPRINT = "ops-key:" + hashlib.sha256(OPS_KEY.encode()).hexdigest()[:12]
PRICING = {
    "rates": {"calls-inbound": "0.0070"},
    "discount_percent": "10",
    "net_terms_days": 30,
    "by": "ana",
}
CREDIT_CHECK = {
    "legal_company_name": "Acme Widgets Inc.",
    "accounting_contact": {
        "full_name": "Ann Pay",
        "email": "ann@acme.test",
        "phone": "+1 312 555 0100",
    },
    "duns_number": "123456789",
    "by": "bo",
}


@pytest.fixture
async def accounts(accounts_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the accounts service's internal API, behind the gateway."""
    async with httpx.AsyncClient(
        base_url=accounts_url, headers={SERVICE_TOKEN_HEADER: SERVICE_TOKEN}
    ) as client:
        yield client


async def new_account(accounts: httpx.AsyncClient) -> str:
    body = {
        "owner": f"owner-{uuid.uuid4().hex[:8]}",
        "friendly_name": "Acme",
        "time_zone": "America/Chicago",
        "contact_email": "owner@acme.test",
    }
    response = await accounts.post("/accounts", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["sid"])


def opening(sid: str, spend: str = "36000.00") -> dict[str, str]:
    return {"account_sid": sid, "committed_annual_spend": spend, "contact_email": "ap@acme.test"}


async def test_given_the_ops_key_when_a_request_goes_all_the_way_then_the_account_is_invoiced(
    gateway: httpx.AsyncClient, accounts: httpx.AsyncClient
) -> None:
    sid = await new_account(accounts)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    created = await gateway.post("/v1/InvoicingRequests", json=opening(sid), headers=OPS | key)
    assert created.status_code == 201, created.text
    retried = await gateway.post("/v1/InvoicingRequests", json=opening(sid), headers=OPS | key)
    # The first response again (CONTRACTS.md §3), as the gateway stored it under the key.
    assert (retried.status_code, retried.json()) == (201, created.json())
    request = created.json()
    assert set(request) >= {
        "request_id", "account_sid", "state", "committed_annual_spend", "created_at",
        "open_too_long", "history",
    }  # fmt: skip
    assert (request["state"], request["committed_annual_spend"]) == ("pricing", "36000.00")
    assert request["history"][0]["step"] == "created"
    assert request["history"][0]["by"] == OPS_FINGERPRINT
    base = f"/v1/InvoicingRequests/{request['request_id']}"

    steps = [
        ("Pricing", PRICING, "credit_check"),
        ("CreditCheck", CREDIT_CHECK, "credit_check"),
        ("InformationRequests", {"items": ["2025 accounts"], "by": "bo"}, "credit_check"),
        ("Decision", {"approved": True, "credit_limit": "6000.00", "by": "cy"}, "approved"),
        ("Activation", {"by": "di"}, "activated"),
    ]
    for step, body, state in steps:
        answer = await gateway.post(f"{base}/{step}", json=body, headers=OPS)
        assert answer.status_code == 200, (step, answer.text)
        assert answer.json()["state"] == state
        assert "duns_number" not in answer.text

    read = await gateway.get(f"{base}/CreditCheck", params={"by": "cy"}, headers=OPS)
    assert read.status_code == 200, read.text
    assert read.json()["duns_number"] == "123456789"
    assert read.json()["accounting_contact"]["full_name"] == "Ann Pay"
    one = await gateway.get(base, headers=OPS)
    assert [entry["step"] for entry in one.json()["history"]] == [
        "created", "pricing", "credit_check", "information_request", "decision", "activation",
    ]  # fmt: skip
    listed = await gateway.get("/v1/InvoicingRequests", params={"state": "activated"}, headers=OPS)
    assert request["request_id"] in [r["request_id"] for r in listed.json()["invoicing_requests"]]
    account = (await accounts.get(f"/accounts/{sid}")).json()
    assert account["billing_mode"] == "invoiced"
    assert account["terms"]["credit_limit"] == "6000.00"
    assert account["terms"]["rates"] == {"calls-inbound": "0.0070"}


async def test_given_a_step_its_state_forbids_then_the_409_lists_the_allowed_steps(
    gateway: httpx.AsyncClient, accounts: httpx.AsyncClient
) -> None:
    created = await gateway.post(
        "/v1/InvoicingRequests", json=opening(await new_account(accounts)), headers=OPS
    )
    base = f"/v1/InvoicingRequests/{created.json()['request_id']}"
    refused = await gateway.post(f"{base}/Activation", json={"by": "di"}, headers=OPS)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["allowed"] == ["pricing"]


async def test_given_less_than_12000_00_then_the_gateway_refuses_naming_the_field(
    gateway: httpx.AsyncClient, accounts: httpx.AsyncClient
) -> None:
    body = opening(await new_account(accounts), spend="11999.99")
    refused = await gateway.post("/v1/InvoicingRequests", json=body, headers=OPS)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["committed_annual_spend"]


async def test_given_no_or_a_wrong_ops_key_then_every_route_is_a_401(
    gateway: httpx.AsyncClient,
) -> None:
    some_id = "IR" + "0" * 32
    calls = [
        ("GET", "/v1/InvoicingRequests"),
        ("POST", "/v1/InvoicingRequests"),
        ("GET", f"/v1/InvoicingRequests/{some_id}"),
        ("GET", f"/v1/InvoicingRequests/{some_id}/CreditCheck"),
        ("POST", f"/v1/InvoicingRequests/{some_id}/Decision"),
    ]
    for headers in ({}, {"Authorization": "Bearer not-the-key"}):
        for method, path in calls:
            response = await gateway.request(method, path, json={}, headers=headers)
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"].startswith("Bearer")


async def test_given_an_id_that_names_no_request_then_it_is_a_404(
    gateway: httpx.AsyncClient,
) -> None:
    for request_id in ("IR" + "0" * 32, "..", "not-an-id"):
        response = await gateway.get(f"/v1/InvoicingRequests/{request_id}/CreditCheck", headers=OPS)
        assert response.status_code == 404, request_id
