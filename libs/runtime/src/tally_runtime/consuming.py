"""Kafka subscriptions the exactly-once way: offsets committed after the handler's commit."""

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from pydantic import BaseModel, ValidationError

from tally_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

EventT = TypeVar("EventT", bound=BaseModel)


async def _raw_bytes(message: StreamMessage[Any]) -> bytes:
    # Handlers validate the bytes themselves, so a malformed value is reported, never retried.
    return message.body


def exactly_once(broker: KafkaBroker, topic: str, settings: ServiceSettings) -> Callable[..., Any]:
    """Subscribe a handler to `topic` in the service's consumer group, from the earliest offset.

    NACK_ON_ERROR: the offset is committed only once the handler returned, so after its
    transaction committed; an exception seeks back and the message is delivered again.
    """
    return broker.subscriber(
        topic,
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_raw_bytes,
    )


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
