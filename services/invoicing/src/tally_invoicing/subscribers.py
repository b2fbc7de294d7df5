"""Invoicing's Kafka entry points: the topic -> handler map, in one place."""

import logging
from typing import Any, TypeVar

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from pydantic import BaseModel, ValidationError
from tally_contracts.accounts import AccountState
from tally_contracts.topics import ACCOUNT_STATE, USAGE_RECORDED
from tally_contracts.usage import UsageRecorded
from tally_runtime.failpoints import AFTER_DB_COMMIT, crash_if_armed

from tally_invoicing import handlers
from tally_invoicing.config import InvoicingSettings
from tally_invoicing.domain import Clock

log = logging.getLogger(__name__)

EventT = TypeVar("EventT", bound=BaseModel)


def _parse(model: type[EventT], msg: KafkaMessage) -> EventT | None:
    # An event that breaks its own contract cannot succeed on retry, and retrying it would
    # stall every account on its partition: log it whole, with where it sits, and move on.
    try:
        return model.model_validate_json(msg.body)
    except ValidationError as error:
        record = msg.raw_message
        log.error(
            "skipping a malformed %s at %s[%s]@%s: %s; value: %r",
            model.__name__,
            getattr(record, "topic", "?"),
            getattr(record, "partition", "?"),
            getattr(record, "offset", "?"),
            error,
            msg.body,
        )
        return None


async def _undecoded(message: StreamMessage[Any]) -> bytes:
    # The handler validates the raw bytes itself, so bad JSON is reported, not retried forever.
    return message.body


def register_subscribers(
    broker: KafkaBroker, *, settings: InvoicingSettings, pool: asyncpg.Pool, clock: Clock
) -> None:
    """Subscribe invoicing's handlers; call before the broker starts."""
    # NACK_ON_ERROR: the offset is committed only after the handler's transaction committed.
    group = settings.consumer_group

    @broker.subscriber(
        USAGE_RECORDED,
        group_id=group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_undecoded,
    )
    async def on_usage_recorded(msg: KafkaMessage) -> None:
        if usage := _parse(UsageRecorded, msg):
            await handlers.charge_usage(usage, pool=pool, clock=clock)
        crash_if_armed(settings, AFTER_DB_COMMIT)

    @broker.subscriber(
        ACCOUNT_STATE,
        group_id=group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_undecoded,
    )
    async def on_account_state(msg: KafkaMessage) -> None:
        if state := _parse(AccountState, msg):
            await handlers.record_account_state(state, pool=pool)
        crash_if_armed(settings, AFTER_DB_COMMIT)
