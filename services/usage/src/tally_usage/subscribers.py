"""Kafka entry points, the topic -> handler map of the usage service in one place."""

import asyncpg
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from tally_contracts.topics import USAGE_EVENTS
from tally_runtime.clock import Clock
from tally_runtime.consuming import exactly_once
from tally_runtime.failpoints import AFTER_DB_COMMIT, crash_if_armed

from tally_usage.config import UsageSettings
from tally_usage.domain import RawUsageMessage
from tally_usage.handlers import record_usage


def register_subscribers(
    broker: KafkaBroker, *, settings: UsageSettings, pool: asyncpg.Pool, clock: Clock
) -> None:
    """Subscribe the usage handlers; the Kafka offset is committed only after the DB commit."""

    # Bad JSON is a dead letter, not a decoding failure: the handler gets the raw record.
    @exactly_once(broker, USAGE_EVENTS, settings)
    async def on_usage_event(msg: KafkaMessage) -> None:
        record = msg.raw_message
        assert not isinstance(record, tuple), "subscribed one record at a time"
        message = RawUsageMessage(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value or b"",
        )
        await record_usage(message, pool=pool, clock=clock)
        crash_if_armed(settings, AFTER_DB_COMMIT)
