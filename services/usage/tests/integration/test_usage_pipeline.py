"""The usage service as it runs: real Kafka in and out, real PostgreSQL, its own HTTP API."""

import json
import random
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from tally_contracts.topics import (
    ACCOUNT_STATE,
    ALL_TOPICS,
    MONTH_CLOSED,
    USAGE_EVENTS,
    USAGE_RECORDED,
    USAGE_REJECTED,
)
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_runtime.kafka import ensure_topics
from tally_testkit import (
    NewDatabase,
    account_state,
    commit_groups_at_end,
    eventually,
    new_sid,
    open_at_end,
)
from tally_usage.app import create_app
from tally_usage.config import UsageSettings

WAIT_SECONDS = 60  # a bound on waiting for the pipeline, not a performance assertion
SERVICE_TOKEN = "usage-tests-service-token"


@dataclass
class RunningUsage:
    """The service started with its real composition root, and a client for its API."""

    http: httpx.AsyncClient
    pool: asyncpg.Pool
    now: datetime
    """Where the service's clock stands still: it stamps every event this instance publishes."""

    def published(self, event: dict[str, Any]) -> bool:
        """True for events this instance published, not another usage process on the topics."""
        return datetime.fromisoformat(event.get("occurred_at") or event["rejected_at"]) == self.now


CONSUMED = [USAGE_EVENTS, ACCOUNT_STATE, MONTH_CLOSED]
"""The topics usage consumes."""


async def start_group_at_end(settings: UsageSettings) -> None:
    """Commit the service's new group at the end of the topics it consumes.

    The topics are shared and may hold a long backlog of other tests' events; the service under
    test needs only what this test publishes from now on.
    """
    await ensure_topics(settings, ALL_TOPICS)
    await commit_groups_at_end(settings.kafka_bootstrap, [settings.consumer_group], CONSUMED)


@pytest.fixture
async def usage(kafka_bootstrap: str, new_database: NewDatabase) -> AsyncIterator[RunningUsage]:
    settings = UsageSettings(
        database_url=await new_database("usage"),
        kafka_bootstrap=kafka_bootstrap,
        consumer_group=f"usage-test-{uuid.uuid4().hex}",
        environment="test",
        service_token=SecretStr(SERVICE_TOKEN),
    )
    await start_group_at_end(settings)
    # Other usage processes (a developer's `make up`, end-to-end runs) consume the same topic
    # and publish for our events too; a clock at an instant of its own tells ours apart. Ahead
    # of the wall clock, so the events sent now are not in its future.
    now = datetime.now(UTC).replace(microsecond=random.randrange(1_000_000)) + timedelta(hours=1)
    app = create_app(settings, clock=lambda: now)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://usage",
            headers={SERVICE_TOKEN_HEADER: SERVICE_TOKEN},
        ) as http,
    ):
        yield RunningUsage(http, app.state.pool, now)


@pytest.fixture
async def sid(usage: RunningUsage, producer: AIOKafkaProducer) -> str:
    """An account whose state is published before its usage, as the accounts service does."""
    sid = new_sid()
    state = account_state(sid, 1).model_dump_json().encode()
    await producer.send_and_wait(ACCOUNT_STATE, state, key=sid.encode())
    return sid


