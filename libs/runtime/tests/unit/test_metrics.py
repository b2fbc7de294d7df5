"""What the engine counts for ops, and how /metrics is served: per batch, by labels ops can use."""

import uuid
from typing import Any

import httpx
from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError
from fastapi import FastAPI, Header, HTTPException
from prometheus_client import REGISTRY
from tally_contracts.topics import USAGE_RECORDED, USAGE_REJECTED
from tally_runtime.metrics import (
    ConsumerLag,
    CountRequests,
    applying_batch,
    metrics_router,
    record_parked,
    record_published,
)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def a_group() -> str:
    """A group name of the test's own: the registry is the process's, shared by every test."""
    return f"test-{uuid.uuid4().hex[:8]}"


def test_given_a_batch_applied_then_its_records_its_size_and_its_time_are_counted_once() -> None:
    group = a_group()
    with applying_batch(group, "usage.events.v1", 250):
        pass
    with applying_batch(group, "usage.events.v1", 50):
        pass
    labels = {"group": group, "topic": "usage.events.v1"}
    assert sample("tally_consumed_records_total", **labels) == 300
    assert sample("tally_batch_records_count", **labels) == 2
    assert sample("tally_batch_records_sum", **labels) == 300
    assert sample("tally_batch_records_bucket", **labels, le="100.0") == 1
    assert sample("tally_batch_seconds_count", **labels) == 2


def test_given_a_relay_round_then_events_are_counted_by_topic_and_dead_letters_apart() -> None:
    recorded_before = sample("tally_published_events_total", topic=USAGE_RECORDED)
    dead_before = sample("tally_dead_letters_total")
    record_published({USAGE_RECORDED: 40, USAGE_REJECTED: 2})
    record_published({USAGE_RECORDED: 1})
    assert sample("tally_published_events_total", topic=USAGE_RECORDED) == recorded_before + 41
    assert sample("tally_dead_letters_total") == dead_before + 2


def test_given_a_record_parked_then_its_group_and_topic_count_it() -> None:
    group = a_group()
    record_parked(group, "usage.recorded.v1")
    assert sample("tally_parked_records_total", group=group, topic="usage.recorded.v1") == 1


class FakeConsumer:
    """Partitions with what the fetches said of them: end offsets and the group's positions."""

    def __init__(self, ends: dict[TopicPartition, int | None], positions: dict[Any, int]) -> None:
        self.ends = ends
        self.positions = positions

    def assignment(self) -> set[TopicPartition]:
        return set(self.ends)

    def highwater(self, partition: TopicPartition) -> int | None:
        return self.ends[partition]

    async def position(self, partition: TopicPartition) -> int:
        if partition not in self.positions:
            raise IllegalStateError("no longer assigned")
        return self.positions[partition]


async def test_given_assigned_partitions_then_the_lag_is_shown_per_partition() -> None:
    group = a_group()
    p0, p1, p2, p3 = (TopicPartition("usage.events.v1", n) for n in range(4))
    consumer = FakeConsumer({p0: 120, p1: 7, p2: None, p3: 9}, {p0: 100, p1: 7, p2: 0})
    await ConsumerLag(group, every=0).refresh(consumer)

    def lag(partition: int) -> float | None:
        return REGISTRY.get_sample_value(
            "tally_consumer_lag",
            {"group": group, "topic": "usage.events.v1", "partition": str(partition)},
        )

    assert (lag(0), lag(1)) == (20, 0)
    # never fetched (no end offset yet), or taken by a rebalance under way: not shown
    assert (lag(2), lag(3)) == (None, None)


async def test_given_a_partition_taken_by_a_rebalance_then_its_lag_is_no_longer_shown() -> None:
    group = a_group()
    p0, p1 = TopicPartition("usage.events.v1", 0), TopicPartition("usage.events.v1", 1)
    lag = ConsumerLag(group, every=0)
    await lag.refresh(FakeConsumer({p0: 5, p1: 5}, {p0: 1, p1: 2}))
    await lag.refresh(FakeConsumer({p1: 9}, {p1: 2}))
    shown = {"group": group, "topic": "usage.events.v1"}
    assert REGISTRY.get_sample_value("tally_consumer_lag", shown | {"partition": "0"}) is None
    assert REGISTRY.get_sample_value("tally_consumer_lag", shown | {"partition": "1"}) == 7


async def test_given_lag_refreshed_again_at_once_then_the_gauges_wait_for_the_next_period() -> None:
    group = a_group()
    p0 = TopicPartition("usage.events.v1", 0)
    lag = ConsumerLag(group, every=3600)
    await lag.refresh(FakeConsumer({p0: 10}, {p0: 0}))
    await lag.refresh(FakeConsumer({p0: 10}, {p0: 10}))
    labels = {"group": group, "topic": "usage.events.v1", "partition": "0"}
    assert REGISTRY.get_sample_value("tally_consumer_lag", labels) == 10


async def only_with_the_key(x_key: str | None = Header(None)) -> None:
    if x_key != "right":
        raise HTTPException(401)


def an_app() -> FastAPI:
    app = FastAPI()

    @app.get("/things/{thing}")
    async def thing(thing: str) -> dict[str, str]:
        return {"thing": thing}

    app.include_router(metrics_router(only_with_the_key))
    app.add_middleware(CountRequests)
    return app


async def test_given_requests_then_they_are_counted_by_route_template_and_status() -> None:
    transport = httpx.ASGITransport(app=an_app())
    route = {"route": "/things/{thing}", "method": "GET", "status": "200"}
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    before = sample("tally_http_requests_total", **route)
    missing_before = sample("tally_http_requests_total", **unmatched)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        for thing in ("a", "b", "c"):
            assert (await client.get(f"/things/{thing}")).status_code == 200
        assert (await client.get("/nowhere")).status_code == 404
    assert sample("tally_http_requests_total", **route) == before + 3
    assert sample("tally_http_requests_total", **unmatched) == missing_before + 1


async def test_given_a_guard_then_metrics_are_served_only_to_who_passes_it() -> None:
    transport = httpx.ASGITransport(app=an_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        refused = await client.get("/metrics")
        served = await client.get("/metrics", headers={"x-key": "right"})
    assert refused.status_code == 401
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/plain")
    assert "tally_consumed_records_total" in served.text
