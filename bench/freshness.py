"""Freshness: publish → visible in usage's store, at a paced rate (half the pipeline's maximum).

A publisher sends valid events every 10 ms at the paced rate; in some ticks the last event is
a probe whose publish time is noted just before it is handed to the producer. A poller asks
usage's database every 5 ms which outstanding probes have a row in `usage_events`; a probe's
freshness is the time from its publish to the first poll that saw it.

`python -m bench.freshness [--rate events/s] [--seconds s]` runs this alone: the five services
of its own on fresh databases (Kafka and PostgreSQL from `KAFKA_BOOTSTRAP` / `DATABASE_URL`,
else the development ones), 1,000 accounts, and the CPU each service used meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg
from tally_contracts.topics import USAGE_EVENTS
from tally_runtime.database import with_database

from bench.load import Account, UsageLoad, new_accounts, new_producer, publish_account_states
from bench.offsets import prepare
from bench.processes import (
    CONSUMERS,
    SERVICES,
    Services,
    database_name,
    drop_databases,
    recreate_databases,
)
from bench.settings import ROOT, Target

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
    timeline: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the first probe was published, its freshness in ms) per probe seen."""


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
    first = min(sent.values(), default=0.0)
    result.timeline = [
        (round(sent[p] - first, 3), round((seen[p] - sent[p]) * 1000, 1)) for p in sent if p in seen
    ]
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


async def alone(rate: float, seconds: float, probes_per_s: int) -> dict[str, Any]:
    """The five services of its own, 1,000 known accounts, then `measure` and each one's CPU."""
    target = Target.from_environment()
    run_id = uuid.uuid4().hex[:8]
    services = Services(target, run_id, ROOT / ".run" / "bench" / f"freshness-{run_id}")
    names = [database_name(service) for service in SERVICES]
    await recreate_databases(target, names)
    await prepare(target.kafka_bootstrap, [services.group(s) for s in CONSUMERS])
    producer = new_producer(target.kafka_bootstrap)
    await producer.start()
    try:
        await asyncio.to_thread(services.start_all)
        partitions = len(await producer.partitions_for(USAGE_EVENTS))
        accounts = new_accounts(1_000, partitions)
        await publish_account_states(producer, accounts)
        usage_db = with_database(target.postgres_url, database_name("usage"))
        # A warm-up at the same rate: first batches pay for connections and caches.
        await measure(target.kafka_bootstrap, accounts, run_id + "w", usage_db, rate, 5, 5)
        before, began = services.cpu(), time.monotonic()
        result = await measure(
            target.kafka_bootstrap, accounts, run_id, usage_db, rate, seconds, probes_per_s
        )
        elapsed, after = time.monotonic() - began, services.cpu()
    finally:
        await producer.stop()
        services.stop_all()
        await drop_databases(target, names)
    cores = {
        service: round((end - start) / elapsed, 2)
        for service in SERVICES
        if (start := before.get(service)) is not None and (end := after.get(service)) is not None
    }
    figures = {k: v for k, v in asdict(result).items() if k not in ("latencies_ms", "timeline")}
    # When the slow probes were published: spread out (queueing) or in bursts (a stall).
    slowest = sorted(result.timeline, key=lambda point: point[1], reverse=True)[:10]
    return {**figures, "cores_used_by_service": cores, "slowest_probes_s_ms": sorted(slowest)}


def cli() -> int:
    parser = argparse.ArgumentParser(description="publish -> visible in usage's store")
    parser.add_argument("--rate", type=float, default=3_000.0, help="events/s")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--probes-per-s", type=int, default=40)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(alone(args.rate, args.seconds, args.probes_per_s)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
