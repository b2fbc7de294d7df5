"""The bad-input barrage on the topic and on the API.

Every rule of the usage contract (CONTRACTS.md §1) broken one at a time, malformed JSON,
records that are not one event, and oversized batches: published on `usage.events.v1` and
posted to `POST /v1/Accounts/{sid}/Usage`. Then:

- every bad record is in the dead-letter topic `usage.rejected.v1` with its original bytes
  and a reason naming the offending field, and none is stored;
- the API answers 4xx naming the field (422 per event in `rejected`, 413 above 1,000);
- a good event sent after the barrage is stored (the pipeline goes on) and every service is
  still running and healthy (0 crashes, 0 server errors).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer
from tally_contracts.topics import USAGE_EVENTS, USAGE_REJECTED

from chaos.checks import check_usage, services_alive
from chaos.generator import Generator
from chaos.history import History, encoded, send_to_gateway, send_to_kafka
from chaos.report import ScenarioResult
from chaos.stack import Account, Stack, chaos_stack

NAME = "bad_input"
BAR = (
    "every bad event in the dead-letter topic with its reason; the API answers 4xx with the"
    " field named; 0 crashes"
)
Event = dict[str, Any]


@dataclass(frozen=True)
class Broken:
    """One broken rule: how to break a valid event, and the field the answer must name."""

    rule: str
    field: str
    breaks: Callable[[Event], Event]


def without(name: str) -> Callable[[Event], Event]:
    return lambda e: {k: v for k, v in e.items() if k != name}


def setting(name: str, value: Any) -> Callable[[Event], Event]:
    return lambda e: e | {name: value}


def in_future(e: Event) -> Event:
    later = datetime.now(UTC) + timedelta(minutes=30)
    return e | {"occurred_at": later.isoformat()}


NUMBER = {"phone_number": "+14155550100", "number_type": "local"}
RULES = (
    Broken("event_id missing", "event_id", without("event_id")),
    Broken("event_id empty", "event_id", setting("event_id", "")),
    Broken("event_id longer than 128", "event_id", setting("event_id", "x" * 129)),
    Broken("event_id with a space", "event_id", setting("event_id", "bad id")),
    Broken("event_id not a string", "event_id", setting("event_id", 12345)),
    Broken("account_sid missing", "account_sid", without("account_sid")),
    Broken("account_sid malformed", "account_sid", setting("account_sid", "AC123")),
    Broken("category missing", "category", without("category")),
    Broken("category unknown", "category", setting("category", "calls-sideways")),
    Broken("quantity missing", "quantity", without("quantity")),
    Broken("quantity negative", "quantity", setting("quantity", "-1")),
    Broken("quantity with 7 decimals", "quantity", setting("quantity", "1.1234567")),
    Broken("quantity above 1e9", "quantity", setting("quantity", "1000000001")),
    Broken("quantity not a number", "quantity", setting("quantity", "twelve")),
    Broken("quantity a boolean", "quantity", setting("quantity", True)),
    Broken("quantity NaN", "quantity", setting("quantity", "NaN")),
    Broken("occurred_at missing", "occurred_at", without("occurred_at")),
    Broken("occurred_at not a date", "occurred_at", setting("occurred_at", "yesterday")),
    Broken(
        "occurred_at without offset", "occurred_at", setting("occurred_at", "2026-01-05T10:00:00")
    ),
    Broken("occurred_at in the future", "occurred_at", in_future),
    Broken("phone_number not E.164", "phone_number", setting("phone_number", "4155550100")),
    Broken("phone_number too short", "phone_number", setting("phone_number", "+1234567")),
    Broken("number_type unknown", "number_type", setting("number_type", "satellite")),
    Broken(
        "phone-numbers without phone_number",
        "phone_number",
        lambda e: e | {"category": "phone-numbers", "quantity": "1", "number_type": "local"},
    ),
    Broken(
        "phone-numbers without number_type",
        "number_type",
        lambda e: (
            e | {"category": "phone-numbers", "quantity": "1", "phone_number": "+14155550100"}
        ),
    ),
    Broken(
        "attributes above 20 pairs",
        "attributes",
        setting("attributes", {f"k{i}": "v" for i in range(21)}),
    ),
    Broken("attributes value not a string", "attributes", setting("attributes", {"a": 1})),
    Broken("attributes not an object", "attributes", setting("attributes", ["a"])),
    Broken("unknown top-level field", "colour", setting("colour", "blue")),
)
"""Every rule of CONTRACTS.md §1, each broken alone (the rest of the event is valid)."""


def malformed(tag: str) -> list[tuple[str, bytes, str]]:
    """(what, value, field) of records that are not one JSON event object."""
    event = json.dumps({"event_id": f"{tag}-batch", "quantity": "1"})
    return [
        ("half a JSON object", f'{{"event_id": "{tag}-half'.encode(), "(body)"),
        ("a JSON array (a batch on the topic)", f"[{event}, {event}]".encode(), "(body)"),
        ("JSON null", b"null", "(body)"),
        ("a bare string", f'"{tag}"'.encode(), "(body)"),
        ("not UTF-8", b'{"event_id": "' + tag.encode() + b'\xff\xfe"}', "(body)"),
        ("empty value", b"", "(body)"),
        ("oversized: 1,001 events in one record", oversized(tag), "(body)"),
    ]


def oversized(tag: str) -> bytes:
    """A batch bigger than the API takes (1,001 events), published as one record."""
    event = {"event_id": f"{tag}-big", "category": "sms-inbound", "quantity": "1"}
    return json.dumps([event | {"event_id": f"{tag}-big-{i}"} for i in range(1001)]).encode()


@dataclass
class Sent:
    what: str
    value: bytes
    field: str


async def dead_letters(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    """This run's dead letters, by original text."""
    partitions = [tp for tp in stack.start_offsets if tp.topic == USAGE_REJECTED]
    reader = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await reader.start()
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        reader.assign(partitions)
        for tp in partitions:
            reader.seek(tp, stack.start_offsets[tp])
        ends = await reader.end_offsets(partitions)
        while [tp for tp in partitions if await reader.position(tp) < ends[tp]]:
            batches = await reader.getmany(timeout_ms=1000, max_records=5000)
            for records in batches.values():
                for record in records:
                    letter = json.loads(record.value)
                    found.setdefault(letter["original"], []).append(letter)
    finally:
        await reader.stop()
    return found


