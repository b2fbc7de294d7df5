"""The multi-step invoicing request over the internal API, on real PostgreSQL and Kafka."""

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from tally_accounts.app import create_app
from tally_accounts.config import Settings
from tally_accounts.invoicing_requests.repository import approved_terms_of_owner
from tally_contracts.topics import INVOICING_REQUESTS
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_testkit import NewDatabase, Tail, by_key

SERVICE_TOKEN = "invoicing-requests-tests-token"
CALLER = {"caller": "ops-key:0123456789ab"}
PRICING = {
    "rates": {"calls-outbound": "0.0110", "sms-outbound": "0.0060"},
    "discount_percent": "7.5",
    "net_terms_days": 45,
    "by": "ana@ops",
}


class SettableClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Service:
    http: httpx.AsyncClient
    clock: SettableClock
    database_url: str

    async def account(self, owner: str = "acme-corp") -> str:
        """A new trial account of `owner`; its SID."""
        body = {
            "owner": owner,
            "friendly_name": "Acme",
            "time_zone": "America/Chicago",
            "contact_email": "owner@acme.test",
        }
        response = await self.http.post("/accounts", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["sid"])

    async def request(self, sid: str, spend: str = "24000.00") -> dict[str, Any]:
        """A new invoicing request for `sid`; the 201 body."""
        body = {
            "account_sid": sid,
            "committed_annual_spend": spend,
            "contact_email": "ap@acme.test",
        }
        response = await self.http.post("/invoicing-requests", json=body, params=CALLER)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def step(self, request_id: str, step: str, body: dict[str, Any]) -> httpx.Response:
        return await self.http.post(f"/invoicing-requests/{request_id}/{step}", json=body)


@pytest.fixture
async def service(kafka_bootstrap: str, new_database: NewDatabase) -> AsyncIterator[Service]:
    """The accounts service with a clock of the test's, on a database of its own."""
    clock = SettableClock()
    settings = Settings(
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=await new_database("accounts"),
        consumer_group=f"test-accounts-{uuid.uuid4().hex[:8]}",
        service_token=SecretStr(SERVICE_TOKEN),
        credit_check_keys=SecretStr(Fernet.generate_key().decode()),
    )
    app = create_app(settings, clock=clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app),
            base_url="http://accounts",
            headers={SERVICE_TOKEN_HEADER: SERVICE_TOKEN},
        ) as client,
    ):
        yield Service(client, clock, settings.database_url)


async def test_given_a_request_when_it_goes_all_the_way_then_the_account_is_invoiced_on_its_terms(
    service: Service, tail: Tail
) -> None:
    facts = by_key(await tail(INVOICING_REQUESTS))
    sid = await service.account()
    created = await service.request(sid)
    assert created["state"] == "pricing" and created["open_too_long"] is False
    assert created["committed_annual_spend"] == "24000.00"
    request_id = created["request_id"]

    priced = await service.step(request_id, "pricing", PRICING)
    assert priced.status_code == 200, priced.text
    assert priced.json()["state"] == "credit_check"
    assert priced.json()["pricing"] == {
        "rates": {"calls-outbound": "0.0110", "sms-outbound": "0.0060"},
        "discount_percent": "7.50",
        "net_terms_days": 45,
    }
    checked = await service.step(
        request_id, "credit-check", {"legal_company_name": "Acme Inc.", "by": "bo@ops"}
    )
    assert checked.json()["state"] == "credit_check"
    asked = await service.step(
        request_id, "information-requests", {"items": ["Latest balance sheet"], "by": "bo@ops"}
    )
    assert asked.json()["state"] == "credit_check"
    [fact] = await facts(sid, 1)
    assert json.loads(fact.value) | {"occurred_at": ""} == {
        "event_id": f"invoicing_request:{request_id}:information:1",
        "type": "invoicing_request.information_requested",
        "occurred_at": "",
        "account_sid": sid,
        "request_id": request_id,
        "contact_email": "ap@acme.test",
        "items": ["Latest balance sheet"],
        "requested_by": "bo@ops",
    }
    decided = await service.step(
        request_id, "decision", {"approved": True, "credit_limit": "8000.00", "by": "cy@ops"}
    )
    assert decided.json()["state"] == "approved"
    service.clock.now += timedelta(days=1)
    activated = await service.step(request_id, "activation", {"by": "di@ops"})
    assert activated.status_code == 200, activated.text

    request = (await service.http.get(f"/invoicing-requests/{request_id}")).json()
    assert request["state"] == "activated"
    assert [(entry["step"], entry["by"]) for entry in request["history"]] == [
        ("created", "ops-key:0123456789ab"),
        ("pricing", "ana@ops"),
        ("credit_check", "bo@ops"),
        ("information_request", "bo@ops"),
        ("decision", "cy@ops"),
        ("activation", "di@ops"),
    ]
    assert request["history"][-1]["at"] == "2026-03-03T09:00:00Z"
    assert request["next_steps"] == []
    account = (await service.http.get(f"/accounts/{sid}")).json()
    assert account["billing_mode"] == "invoiced"
    assert account["terms"] == {
        "request_id": request_id,
        "rates": {"calls-outbound": "0.0110", "sms-outbound": "0.0060"},
        "discount_percent": "7.50",
        "net_terms_days": 45,
        "credit_limit": "8000.00",
    }


