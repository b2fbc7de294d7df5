"""Ops watch the running system in Prometheus' format: each service's /metrics shows its lag per
partition, and its counters move as usage flows through."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from tally_contracts.topics import USAGE_EVENTS, USAGE_RECORDED, USAGE_REJECTED
from tally_testkit import eventually

from tests.e2e.system import OPS_KEY, System
from tests.e2e.test_exactly_once import publish, usage_event

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
"""Each sample's value by its name and labels."""


async def scrape(http: httpx.AsyncClient, url: str, **headers: str) -> Samples:
    response = await http.get(f"{url}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def labelled(samples: Samples, name: str, **labels: str) -> list[dict[str, str]]:
    """The label sets of `name`'s samples that include `labels`."""
    return [
        dict(found)
        for sample_name, found in samples
        if sample_name == name and frozenset(labels.items()) <= found
    ]


async def test_given_usage_flowing_then_metrics_show_lag_per_partition_and_counters_moving(
    system: System,
    http: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    create_account: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    usage, gateway = system.url("usage"), system.url("gateway")
    group = system.consumer_group("usage")
    ops = {"Authorization": f"Bearer {OPS_KEY}"}
    account = await create_account()
    sid = account["sid"]
    before = await scrape(http, usage)
    gateway_before = await scrape(http, gateway, **ops)

    events = [usage_event(sid, quantity="1") for _ in range(5)]
    posted = await http.post(
        f"{gateway}/v1/Accounts/{sid}/Usage",
        json={"events": events},
        auth=(sid, account["auth_token"]),
    )
    assert posted.status_code == 202, posted.text
    await publish(producer, sid, b"{not json")  # past the gateway: a dead letter in usage

    consumed = ("tally_consumed_records_total", {"group": group, "topic": USAGE_EVENTS})

    def moved(after: Samples) -> bool:
        return value(after, consumed[0], **consumed[1]) >= value(
            before, consumed[0], **consumed[1]
        ) + 6 and (
            value(after, "tally_dead_letters_total") > value(before, "tally_dead_letters_total")
        )

    after = await eventually(lambda: scrape(http, usage), moved)

    # every partition of the usage topic the group holds has its lag, none left behind
    partitions = labelled(after, "tally_consumer_lag", group=group, topic=USAGE_EVENTS)
    assert sorted(int(p["partition"]) for p in partitions) == list(range(8))
    # batches were counted, timed, and what they caused was published
    batches = ("tally_batch_records_count", {"group": group, "topic": USAGE_EVENTS})
    assert value(after, batches[0], **batches[1]) > value(before, batches[0], **batches[1])
    seconds = ("tally_batch_seconds_count", {"group": group, "topic": USAGE_EVENTS})
    assert value(after, seconds[0], **seconds[1]) > value(before, seconds[0], **seconds[1])
    recorded = ("tally_published_events_total", {"topic": USAGE_RECORDED})
    assert value(after, recorded[0], **recorded[1]) >= value(before, recorded[0], **recorded[1]) + 5
    rejected = ("tally_published_events_total", {"topic": USAGE_REJECTED})
    assert value(after, rejected[0], **rejected[1]) > value(before, rejected[0], **rejected[1])
    # the database-backed gauges are there (sampled every few seconds)
    sampled = await eventually(
        lambda: scrape(http, usage),
        lambda found: (
            ("tally_outbox_backlog", frozenset()) in found
            and ("tally_parked_records_waiting", frozenset()) in found
        ),
    )
    assert value(sampled, "tally_parked_records_waiting") >= 0

    # the gateway counts requests by route template and status, behind the ops key
    assert (await http.get(f"{gateway}/metrics")).status_code == 401
    gateway_after = await scrape(http, gateway, **ops)
    route = {"route": "/v1/Accounts/{sid}/Usage", "method": "POST", "status": "202"}
    assert value(gateway_after, "tally_http_requests_total", **route) == (
        value(gateway_before, "tally_http_requests_total", **route) + 1
    )

    # notifications shows its deferred and suppressed decisions
    decisions = await eventually(
        lambda: scrape(http, system.url("notifications")),
        lambda found: len(labelled(found, "tally_notification_decisions")) == 2,
    )
    assert {d["outcome"] for d in labelled(decisions, "tally_notification_decisions")} == {
        "deferred",
        "suppressed",
    }
