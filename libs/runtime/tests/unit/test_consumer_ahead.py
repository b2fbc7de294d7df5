"""Topics marked `ahead` (reference data such as account states) never wait behind a backlog."""

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from pydantic import SecretStr
from tally_runtime.batch_tracing import BatchTrace
from tally_runtime.clock import utc_now
from tally_runtime.consumer import BatchConsumer, Subscription
from tally_runtime.records import ConsumedRecord
from tally_runtime.settings import ServiceSettings
from tally_runtime.units import UnitOfWork

BULK = TopicPartition("usage.events.v1", 0)
STATES = TopicPartition("accounts.state.v1", 0)


class BufferedConsumer:
    """What aiokafka's consumer gives the engine: buffered records, handed out in turn."""

    def __init__(self, buffered: dict[TopicPartition, list[Any]]) -> None:
        self.buffered = buffered

    def assignment(self) -> set[TopicPartition]:
        return set(self.buffered)

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Any]]:
        taken: dict[TopicPartition, list[Any]] = {}
        for partition in partitions or list(self.buffered):  # in buffer order: bulk first
            records = self.buffered[partition]
            if records and max_records > 0:
                taken[partition], self.buffered[partition] = (
                    records[:max_records],
                    records[max_records:],
                )
                max_records -= len(taken[partition])
        return taken


def record(partition: TopicPartition, offset: int) -> SimpleNamespace:
    return SimpleNamespace(
        topic=partition.topic,
        partition=partition.partition,
        offset=offset,
        key=b"AC1",
        value=b"{}",
        headers=[],
    )


async def nothing(records: Sequence[ConsumedRecord], unit: UnitOfWork) -> None:
    return None


def engine(*, states_ahead: bool) -> BatchConsumer:
    settings = ServiceSettings(
        environment="test",
        batch_max_records=5,
        service_token=SecretStr("unit-tests-service-token"),
    )
    subscriptions = [
        Subscription(BULK.topic, nothing),
        Subscription(STATES.topic, nothing, ahead=states_ahead),
    ]
    return BatchConsumer(settings, pool=None, subscriptions=subscriptions, clock=utc_now)  # type: ignore[arg-type]


def backlog_then_a_state() -> BufferedConsumer:
    return BufferedConsumer(
        {BULK: [record(BULK, n) for n in range(20)], STATES: [record(STATES, 0)]}
    )


async def test_given_a_backlog_buffered_first_then_a_topic_ahead_is_fetched_before_it() -> None:
    consumer = backlog_then_a_state()

    fetched = await engine(states_ahead=True)._fetch(consumer)  # type: ignore[arg-type]

    assert list(fetched) == [STATES]


async def test_given_no_topic_ahead_then_the_backlog_comes_first_as_buffered() -> None:
    # What the engine did before `ahead`: the state waited for the whole backlog.
    consumer = backlog_then_a_state()

    fetched = await engine(states_ahead=False)._fetch(consumer)  # type: ignore[arg-type]

    assert list(fetched) == [BULK]


async def test_given_a_batch_of_both_topics_then_the_topic_ahead_is_applied_first() -> None:
    consumer = engine(states_ahead=True)
    applied: list[str] = []

    async def apply_or_park(
        topic: str, records: Sequence[ConsumedRecord], batch_trace: BatchTrace
    ) -> None:
        applied.append(topic)

    consumer._apply_or_park = apply_or_park  # type: ignore[method-assign]
    await consumer.apply({BULK: [record(BULK, 0)], STATES: [record(STATES, 0)]})

    assert applied == [STATES.topic, BULK.topic]