def usage_event(sid: str, **changes: Any) -> dict[str, Any]:
    event = {
        "event_id": f"it-{uuid.uuid4().hex}",
        "account_sid": sid,
        "category": "calls-outbound",
        "quantity": "12.5",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    return event | changes


async def publish(producer: AIOKafkaProducer, key: str, value: bytes | dict[str, Any]) -> None:
    encoded = value if isinstance(value, bytes) else json.dumps(value).encode()
    await producer.send_and_wait(USAGE_EVENTS, encoded, key=key.encode())


class KeyedReader:
    """What is published on a topic under one key (this test's account) and kept, in order."""

    def __init__(self, usage: RunningUsage, kafka_bootstrap: str, topic: str, key: str) -> None:
        self._key = key.encode()
        self._keep = usage.published
        self.found: list[dict[str, Any]] = []
        self._topic = topic
        self._bootstrap = kafka_bootstrap

    async def __aenter__(self) -> "KeyedReader":
        self._consumer = await open_at_end(self._bootstrap, self._topic)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()

    async def until(self, condition: Callable[[list[dict[str, Any]]], bool]) -> list[Any]:
        """Read on until `condition(found)` holds; return what was found."""

        async def more() -> list[dict[str, Any]]:
            batches = await self._consumer.getmany(timeout_ms=200)
            for records in batches.values():
                events = [json.loads(r.value) for r in records if r.key == self._key]
                self.found += [event for event in events if self._keep(event)]
            return self.found

        return await eventually(more, condition, within=WAIT_SECONDS)


async def receipts(usage: RunningUsage, sid: str, *event_ids: str) -> dict[str, Any]:
    response = await usage.http.post(
        f"/accounts/{sid}/receipts", json={"event_ids": list(event_ids)}
    )
    assert response.status_code == 200, response.text
    return {receipt["event_id"]: receipt for receipt in response.json()["receipts"]}


async def summary(usage: RunningUsage, sid: str) -> dict[str, Any]:
    response = await usage.http.get(f"/accounts/{sid}/usage/summary")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_given_the_same_event_published_twice_then_one_row_and_one_usage_recorded(
    usage: RunningUsage, producer: AIOKafkaProducer, kafka_bootstrap: str, sid: str
) -> None:
    twice = usage_event(sid, quantity=12.5)
    marker = usage_event(sid, quantity="1")

    async with KeyedReader(usage, kafka_bootstrap, USAGE_RECORDED, sid) as recorded:
        await publish(producer, sid, twice)
        await publish(producer, sid, twice | {"quantity": "12.50"})  # same payload, other spelling
        await publish(producer, sid, marker)
        # One account's events keep their order, so a second UsageRecorded for the repeated
        # event would arrive before the marker's.
        found = await recorded.until(
            lambda found: any(e["usage_event_id"] == marker["event_id"] for e in found)
        )

    assert [event["usage_event_id"] for event in found] == [twice["event_id"], marker["event_id"]]
    assert found[0]["event_id"] == f"usage:{sid}:{twice['event_id']}"
    assert found[0]["quantity"] == "12.5"
    receipt = (await receipts(usage, sid, twice["event_id"]))[twice["event_id"]]
    assert (receipt["status"], receipt["duplicates"]) == ("recorded", 1)
    assert await summary(usage, sid) == {
        "account_sid": sid,
        "events": 2,
        "events_by_category": {"calls-outbound": 2},
        "quantity_by_category": {"calls-outbound": "13.5"},
    }


async def test_given_malformed_events_then_dead_letters_name_the_field_and_good_ones_flow(
    usage: RunningUsage, producer: AIOKafkaProducer, kafka_bootstrap: str, sid: str
) -> None:
    negative = usage_event(sid, quantity="-3")
    half_json = b'{"event_id": "half a json'
    wrong_key = usage_event("AC" + uuid.uuid4().hex)
    good = usage_event(sid, quantity="2")

    async with KeyedReader(usage, kafka_bootstrap, USAGE_REJECTED, sid) as rejected:
        await publish(producer, sid, negative)
        await publish(producer, sid, half_json)
        await publish(producer, sid, wrong_key)
        await publish(producer, sid, good)
        letters = await rejected.until(lambda found: len(found) >= 3)
    stored = await eventually(
        lambda: summary(usage, sid), lambda found: found["events"] >= 1, within=WAIT_SECONDS
    )

    by_original = {letter["original"]: letter for letter in letters}
    assert by_original[json.dumps(negative)]["errors"] == [
        {"field": "quantity", "reason": "must be at least 0"}
    ]
    half = by_original[half_json.decode()]
    assert half["errors"][0]["field"] == "(body)"
    assert "json" in half["errors"][0]["reason"].lower()
    assert by_original[json.dumps(wrong_key)]["errors"][0]["field"] == "account_sid"
    assert {letter["reason"] for letter in letters} == {"invalid"}
    assert stored["quantity_by_category"] == {"calls-outbound": "2"}
    found = await receipts(usage, sid, negative["event_id"], good["event_id"], "never-sent")
    assert found[negative["event_id"]]["status"] == "rejected"
    assert found[negative["event_id"]]["errors"][0]["field"] == "quantity"
    assert found[good["event_id"]]["status"] == "recorded"
    assert found["never-sent"]["status"] == "unknown"


async def test_given_the_same_id_with_another_payload_then_the_conflict_is_recorded_not_applied(
    usage: RunningUsage, producer: AIOKafkaProducer, kafka_bootstrap: str, sid: str
) -> None:
    first = usage_event(sid, quantity="5")
    changed = first | {"quantity": "50"}

    async with KeyedReader(usage, kafka_bootstrap, USAGE_REJECTED, sid) as rejected:
        await publish(producer, sid, first)
        await publish(producer, sid, changed)
        letters = await rejected.until(lambda found: len(found) >= 1)

    assert letters[0]["reason"] == "conflict"
    assert letters[0]["original"] == json.dumps(changed)
    assert letters[0]["errors"][0]["field"] == "event_id"
    receipt = (await receipts(usage, sid, first["event_id"]))[first["event_id"]]
    assert (receipt["status"], receipt["conflicts"]) == ("conflict", 1)
    assert receipt["recorded_at"] is not None
    assert (await summary(usage, sid))["quantity_by_category"] == {"calls-outbound": "5"}
    async with usage.pool.acquire() as conn:
        kept = await conn.fetchval(
            "SELECT original FROM usage_conflicts WHERE account_sid = $1", sid
        )
    assert kept == json.dumps(changed)


async def test_given_an_id_asked_twice_then_one_receipt_per_id_in_the_order_asked(
    usage: RunningUsage, producer: AIOKafkaProducer, sid: str
) -> None:
    event = usage_event(sid)
    await publish(producer, sid, event)
    await eventually(
        lambda: summary(usage, sid), lambda found: found["events"] >= 1, within=WAIT_SECONDS
    )

    asked = [event["event_id"], "never-sent", event["event_id"]]
    response = await usage.http.post(f"/accounts/{sid}/receipts", json={"event_ids": asked})

    assert response.status_code == 200, response.text
    answered = [(r["event_id"], r["status"]) for r in response.json()["receipts"]]
    assert answered == [
        (event["event_id"], "recorded"),
        ("never-sent", "unknown"),
        (event["event_id"], "recorded"),
    ]


async def test_given_an_id_postgresql_cannot_hold_then_its_receipt_is_unknown_not_an_error(
    usage: RunningUsage, sid: str
) -> None:
    # Found by fuzzing the gateway: "\u0000" is a valid JSON string, not valid PostgreSQL text.
    asked = ["nul-\u0000-id", "never-sent"]
    response = await usage.http.post(f"/accounts/{sid}/receipts", json={"event_ids": asked})

    assert response.status_code == 200, response.text
    answered = [(r["event_id"], r["status"]) for r in response.json()["receipts"]]
    assert answered == [(asked[0], "unknown"), (asked[1], "unknown")]


async def test_given_a_bad_account_sid_in_the_path_then_a_problem_names_it(
    usage: RunningUsage,
) -> None:
    response = await usage.http.get("/accounts/not-a-sid/usage/summary")

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "sid"


async def test_given_the_service_runs_then_health_answers(usage: RunningUsage) -> None:
    response = await usage.http.get("/health")

    assert response.json() == {"status": "ok"}
