"""Given a producer the broker no longer accepts, the gateway replaces it, once.

After a broker restart an idempotent aiokafka producer can fail every send with
OutOfOrderSequenceNumber, for ever (the chaos suite saw it in the outbox relay). The request
that meets it is still refused (its events may not be stored), but the client's retry must go
through a new producer rather than the stale one. Fakes stand in for Kafka: what is under test
is the gateway's reaction, not the broker's.
"""

import asyncio
from typing import Any

import pytest
from aiokafka.errors import OutOfOrderSequenceNumber
from opentelemetry.trace import NoOpTracer
from tally_gateway import usage_producer
from tally_gateway.config import Settings
from tally_gateway.usage_producer import NotAcknowledged, Producers, UsagePublisher


class FakeProducer:
    """Acknowledges every send, or fails each with `error` when given one."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.sent = 0
        self.stopped = False

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1}

    async def send(self, topic: str, value: bytes, **options: Any) -> "asyncio.Future[None]":
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.error is None:
            self.sent += 1
            ack.set_result(None)
        else:
            ack.set_exception(self.error)
        return ack

    async def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def producers(monkeypatch: pytest.MonkeyPatch) -> list[FakeProducer]:
    """The producers the gateway will start, in order: a stale one, then good ones."""
    made = [FakeProducer(OutOfOrderSequenceNumber()), FakeProducer(), FakeProducer()]
    queue = iter(made)

    async def started(settings: Settings) -> FakeProducer:
        await asyncio.sleep(0.01)  # a start takes a while: concurrent failures overlap it
        return next(queue)

    monkeypatch.setattr(usage_producer, "_started_producer", started)
    return made


async def test_given_out_of_step_producer_when_requests_fail_then_one_new_producer_takes_over(
    producers: list[FakeProducer],
) -> None:
    # Given the gateway's producer, which the broker refuses
    holder = await Producers.started(Settings())
    publisher = UsagePublisher(holder, NoOpTracer(), ack_timeout=1.0)

    # When ten requests meet it at once
    failed = await asyncio.gather(
        *(publisher.publish(f"AC{i:032x}", [b"{}"]) for i in range(10)),
        return_exceptions=True,
    )

    # Then each was refused, one new producer replaced the stale one, and the stale one stopped
    assert all(isinstance(result, NotAcknowledged) for result in failed)
    stale, replacement, unused = producers
    assert holder.replaced == 1
    assert holder.current is replacement
    assert stale.stopped

    # And a retried request is acknowledged through the new producer
    await publisher.publish("AC" + "0" * 32, [b"{}", b"{}"])
    assert replacement.sent == 2
    assert unused.sent == 0


async def test_given_an_ack_timeout_when_a_request_fails_then_the_producer_is_kept(
    producers: list[FakeProducer],
) -> None:
    # Given a producer that is merely slow (no ack within the request's time), not refused
    holder = await Producers.started(Settings())
    stale = producers[0]
    stale.error = None

    async def never_acknowledged(topic: str, value: bytes, **options: Any) -> Any:
        return asyncio.get_running_loop().create_future()

    stale.send = never_acknowledged  # type: ignore[method-assign]
    publisher = UsagePublisher(holder, NoOpTracer(), ack_timeout=0.05)

    # When a request times out
    with pytest.raises(NotAcknowledged):
        await publisher.publish("AC" + "0" * 32, [b"{}"])

    # Then the producer is kept: a slow broker is no reason to start afresh
    assert holder.replaced == 0
    assert holder.current is stale
