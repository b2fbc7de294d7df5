"""Usage through the public API: valid events land on `usage.events.v1`, bad ones are named."""

import base64
import json
import secrets
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import ConsumerRecord
from tally_contracts.topics import USAGE_EVENTS
from tally_gateway.config import Settings as GatewaySettings
from tally_testkit import eventually

CreateAccount = Callable[[], Awaitable[dict[str, Any]]]
Records = Callable[[str, int], Awaitable[list[ConsumerRecord[bytes, bytes]]]]
Spans = Callable[[str], list[dict[str, Any]]]
StartGateway = Callable[[GatewaySettings], AbstractAsyncContextManager[httpx.AsyncClient]]


def basic(account: dict[str, Any]) -> dict[str, str]:
    """The account's own `Authorization: Basic` header."""
    pair = f"{account['sid']}:{account['auth_token']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def event(event_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid usage event without `account_sid` (the path names the account)."""
    a_minute_ago = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    return {
        "event_id": event_id,
        "category": "calls-outbound",
        "quantity": "2.50",
        "occurred_at": a_minute_ago,
    } | overrides


async def test_given_two_valid_events_then_both_are_on_the_usage_topic_keyed_by_the_account(
    gateway: httpx.AsyncClient, create_account: CreateAccount, usage_events: Records
) -> None:
    account = await create_account()
    trace_id = secrets.token_hex(16)
    headers = basic(account) | {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    sent = [event("call-1"), event("call-2", account_sid=account["sid"], quantity=3)]

    response = await gateway.post(
        f"/v1/Accounts/{account['sid']}/Usage", json={"events": sent}, headers=headers
    )

    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 2, "rejected": []}
    records = await usage_events(account["sid"], 2)
    values = [json.loads(record.value) for record in records]
    assert [(v["event_id"], v["account_sid"], v["quantity"]) for v in values] == [
        ("call-1", account["sid"], "2.5"),
        ("call-2", account["sid"], "3"),
    ]
    assert all(v["occurred_at"].endswith("Z") for v in values)
    # Each message carries the request's trace, so the usage service continues it.
    assert all(trace_id in dict(record.headers)["traceparent"].decode() for record in records)


