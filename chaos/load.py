"""A producer that keeps going through an outage: events at a steady rate, and every send that
was not acknowledged sent again with the same id and payload until it is, as CONTRACTS.md §1
asks of a producer. Each try is recorded in the history (`chaos.history`), so the checkers
know what was acknowledged and what may or may not have been stored. Some accounts' events
can go through the gateway's HTTP API instead of straight to Kafka, so the gateway's own
producer rides the fault too.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from tally_contracts.topics import USAGE_EVENTS

from chaos.generator import Generator
from chaos.history import HEADERS, History, encoded, post_to_gateway
from chaos.stack import Stack

TICK_SECONDS = 0.5
ACK_WITHIN_SECONDS = 40.0
"""How long one round waits for its acks; longer than the producer's own request timeout."""


def progress(message: str) -> None:
    """A line on stderr, stamped: a long scenario says where it is."""
    print(f"chaos: {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def new_producer(bootstrap: str) -> AIOKafkaProducer:
    """A customer's producer: every in-sync replica acknowledges, a send gives up in 30 s."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        max_batch_size=512 * 1024,
        request_timeout_ms=30_000,
    )


@dataclass
class RetryingLoad:
    """`rate` events per second over the generator's accounts, retried until acknowledged.

    It has a producer of its own. A producer that leaves a round's sends neither acknowledged
    nor failed for `ACK_WITHIN_SECONDS` is replaced by a new one, as a careful customer would:
    aiokafka's producer can stay stuck on a partition after a broker restart (aio-libs/aiokafka
    issue 1018), and the services are under test here, not the customer's client.
    """

    stack: Stack
    history: History
    generator: Generator
    rate: int
    through_gateway: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Accounts whose events are POSTed to the gateway (SID -> credentials), not sent to Kafka."""
    producer: AIOKafkaProducer | None = None
    unacknowledged: list[dict[str, Any]] = field(default_factory=list)
    resends: int = 0
    producers_replaced: int = 0
    gateway_acknowledged: int = 0
    gateway_refused: int = 0
    """Events the gateway refused (a 4xx, or rejected): none should be, the load is valid."""
    longest_unacknowledged_s: float = 0.0
    """The longest a producer waited for an event's ack, retries included: the outage as a
    producer saw it."""
    _first_try: dict[tuple[str, str], float] = field(default_factory=dict)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set; whatever is still unacknowledged then stays queued."""
        while not stop.is_set():
            started = time.monotonic()
            await self._send(list(self.generator.events(max(1, int(self.rate * TICK_SECONDS)))))
            # Retries go with the next round, so a long outage does not turn into a flood.
            idle = TICK_SECONDS - (time.monotonic() - started)
            if idle > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(idle):
                        await stop.wait()

    async def finish(self, within: float = 240.0) -> None:
        """Send the unacknowledged events again until each one is acknowledged."""
        deadline = time.monotonic() + within
        try:
            while self.unacknowledged:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{len(self.unacknowledged)} events still unacknowledged after {within} s"
                    )
                await self._send([])
                if self.unacknowledged:
                    await asyncio.sleep(TICK_SECONDS)
        finally:
            await self.close()

    async def close(self) -> None:
        if self.producer is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(30):
                    await self.producer.stop()
            self.producer = None

    async def _send(self, new: list[dict[str, Any]]) -> None:
        retried, self.unacknowledged = self.unacknowledged, []
        self.resends += len(retried)
        now = time.monotonic()
        for event in new:
            self._first_try[(event["account_sid"], event["event_id"])] = now
        batch = retried + new
        posted = [e for e in batch if e["account_sid"] in self.through_gateway]
        sent = [e for e in batch if e["account_sid"] not in self.through_gateway]
        acked_sent, acked_posted = await asyncio.gather(self._publish(sent), self._post(posted))
        answered = time.monotonic()
        for event, ok in zip(sent + posted, acked_sent + acked_posted, strict=True):
            if ok is None:  # refused, so not stored: nothing to record or retry
                self.gateway_refused += 1
                continue
            self.history.record(event, ok)
            if ok:
                key = (event["account_sid"], event["event_id"])
                waited = answered - self._first_try.pop(key, answered)
                self.longest_unacknowledged_s = max(self.longest_unacknowledged_s, waited)
            else:
                self.unacknowledged.append(event)

    async def _publish(self, batch: list[dict[str, Any]]) -> list[bool | None]:
        """Send `batch` keyed by account (CONTRACTS.md §1); which sends were acknowledged."""
        if not batch:
            return []
        producer = await self._producer()
        if producer is None:
            return [False] * len(batch)
        futures: list[asyncio.Future[Any] | None] = []
        for event in batch:
            try:
                futures.append(
                    await producer.send(
                        USAGE_EVENTS,
                        encoded(event),
                        key=event["account_sid"].encode(),
                        headers=HEADERS,
                    )
                )
            except Exception:
                futures.append(None)
        waiting = [f for f in futures if f is not None]
        if waiting:
            _, pending = await asyncio.wait(waiting, timeout=ACK_WITHIN_SECONDS)
            if pending:
                progress(f"{len(pending)} sends neither acked nor failed: new producer")
                await self.close()
                self.producers_replaced += 1
        return [
            f is not None and f.done() and not f.cancelled() and f.exception() is None
            for f in futures
        ]

    async def _post(self, batch: list[dict[str, Any]]) -> list[bool | None]:
        """POST each account's events of `batch` to the gateway, all at once; each outcome."""
        by_sid: dict[str, list[dict[str, Any]]] = {}
        for event in batch:
            by_sid.setdefault(event["account_sid"], []).append(event)
        gateway = self.stack.url("gateway")
        answers = await asyncio.gather(
            *(
                post_to_gateway(self.stack.http, gateway, self.through_gateway[sid], events)
                for sid, events in by_sid.items()
            )
        )
        outcomes = dict(
            zip(
                ((e["account_sid"], e["event_id"]) for events in by_sid.values() for e in events),
                (ok for _, acked in answers for ok in acked),
                strict=True,
            )
        )
        self.gateway_acknowledged += sum(1 for ok in outcomes.values() if ok)
        return [outcomes[(e["account_sid"], e["event_id"])] for e in batch]

    async def _producer(self) -> AIOKafkaProducer | None:
        """The current producer, started if need be; None while the broker is unreachable."""
        if self.producer is None:
            producer = new_producer(self.stack.kafka_bootstrap)
            try:
                async with asyncio.timeout(ACK_WITHIN_SECONDS):
                    await producer.start()
            except Exception:
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(TICK_SECONDS)
                return None
            self.producer = producer
        return self.producer

    def figures(self) -> dict[str, Any]:
        return {
            "rate_events_per_s": self.rate,
            "resends": self.resends,
            "producers_replaced": self.producers_replaced,
            "acknowledged_through_gateway": self.gateway_acknowledged,
            "refused_by_gateway": self.gateway_refused,
            "longest_wait_for_an_ack_s": round(self.longest_unacknowledged_s, 1),
        }


