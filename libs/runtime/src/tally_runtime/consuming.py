"""Kafka subscriptions the exactly-once way: offsets committed after the handler's commit."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from pydantic import BaseModel, ValidationError

from tally_runtime.retries import with_backoff
from tally_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

EventT = TypeVar("EventT", bound=BaseModel)
Handler = Callable[[KafkaMessage], Awaitable[None]]

HANDLER_RETRY_SECONDS = 60.0
"""How long one delivery retries transient errors before it is handed back to Kafka."""


async def _raw_bytes(message: StreamMessage[Any]) -> bytes:
    # Handlers validate the bytes themselves, so a malformed value is reported, never retried.
    return message.body


def exactly_once(
    broker: KafkaBroker, topic: str, settings: ServiceSettings
) -> Callable[[Handler], Any]:
    """Subscribe a handler to `topic` in the service's consumer group, from the earliest offset.

    NACK_ON_ERROR: the offset is committed only once the handler returned, so after its
    transaction committed; an exception seeks back and the message is delivered again.
    Transient errors (the database restarting) are first retried with backoff in place, so
    a consumer waits calmly instead of spinning on redeliveries.
    """
    subscribe = broker.subscriber(
        topic,
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_raw_bytes,
    )

    def register(handler: Handler) -> Any:
        return subscribe(with_backoff(HANDLER_RETRY_SECONDS)(handler))

    return register


def parse_or_skip(model: type[EventT], msg: KafkaMessage) -> EventT | None:
    """The event in `msg`, or None (logged whole, with its position) when it breaks its schema.

    An internal event that breaks its own contract cannot succeed on retry, and retrying it
    would stall every account on its partition.
    """
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