def names(letter: dict[str, Any], field: str) -> bool:
    """The letter names `field` (or a part of it: `attributes.k1`) with a reason."""
    return any(
        (e["field"] == field or e["field"].startswith(f"{field}.")) and e["reason"]
        for e in letter["errors"]
    )


async def barrage_on_topic(stack: Stack, account: Account, base: Generator) -> list[Sent]:
    sent = []
    for rule in RULES:
        event = rule.breaks(base.event(account.sid))
        sent.append(Sent(rule.rule, encoded(event), rule.field))
    wrong_key = base.event(account.sid)
    tag = f"bad-{uuid.uuid4().hex[:8]}"
    sent += [Sent(what, value, field) for what, value, field in malformed(tag)]
    for item in sent:
        await stack.producer.send_and_wait(USAGE_EVENTS, item.value, key=account.sid.encode())
    # The key is not the event's account: dead-lettered naming account_sid.
    other = "AC" + "0" * 32
    value = encoded(wrong_key)
    await stack.producer.send_and_wait(USAGE_EVENTS, value, key=other.encode())
    sent.append(Sent("key differs from account_sid", value, "account_sid"))
    return sent


async def barrage_on_api(
    stack: Stack, account: Account, base: Generator, history: History, result: ScenarioResult
) -> None:
    """Each broken event alone (422), mixed with a valid one (202 listing it), malformed
    bodies (4xx), 1,001 events (413); every answer must name the field."""
    url = f"{stack.url('gateway')}/v1/Accounts/{account.sid}/Usage"
    statuses: dict[int, int] = {}
    unnamed: list[str] = []

    def seen(answer: Any) -> None:
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    for rule in RULES:
        if rule.rule in ("account_sid missing",):  # may be omitted on the API (CONTRACTS §3)
            continue
        broken = rule.breaks(base.event(account.sid))
        alone = await stack.request("POST", url, json={"events": [broken]}, auth=account.auth)
        seen(alone)
        errors = alone.json().get("errors", []) if alone.status_code == 422 else []
        if not any(rule.field in e["field"] for e in errors):  # `events[0].quantity`
            unnamed.append(f"{rule.rule}: {alone.status_code} {alone.text[:200]}")
        good = base.event(account.sid)
        mixed = await send_to_gateway(
            stack.http, stack.url("gateway"), account.auth, history, [good, broken]
        )
        if mixed is not None:
            seen(mixed)
        refused = mixed.json().get("rejected", []) if mixed and mixed.status_code == 202 else []
        if not any(r["index"] == 1 and rule.field in r["field"] for r in refused):
            unnamed.append(f"{rule.rule} among valid: {mixed and mixed.status_code} {refused}")
    bodies = {
        "malformed JSON": b'{"events": [',
        "not an object": b"[]",
        "events not a list": b'{"events": "x"}',
        "no events": b'{"events": []}',
    }
    for what, body in bodies.items():
        answer = await stack.request(
            "POST",
            url,
            content=body,
            auth=account.auth,
            headers={"Content-Type": "application/json"},
        )
        seen(answer)
        if not (400 <= answer.status_code < 500 and answer.json().get("errors")):
            unnamed.append(f"{what}: {answer.status_code} {answer.text[:200]}")
    too_many = [base.event(account.sid) for _ in range(1001)]
    answer = await stack.request("POST", url, json={"events": too_many}, auth=account.auth)
    seen(answer)
    if answer.status_code != 413:
        unnamed.append(f"1,001 events: {answer.status_code}, not 413")
    result.figures |= {
        "api_requests": sum(statuses.values()),
        "api_server_errors": sum(n for s, n in statuses.items() if s >= 500),
        "api_answers_not_naming_the_field": len(unnamed),
        "api_statuses": dict(sorted(statuses.items())),
    }
    result.require(not any(s >= 500 for s in statuses), f"API server errors: {statuses}")
    result.require(not unnamed, f"API answers not naming the field: {unnamed[:5]}")