async def stored_events(stack: Stack, sids: list[str]) -> int:
    """How many usage events the usage service has stored for `sids` (read directly)."""
    conn = await stack.connect("usage")
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM usage_events WHERE account_sid = ANY($1::text[])", sids
            )
        )
    finally:
        await conn.close()


async def caught_up(stack: Stack, history: History, within: float = 300.0) -> float:
    """Seconds until the producer is acknowledged again and usage has stored every event
    acknowledged by then: how long the pipeline took to resume after a fault, from outside."""
    started = time.monotonic()
    before = len(history.acknowledged)
    while len(history.acknowledged) <= before:
        if time.monotonic() - started > within:
            raise TimeoutError(f"no event acknowledged within {within} s of the fault's end")
        await asyncio.sleep(0.2)
    target = len(history.acknowledged)
    sids = sorted(history.accounts())
    while time.monotonic() - started < within:
        try:
            if await stored_events(stack, sids) >= target:
                return time.monotonic() - started
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            pass  # the database itself may still be coming back
        await asyncio.sleep(0.2)
    raise TimeoutError(f"usage had not stored the {target} acknowledged events after {within} s")


@contextlib.asynccontextmanager
async def steady_load(
    stack: Stack,
    generator: Generator,
    rate: int,
    *,
    warm_up_s: float,
    after_s: float,
    through_gateway: dict[str, tuple[str, str]] | None = None,
) -> AsyncIterator[RetryingLoad]:
    """Events flowing at `rate` for `warm_up_s` before the body (the faults) and `after_s`
    after it; on exit every event is acknowledged, the history complete."""
    load = RetryingLoad(stack, History(), generator, rate, through_gateway or {})
    stop = asyncio.Event()
    publishing = asyncio.create_task(load.run(stop))
    try:
        await asyncio.sleep(warm_up_s)
        if publishing.done():
            publishing.result()  # a generator that died says why
        yield load
        await asyncio.sleep(after_s)
    except BaseException:
        stop.set()
        await publishing
        await load.close()
        raise
    stop.set()
    await publishing
    await load.finish()
