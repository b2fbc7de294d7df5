"""Receipts through the public API: what became of each event id, in the contract's words.

The gateway talks to a real usage service, which consumes what the gateway publishes to
`usage.events.v1` (and what a producer publishes there itself), so receipts reflect what the
pipeline really stored.
"""

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from tally_contracts.topics import USAGE_EVENTS
from tally_testkit import eventually

CreateAccount = Callable[[], Awaitable[dict[str, Any]]]


def basic(account: dict[str, Any]) -> dict[str, str]:
    pair = f"{account['sid']}:{account['auth_token']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


WAIT_SECONDS = 90  # a bound on waiting for the pipeline, not a performance assertion
A_MINUTE_AGO = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()


def event(event_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid usage event; the same arguments make the same payload."""
    return {
        "event_id": event_id,
        "category": "calls-outbound",
        "quantity": "2.5",
        "occurred_at": A_MINUTE_AGO,
    } | overrides


async def receipts_of(
    gateway: httpx.AsyncClient, account: dict[str, Any], *event_ids: str
) -> dict[str, dict[str, Any]]:
    response = await gateway.post(
        f"/v1/Accounts/{account['sid']}/Usage/Receipts",
        json={"event_ids": list(event_ids)},
        headers=basic(account),
    )
    assert response.status_code == 200, response.text
    return {receipt["event_id"]: receipt for receipt in response.json()["receipts"]}


async def test_given_recorded_duplicate_conflict_rejected_and_unknown_ids_then_each_receipt_says(
    gateway_with_usage: httpx.AsyncClient,
    open_usage_account: CreateAccount,
    producer: AIOKafkaProducer,
) -> None:
    gateway = gateway_with_usage
    account = await open_usage_account()
    sid = account["sid"]
    post = f"/v1/Accounts/{sid}/Usage"
    # Given through the gateway: an event sent once, one sent three times, one sent again
    # with another quantity
    for body in [[event("once")], *[[event("thrice")]] * 3]:
        answer = await gateway.post(post, json={"events": body}, headers=basic(account))
        assert answer.status_code == 202, answer.text
    for quantity in ("1", "2"):
        answer = await gateway.post(
            post, json={"events": [event("changed", quantity=quantity)]}, headers=basic(account)
        )
        assert answer.status_code == 202
    # and straight to the topic, as a producer may: one event 1,000 times at once, and one
    # that breaks the contract (the gateway would never let it through)
    storm = json.dumps(event("storm", account_sid=sid)).encode()
    await asyncio.gather(
        *(producer.send_and_wait(USAGE_EVENTS, storm, key=sid.encode()) for _ in range(1000))
    )
    bad = event("negative", account_sid=sid, quantity="-1")
    await producer.send_and_wait(USAGE_EVENTS, json.dumps(bad).encode(), key=sid.encode())

    # When the producer asks for their receipts, and for an id never sent
    ids = ("once", "thrice", "storm", "changed", "negative", "never-sent")
    found = await eventually(
        lambda: receipts_of(gateway, account, *ids),
        lambda found: (
            found["storm"]["duplicates"] == 999
            and found["changed"]["conflicts"] == 1
            and found["negative"]["status"] == "rejected"
            and found["once"]["status"] == "recorded"
        ),
        within=WAIT_SECONDS,
    )

    # Then each says what became of it, in the contract's words
    assert found["once"] == {
        "event_id": "once",
        "status": "recorded",
        "duplicates": 0,
        "conflicts": 0,
    }
    assert found["thrice"] == {
        "event_id": "thrice",
        "status": "recorded",
        "duplicates": 2,
        "conflicts": 0,
    }
    assert found["storm"] == {
        "event_id": "storm",
        "status": "recorded",
        "duplicates": 999,
        "conflicts": 0,
    }
    # The first payload of a conflicting id stays recorded; the other one was refused.
    assert found["changed"] == {
        "event_id": "changed",
        "status": "recorded",
        "duplicates": 0,
        "conflicts": 1,
    }
    assert found["negative"] == {
        "event_id": "negative",
        "status": "rejected",
        "duplicates": 0,
        "conflicts": 0,
        "field": "quantity",
        "reason": "must be at least 0",
    }
    assert found["never-sent"] == {
        "event_id": "never-sent",
        "status": "unknown",
        "duplicates": 0,
        "conflicts": 0,
    }


async def test_given_receipts_asked_badly_then_the_problem_names_the_field(
    gateway_with_usage: httpx.AsyncClient, open_usage_account: CreateAccount
) -> None:
    mine, theirs = await open_usage_account(), await open_usage_account()
    path = f"/v1/Accounts/{mine['sid']}/Usage/Receipts"

    too_many = await gateway_with_usage.post(
        path, json={"event_ids": [f"e-{n}" for n in range(1001)]}, headers=basic(mine)
    )
    unknown_field = await gateway_with_usage.post(
        path, json={"event_ids": ["a"], "account_sid": mine["sid"]}, headers=basic(mine)
    )
    foreign = await gateway_with_usage.post(
        f"/v1/Accounts/{theirs['sid']}/Usage/Receipts",
        json={"event_ids": ["a"]},
        headers=basic(mine),
    )

    assert too_many.status_code == 422
    assert [error["field"] for error in too_many.json()["errors"]] == ["event_ids"]
    assert unknown_field.status_code == 422
    assert [error["field"] for error in unknown_field.json()["errors"]] == ["account_sid"]
    assert foreign.status_code == 404


async def test_given_one_event_posted_1000_times_at_once_through_the_gateway_then_all_are_accepted_and_999_are_duplicates(  # noqa: E501
    gateway_with_usage: httpx.AsyncClient, open_usage_account: CreateAccount
) -> None:
    # Given an account, when a client sends the same one-event request 1,000 times at once
    account = await open_usage_account()
    post = f"/v1/Accounts/{account['sid']}/Usage"
    body = {"events": [event("storm-over-http")]}
    answers = await asyncio.gather(
        *(gateway_with_usage.post(post, json=body, headers=basic(account)) for _ in range(1000))
    )

    # Then every request is acknowledged (none waits out its ack behind the others)
    assert sorted({answer.status_code for answer in answers}) == [202]
    # and the event is counted once, its 999 repeats ignored
    found = await eventually(
        lambda: receipts_of(gateway_with_usage, account, "storm-over-http"),
        lambda found: found["storm-over-http"]["duplicates"] == 999,
        within=WAIT_SECONDS,
    )
    assert found["storm-over-http"]["status"] == "recorded"
