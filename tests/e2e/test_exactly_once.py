"""Usage published by a producer is stored once and charged once; bad usage is dead-lettered."""

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from tally_contracts.topics import USAGE_EVENTS, USAGE_REJECTED
from tally_testkit import Tail, by_key, eventually

from tests.e2e.system import System


def usage_event(sid: str, **changes: Any) -> dict[str, Any]:
    event = {
        "event_id": f"e2e-{uuid.uuid4().hex}",
        "account_sid": sid,
        "category": "calls-outbound",
        "quantity": "12.5",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    return event | changes


async def publish(producer: AIOKafkaProducer, sid: str, value: bytes) -> None:
    await producer.send_and_wait(USAGE_EVENTS, value, key=sid.encode())


async def usage_summary(http: httpx.AsyncClient, system: System, sid: str) -> dict[str, Any]:
    response = await http.get(f"{system.url('usage')}/accounts/{sid}/usage/summary")
    response.raise_for_status()
    return dict(response.json())


async def charges(http: httpx.AsyncClient, system: System, sid: str) -> dict[str, Any]:
    response = await http.get(f"{system.url('invoicing')}/accounts/{sid}/charges")
    response.raise_for_status()
    return dict(response.json())


async def receipt(http: httpx.AsyncClient, system: System, sid: str, event_id: str) -> Any:
    response = await http.post(
        f"{system.url('usage')}/accounts/{sid}/receipts", json={"event_ids": [event_id]}
    )
    response.raise_for_status()
    return response.json()["receipts"][0]


async def test_given_an_event_published_twice_then_one_stored_event_and_one_charge(
    system: System,
    producer: AIOKafkaProducer,
    http: httpx.AsyncClient,
    create_account: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    sid = (await create_account())["sid"]
    event = json.dumps(usage_event(sid, quantity="12.5")).encode()

    await publish(producer, sid, event)
    await publish(producer, sid, event)

    # The second copy has been seen once the receipt counts it as a duplicate.
    seen = await eventually(
        lambda: receipt(http, system, sid, json.loads(event)["event_id"]),
        lambda found: found.get("duplicates", 0) >= 1,
    )
    assert seen["status"] == "recorded"
    billed = await eventually(
        lambda: charges(http, system, sid), lambda found: len(found["charges"]) >= 1
    )
    summary = await usage_summary(http, system, sid)
    assert summary["events"] == 1
    assert summary["quantity_by_category"] == {"calls-outbound": "12.5"}
    assert len(billed["charges"]) == 1
    assert billed["total"] == "0.175"  # 12.5 min x 0.014 USD, the default rate card


async def test_given_a_malformed_event_then_it_is_dead_lettered_and_the_next_good_one_flows(
    system: System,
    producer: AIOKafkaProducer,
    http: httpx.AsyncClient,
    tail: Tail,
    create_account: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    sid = (await create_account())["sid"]
    dead_letters = by_key(await tail(USAGE_REJECTED))
    broken = usage_event(sid, quantity="-3")
    await publish(producer, sid, json.dumps(broken).encode())
    await publish(producer, sid, b'{"event_id": "half a json')
    good = usage_event(sid, quantity="2")
    await publish(producer, sid, json.dumps(good).encode())

    summary = await eventually(
        lambda: usage_summary(http, system, sid), lambda found: found["events"] >= 1
    )
    letters = [json.loads(record.value) for record in await dead_letters(sid, 2)]

    assert summary["events"] == 1
    assert summary["quantity_by_category"] == {"calls-outbound": "2"}
    by_original = {letter["original"]: letter for letter in letters}
    negative = by_original[json.dumps(broken)]
    assert [(e["field"], e["reason"]) for e in negative["errors"]] == [
        ("quantity", "must be at least 0")
    ]
    half = by_original['{"event_id": "half a json']
    assert half["errors"][0]["field"] == "(body)"
    assert "json" in half["errors"][0]["reason"].lower()