async def test_given_each_state_then_every_step_it_does_not_allow_is_a_409_naming_the_allowed(
    service: Service,
) -> None:
    bodies: dict[str, dict[str, Any]] = {
        "pricing": PRICING,
        "credit-check": {"duns_number": "123456789", "by": "x"},
        "information-requests": {"items": ["?"], "by": "x"},
        "decision": {"approved": True, "credit_limit": "1000.00", "by": "x"},
        "activation": {"by": "x"},
    }
    # Each state, how to reach it from the previous one, and the steps it allows.
    path = [
        ("pricing", None, {"pricing"}),
        ("credit_check", "pricing", {"credit-check", "information-requests", "decision"}),
        ("approved", "decision", {"activation"}),
        ("activated", "activation", set()),
    ]
    allowed_names = {
        "pricing": "pricing",
        "credit-check": "credit_check",
        "information-requests": "information_request",
        "decision": "decision",
        "activation": "activation",
    }
    request_id = (await service.request(await service.account()))["request_id"]
    for state, reached_by, allowed in path:
        if reached_by:
            assert (await service.step(request_id, reached_by, bodies[reached_by])).is_success
        for step in set(bodies) - allowed:
            refused = await service.step(request_id, step, bodies[step])
            assert refused.status_code == 409, (state, step, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
            assert sorted(refused.json().get("allowed", [])) == sorted(
                allowed_names[a] for a in allowed
            ), (state, step)
            current = (await service.http.get(f"/invoicing-requests/{request_id}")).json()
            assert current["state"] == state, "a refused step changed nothing"

    declined_id = (await service.request(await service.account()))["request_id"]
    await service.step(declined_id, "pricing", PRICING)
    await service.step(declined_id, "decision", {"approved": False, "reason": "r", "by": "x"})
    for step, body in bodies.items():
        refused = await service.step(declined_id, step, body)
        assert (refused.status_code, refused.json().get("allowed")) == (409, []), step


@pytest.mark.parametrize(("spend", "status"), [("11999.99", 422), ("12000.00", 201)])
async def test_given_a_committed_spend_then_below_12000_00_is_refused_naming_the_field(
    service: Service, spend: str, status: int
) -> None:
    sid = await service.account()
    body = {"account_sid": sid, "committed_annual_spend": spend, "contact_email": "ap@acme.test"}
    response = await service.http.post("/invoicing-requests", json=body, params=CALLER)
    assert response.status_code == status, response.text
    if status == 422:
        assert [e["field"] for e in response.json()["errors"]] == ["committed_annual_spend"]
        listed = (await service.http.get("/invoicing-requests")).json()["invoicing_requests"]
        assert [r for r in listed if r["account_sid"] == sid] == []


async def test_given_an_unknown_account_then_the_request_is_a_422_naming_account_sid(
    service: Service,
) -> None:
    body = {
        "account_sid": "AC" + "f" * 32,
        "committed_annual_spend": "50000.00",
        "contact_email": "ap@acme.test",
    }
    response = await service.http.post("/invoicing-requests", json=body, params=CALLER)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["account_sid"]


async def test_given_a_declined_request_then_its_reason_is_kept_and_the_account_stays_trial(
    service: Service,
) -> None:
    sid = await service.account()
    request_id = (await service.request(sid))["request_id"]
    await service.step(request_id, "pricing", PRICING)
    declined = await service.step(
        request_id, "decision", {"approved": False, "reason": "no trading history", "by": "cy"}
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["state"] == "declined"
    assert declined.json()["decision"] | {"at": ""} == {
        "approved": False,
        "credit_limit": None,
        "reason": "no trading history",
        "by": "cy",
        "at": "",
    }
    assert (await service.http.get(f"/accounts/{sid}")).json()["billing_mode"] == "trial"
    listed = await service.http.get("/invoicing-requests", params={"state": "declined"})
    assert [r["request_id"] for r in listed.json()["invoicing_requests"]] == [request_id]


async def test_given_the_clock_moves_past_5_weeks_then_only_open_requests_are_flagged(
    service: Service,
) -> None:
    open_id = (await service.request(await service.account()))["request_id"]
    closed_id = (await service.request(await service.account()))["request_id"]
    await service.step(closed_id, "pricing", PRICING)
    await service.step(closed_id, "decision", {"approved": False, "reason": "r", "by": "x"})

    async def flags() -> dict[str, bool]:
        listed = (await service.http.get("/invoicing-requests")).json()["invoicing_requests"]
        return {r["request_id"]: r["open_too_long"] for r in listed}

    service.clock.now += timedelta(weeks=5)
    assert await flags() == {open_id: False, closed_id: False}
    service.clock.now += timedelta(seconds=1)
    assert await flags() == {open_id: True, closed_id: False}


async def test_given_an_approved_request_then_the_owners_later_trial_account_is_eligible(
    service: Service,
) -> None:
    owner = f"owner-{uuid.uuid4().hex[:8]}"
    first = await service.account(owner)
    later = await service.account(owner)
    before = (await service.http.get(f"/accounts/{later}/upgrade")).json()
    assert "no_approved_credit_check" in [r["rule"] for r in before["ineligible_reasons"]]
    conn = await asyncpg.connect(service.database_url)
    try:
        assert await approved_terms_of_owner(conn, owner) is None
        request_id = (await service.request(first))["request_id"]
        await service.step(request_id, "pricing", PRICING)
        await service.step(
            request_id, "decision", {"approved": True, "credit_limit": "9000.00", "by": "x"}
        )
        terms = await approved_terms_of_owner(conn, owner)
    finally:
        await conn.close()
    assert terms is not None
    assert (terms.request_id, terms.credit_limit, terms.net_terms_days) == (
        request_id,
        Decimal("9000.00"),
        45,
    )
    assert terms.rates == {"calls-outbound": Decimal("0.0110"), "sms-outbound": Decimal("0.0060")}
    options = (await service.http.get(f"/accounts/{later}/upgrade")).json()
    rules = [reason["rule"] for reason in options["ineligible_reasons"]]
    assert "no_approved_credit_check" not in rules, options


async def test_given_an_open_request_then_a_second_for_the_account_is_a_409_but_a_retry_is_not(
    service: Service,
) -> None:
    sid = await service.account()
    body = {"account_sid": sid, "committed_annual_spend": "30000.00", "contact_email": "a@b.co"}
    keyed = CALLER | {"idempotency_key": f"k-{uuid.uuid4().hex}"}
    first = await service.http.post("/invoicing-requests", json=body, params=keyed)
    retry = await service.http.post("/invoicing-requests", json=body, params=keyed)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["request_id"] == first.json()["request_id"]
    other_body = await service.http.post(
        "/invoicing-requests", json=body | {"committed_annual_spend": "40000.00"}, params=keyed
    )
    assert other_body.status_code == 409
    second = await service.http.post("/invoicing-requests", json=body, params=CALLER)
    assert second.status_code == 409
    assert first.json()["request_id"] in second.json()["detail"]
