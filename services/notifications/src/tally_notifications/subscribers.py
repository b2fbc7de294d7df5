"""Notifications' Kafka entry points: the topic -> handler map, in one place."""

import logging
from typing import Any, TypeVar

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from pydantic import BaseModel, ValidationError
from tally_contracts.accounts import AccountState
from tally_contracts.balances import BalanceChanged
from tally_contracts.topics import ACCOUNT_STATE, BALANCE_CHANGED
from tally_runtime.failpoints import AFTER_DB_COMMIT, crash_if_armed

from tally_notifications import handlers
from tally_notifications.config import NotificationsSettings
from tally_notifications.domain import Clock

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
    broker: KafkaBroker, *, settings: NotificationsSettings, pool: asyncpg.Pool, clock: Clock
) -> None:
    """Subscribe notifications' handlers; call before the broker starts."""
    # NACK_ON_ERROR: the offset is committed only after the handler's transaction committed.
    group = settings.consumer_group

    @broker.subscriber(
        BALANCE_CHANGED,
        group_id=group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_undecoded,
    )
    async def on_balance_changed(msg: KafkaMessage) -> None:
        if event := _parse(BalanceChanged, msg):
            await handlers.decide_notification(event, pool=pool, clock=clock)
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