async def test_given_a_request_of_many_events_then_they_land_as_one_batch_under_one_key(
    gateway: httpx.AsyncClient, create_account: CreateAccount, usage_events: Records, spans: Spans
) -> None:
    account = await create_account()
    sent = [event(f"many-{i}", quantity=str(i)) for i in range(1, 6)]

    response = await gateway.post(
        f"/v1/Accounts/{account['sid']}/Usage", json={"events": sent}, headers=basic(account)
    )

    assert response.json() == {"accepted": 5, "rejected": []}
    records = await usage_events(account["sid"], 5)
    assert [json.loads(r.value)["event_id"] for r in records] == [e["event_id"] for e in sent]
    assert {r.key for r in records} == {account["sid"].encode()}
    assert len({r.partition for r in records}) == 1
    first = records[0].offset
    assert [r.offset for r in records] == list(range(first, first + 5))  # nothing in between
    # One producer span for the request: every record carries its context, and the type.
    headers = [dict(r.headers) for r in records]
    assert all(h == headers[0] for h in headers)
    assert headers[0]["content-type"] == b"application/json"
    span_id = "0x" + headers[0]["traceparent"].decode().split("-")[2]

    def producer_spans(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [span for span in found if span["context"]["span_id"] == span_id]

    found = await eventually(lambda: _async(spans("gateway")), lambda s: bool(producer_spans(s)))
    [producer] = producer_spans(found)
    assert producer["kind"] == "SpanKind.PRODUCER"
    assert {
        key: producer["attributes"][key]
        for key in (
            "messaging.system",
            "messaging.destination.name",
            "messaging.batch.message_count",
        )
    } == {
        "messaging.system": "kafka",
        "messaging.destination.name": USAGE_EVENTS,
        "messaging.batch.message_count": 5,
    }


async def test_given_kafka_cannot_ack_in_time_then_a_503_problem_asks_for_the_same_events(
    gateway_settings: GatewaySettings, start_gateway: StartGateway, create_account: CreateAccount
) -> None:
    account = await create_account()
    # Records linger in the producer a whole second; the gateway waits 0.2 s for the acks,
    # so no ack can be there in time, whatever the broker does.
    late_acks = gateway_settings.model_copy(
        update={"kafka_linger_ms": 1000, "ack_timeout_seconds": 0.2}
    )
    async with start_gateway(late_acks) as gateway:
        response = await gateway.post(
            f"/v1/Accounts/{account['sid']}/Usage",
            json={"events": [event("unacked-1")]},
            headers=basic(account),
        )

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Usage not accepted"
    assert "send the same events again" in problem["detail"]
    assert "accepted" not in problem


async def _async(value: Any) -> Any:
    return value


async def test_given_the_same_events_sent_twice_then_the_same_bytes_are_published_twice(
    gateway: httpx.AsyncClient, create_account: CreateAccount, usage_events: Records
) -> None:
    account = await create_account()
    body = {"events": [event("retried-1", quantity="1.000")]}
    for _ in range(2):
        response = await gateway.post(
            f"/v1/Accounts/{account['sid']}/Usage", json=body, headers=basic(account)
        )
        assert response.json() == {"accepted": 1, "rejected": []}
    first, second = await usage_events(account["sid"], 2)
    # Identical payloads: the usage service counts the retry as a duplicate, not as new usage.
    assert first.value == second.value


async def test_given_good_and_bad_events_then_the_good_go_on_and_the_bad_are_listed(
    gateway: httpx.AsyncClient, create_account: CreateAccount, usage_events: Records
) -> None:
    account = await create_account()
    someone_else = "AC" + "9" * 32
    sent = [
        event("bad-1", quantity="-1"),
        event("good-1"),
        event("bad-2", account_sid=someone_else),
    ]

    response = await gateway.post(
        f"/v1/Accounts/{account['sid']}/Usage", json={"events": sent}, headers=basic(account)
    )

    assert response.status_code == 202
    assert response.json()["accepted"] == 1
    assert [(r["index"], r["field"]) for r in response.json()["rejected"]] == [
        (0, "quantity"),
        (2, "account_sid"),
    ]
    [record] = await usage_events(account["sid"], 1)
    assert json.loads(record.value)["event_id"] == "good-1"


async def test_given_only_bad_events_then_a_422_problem_names_each_field(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    sent = [event("bad-1", quantity="lots"), event("bad-2", category="fax"), 42]

    response = await gateway.post(
        f"/v1/Accounts/{account['sid']}/Usage", json={"events": sent}, headers=basic(account)
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [
        "events[0].quantity",
        "events[1].category",
        "events[2]",
    ]


async def test_given_a_json_number_with_7_decimals_then_quantity_is_named_not_rounded(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    body = json.dumps({"events": [event("precise-1", quantity=0)]})
    body = body.replace('"quantity": 0', '"quantity": 1.0000000000000000001')

    response = await gateway.post(
        f"/v1/Accounts/{account['sid']}/Usage",
        content=body.encode(),
        headers=basic(account) | {"content-type": "application/json"},
    )

    assert response.status_code == 422
    assert [(e["field"], e["reason"]) for e in response.json()["errors"]] == [
        ("events[0].quantity", "must have at most 6 decimal places")
    ]


async def test_given_more_than_1000_events_then_a_413_problem_names_events(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    body = {"events": [event(f"e-{i}") for i in range(1001)]}
    response = await gateway.post(
        f"/v1/Accounts/{account['sid']}/Usage", json=body, headers=basic(account)
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["events"]


async def test_given_a_body_that_is_not_json_then_a_problem_answers(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    response = await gateway.post(
        f"/v1/Accounts/{account['sid']}/Usage",
        content=b"event_id=1&quantity=2",
        headers=basic(account) | {"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["(body)"]


async def test_given_another_accounts_credentials_then_usage_for_it_is_not_found(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    mine, theirs = await create_account(), await create_account()
    response = await gateway.post(
        f"/v1/Accounts/{theirs['sid']}/Usage", json={"events": [event("x")]}, headers=basic(mine)
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_given_no_credentials_then_usage_is_a_401_problem(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    response = await gateway.post(
        f"/v1/Accounts/{account['sid']}/Usage", json={"events": [event("x")]}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="Tally"'