async def run(short: bool) -> ScenarioResult:
    result = ScenarioResult(NAME, BAR, "short" if short else "full")
    rounds = 1 if short else 20
    async with chaos_stack(NAME) as stack:
        [account] = await stack.open_accounts(1)
        base = Generator([account.sid], f"bad-{uuid.uuid4().hex[:8]}", 0)
        history = History()
        sent: list[Sent] = []
        for _ in range(rounds):
            sent += await barrage_on_topic(stack, account, base)
        await barrage_on_api(stack, account, base, history, result)
        # After the barrage, good events still flow.
        await send_to_kafka(stack.producer, history, list(base.events(10)))
        await stack.settled()
        letters = await dead_letters(stack)
        missing = [s.what for s in sent if s.value.decode(errors="replace") not in letters]
        unnamed = [
            s.what
            for s in sent
            if s.value.decode(errors="replace") in letters
            and not any(
                names(letter, s.field) for letter in letters[s.value.decode(errors="replace")]
            )
        ]
        result.figures |= {
            "rules_broken": len(RULES) + 1,
            "bad_records_on_topic": len(sent),
            "dead_lettered": len(sent) - len(missing),
            "dead_letters_not_naming_the_field": len(unnamed),
        }
        result.require(not missing, f"bad records not dead-lettered: {sorted(set(missing))}")
        result.require(not unnamed, f"dead letters not naming the field: {sorted(set(unnamed))}")
        usage = await check_usage(stack, history)
        usage.into(result)
        (await services_alive(stack)).into(result)
    return result
