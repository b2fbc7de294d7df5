"""`KafkaUsagePublisher`: usage straight onto `usage.events.v1` (CONTRACTS.md §1).

    async with KafkaUsagePublisher("kafka-1:9092") as publisher:
        acks = await publisher.send(events)   # partition and offset of each

Each record is keyed by the account SID (UTF-8), so one account's usage stays in order on one
partition; its value is the event's JSON, encoded as the gateway encodes it, with a
`content-type: application/json` header as every Tally producer sets. The producer is
idempotent and waits for every in-sync replica (`acks="all"`): a send it retries by itself is
written once, and an event sent again by the caller (same id, same bytes) is counted once by
Tally, as a duplicate.
"""

import asyncio
from collections.abc import Iterable
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from tally_contracts.errors import FieldError
from tally_contracts.topics import USAGE_EVENTS

from tally_sdk.acks import Ack, AckStatus
from tally_sdk.events import EventInput, check_events, encode_event

HEADERS = [("content-type", b"application/json")]


class KafkaUsagePublisher:
    """Publishes validated usage events to Kafka and answers each with its partition and offset.

    Events of one `send` are queued together, so the producer packs them into record batches
    (`linger_ms` lets it gather more); `send` returns when every one is acknowledged, or has
    failed after `delivery_timeout` seconds (then `failed`: send those again).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic: str = USAGE_EVENTS,
        linger_ms: int = 5,
        delivery_timeout: float = 30.0,
        client_id: str = "tally-sdk",
        **producer_options: Any,
    ) -> None:
        self.topic = topic
        self.delivery_timeout = delivery_timeout
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=linger_ms,
            request_timeout_ms=int(delivery_timeout * 1000),
            **producer_options,
        )
        self._started = False

    async def start(self) -> None:
        if not self._started:
            await self._producer.start()
            self._started = True

    async def stop(self) -> None:
        if self._started:
            await self._producer.stop()
            self._started = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def send(self, events: Iterable[EventInput], *, now: datetime | None = None) -> list[Ack]:
        """Validate, publish the valid events, wait for their acks; one Ack per event, in order.

        An invalid event is `invalid` (naming the field) and is not published.
        """
        await self.start()
        checked = check_events(events, now=now)
        acks = [
            Ack(index, error.event_id, AckStatus.INVALID, tuple(error.errors))
            for index, error in checked.invalid
        ]
        pending = []
        for index, event in checked.valid:
            try:
                future = await self._producer.send(
                    self.topic,
                    encode_event(event),
                    key=event.account_sid.encode(),
                    headers=HEADERS,
                )
            except KafkaError as error:
                acks.append(_failed(index, event.event_id, error))
                continue
            pending.append((index, event.event_id, future))
        results = await asyncio.gather(
            *(asyncio.wait_for(future, self.delivery_timeout) for _, _, future in pending),
            return_exceptions=True,
        )
        for (index, event_id, _), result in zip(pending, results, strict=True):
            if isinstance(result, BaseException):
                acks.append(_failed(index, event_id, result))
            else:
                acks.append(
                    Ack(
                        index,
                        event_id,
                        AckStatus.ACCEPTED,
                        partition=result.partition,
                        offset=result.offset,
                    )
                )
        return sorted(acks, key=lambda ack: ack.index)


def _failed(index: int, event_id: str, error: BaseException) -> Ack:
    reason = f"not acknowledged: {type(error).__name__}: {error}"
    return Ack(index, event_id, AckStatus.FAILED, (FieldError(field="(kafka)", reason=reason),))
