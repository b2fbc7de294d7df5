"""Freshness: publish → visible in usage's store, at a paced rate (half the pipeline's maximum).

A publisher sends valid events every 10 ms at the paced rate; in some ticks the last event is
a probe whose publish time is noted just before it is handed to the producer. A poller asks
usage's database every 5 ms which outstanding probes have a row in `usage_events`; a probe's
freshness is the time from its publish to the first poll that saw it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bench.load import Account, UsageLoad, new_producer

TICK_S = 0.01
POLL_S = 0.005
LATE_S = 10.0
"""A probe not visible this long after the publisher stopped counts as missing."""
SEEN = """
SELECT event_id FROM usage_events
WHERE (account_sid, event_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
"""


@dataclass
class Freshness:
    rate_events_per_s: float
    probes: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    missing: int = 0
    reason: str | None = None
    latencies_ms: list[float] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(
    bootstrap: str,
    accounts: list[Account],
    run_tag: str,
    usage_database_url: str,
    rate: float,
    seconds: float,
    probes_per_s: int,
) -> Freshness:
    """Publish at `rate` for `seconds` with probes; -> their publish→visible percentiles."""
    result = Freshness(rate_events_per_s=round(rate, 1))
    sent: dict[tuple[str, str], float] = {}
    seen: dict[tuple[str, str], float] = {}
    publishing = True
    producer = new_producer(bootstrap, linger_ms=0)
    await producer.start()
    conn = await asyncpg.connect(usage_database_url, timeout=30)
    try:

        async def poll() -> None:
            give_up: float | None = None
            while publishing or len(seen) < len(sent):
                if not publishing:
                    give_up = give_up or time.monotonic() + LATE_S
                    if time.monotonic() > give_up:
                        return
                waiting = [probe for probe in sent if probe not in seen]
                if waiting:
                    rows = await conn.fetch(
                        SEEN, [sid for sid, _ in waiting], [eid for _, eid in waiting]
                    )
                    now = time.monotonic()
                    found = {row["event_id"] for row in rows}
                    for probe in waiting:
                        if probe[1] in found:
                            seen[probe] = now
                await asyncio.sleep(POLL_S)

        poller = asyncio.create_task(poll())
        load = UsageLoad(producer, accounts, f"{run_tag}f")
        pending: list[Any] = []
        ticks_per_probe = max(1, round(1 / (TICK_S * min(probes_per_s, rate))))
        began, tick, published = time.monotonic(), 0, 0
        while (elapsed := time.monotonic() - began) < seconds:
            due = int(rate * elapsed) - published
            if tick % ticks_per_probe == 0:
                if due > 1:
                    pending += await load.publish(due - 1, wait=False)
                sent_at = time.monotonic()
                pending += await load.publish(1, prefix="p", wait=False)
                sent[load.last_id("p")] = sent_at
                published += max(due, 1)
            elif due > 0:
                pending += await load.publish(due, wait=False)
                published += due
            if len(pending) > 1_000:
                await asyncio.wait_for(asyncio.gather(*pending), timeout=30)
                pending = []
            tick += 1
            await asyncio.sleep(max(0.0, began + tick * TICK_S - time.monotonic()))
        await asyncio.wait_for(asyncio.gather(*pending), timeout=30)
        publishing = False
        await asyncio.wait_for(poller, timeout=LATE_S + 30)
    finally:
        publishing = False
        await conn.close()
        await producer.stop()
    summarise(result, sent, seen)
    return result


def summarise(
    result: Freshness, sent: dict[tuple[str, str], float], seen: dict[tuple[str, str], float]
) -> None:
    result.probes = len(sent)
    result.latencies_ms = [round((seen[p] - sent[p]) * 1000, 1) for p in sent if p in seen]
    result.missing = result.probes - len(result.latencies_ms)
    if not result.latencies_ms:
        result.reason = f"none of {result.probes} probes became visible"
        return
    # A missing probe is slower than any seen one: percentiles count it as such.
    padded = result.latencies_ms + [float("inf")] * result.missing
    p50, p99 = percentile(padded, 0.50), percentile(padded, 0.99)
    result.p50_ms = p50 if p50 != float("inf") else None
    result.p99_ms = p99 if p99 != float("inf") else None
    if result.p99_ms is None:
        result.reason = f"{result.missing} of {result.probes} probes not visible in {LATE_S:.0f} s"
