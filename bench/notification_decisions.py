"""Notification decisions: from a committed balance crossing to its recorded decision, under load.

Trial accounts of the step's own are published on `accounts.state.v1` (as the accounts service
would), so invoicing credits each 15.00. While usage of other accounts flows at a steady rate
(the load), each trial account gets two usage events, spread over the window: 400 minutes of
`calls-outbound` (15.00 → 9.40, a `low` crossing) and, a moment later, 700 more (→ -0.40,
`depleted`). Invoicing publishes each crossing (`BalanceCrossed` on `balances.alerts.v1`) in
the transaction that made it; notifications decides it through its read barrier.

The figure, `notification_decision_p99_ms`, is the 99th percentile over the crossings of
`decided_at - committed`. `decided_at` is when notifications took the final decision (its
`decisions` table; a decision first deferred counts at its final one). `committed` is when
invoicing committed the crossing, as seen from outside: a poller reads the accounts' balances
in invoicing's database every 10 ms, and a crossing first seen by one poll was committed after
the previous poll began, which is the instant taken (so the figure is at most one poll too
long, never too short). The details give the same from the crossing's `occurred_at` (taken by
invoicing when its batch began, before the commit: includes invoicing's batch) and from the
crossing record's Kafka timestamp (taken by invoicing's outbox relay after the commit: leaves
the relay out). A crossing not decided within `LATE_S` of the last usage counts as slower than
every other.

`python -m bench.notification_decisions` runs this alone: the five services of its own, fresh
databases, Kafka and PostgreSQL from `KAFKA_BOOTSTRAP` / `DATABASE_URL` (else the development
ones), its own background load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field

import asyncpg
from tally_contracts.topics import USAGE_EVENTS
from tally_runtime.database import with_database

from bench.crossings import (
    background,
    cross,
    crossing_times,
    open_alerts,
    publish_trials,
    wait_credited,
    watch_commits,
)
from bench.freshness import percentile
from bench.load import (
    UsageLoad,
    new_accounts,
    new_producer,
    publish_account_states,
)
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

ACCOUNTS = 1_000
"""Trial accounts crossing in one measurement: each crosses twice (low, then depleted)."""
SPREAD_S = 30.0
"""The crossings are spread over this long, with the load running throughout."""
LATE_S = 60.0
LOAD_RATE = 3_000.0
"""Background events/s when run alone (in `make bench`: half the pipeline's rate)."""
DECIDED = """
SELECT account_sid, trigger_event_id, decided_at, outcome, trigger->>'crossing' AS crossing,
       (trigger->>'occurred_at')::timestamptz AS occurred_at
FROM decisions
WHERE account_sid = ANY($1::text[]) AND event_type = 'balance.crossed' AND outcome <> 'deferred'
"""
DEFERRED = (
    "SELECT count(*) FROM decisions WHERE account_sid = ANY($1::text[]) AND outcome = 'deferred'"
)


@dataclass
class DecisionLatency:
    accounts: int
    load_events_per_s: float
    crossings: int = 0
    decided: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    still_deferred: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    from_occurred_p50_ms: float | None = None
    from_occurred_p99_ms: float | None = None
    from_kafka_p50_ms: float | None = None
    from_kafka_p99_ms: float | None = None
    load_published: int = 0
    crossings_published: int = 0
    reason: str | None = None
    timeline: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the first crossing was committed, its decision latency in ms)."""


async def decisions(notifications_db: str, sids: list[str]) -> tuple[list[asyncpg.Record], int]:
    """The step's crossings decided (not deferred), and how many are still deferred."""
    conn = await asyncpg.connect(notifications_db)
    try:
        return list(await conn.fetch(DECIDED, sids)), await conn.fetchval(DEFERRED, sids)
    finally:
        await conn.close()


def ms_percentiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return round(percentile(values, 0.5), 1), round(percentile(values, 0.99), 1)


async def measure(
    bootstrap: str,
    invoicing_db: str,
    notifications_db: str,
    load: UsageLoad,
    *,
    rate: float,
    accounts: int = ACCOUNTS,
    spread_s: float = SPREAD_S,
) -> DecisionLatency:
    """Cross `accounts` trial accounts' thresholds over `spread_s` while `load` runs at `rate`."""
    result = DecisionLatency(accounts=accounts, load_events_per_s=round(rate, 1))
    chosen = new_accounts(accounts, len(await load.producer.partitions_for(USAGE_EVENTS)))
    sids = [a.sid for a in chosen]
    await publish_trials(bootstrap, chosen)
    await wait_credited(invoicing_db, sids, within=120)
    kafka_times: dict[str, float] = {}
    committed: dict[tuple[str, str], float] = {}
    stop = asyncio.Event()
    reader = await open_alerts(bootstrap, load.producer)
    tasks = [
        asyncio.create_task(background(load, rate, stop)),
        asyncio.create_task(watch_commits(invoicing_db, sids, committed, stop)),
        asyncio.create_task(crossing_times(reader, set(sids), kafka_times)),
    ]
    try:
        await cross(bootstrap, chosen, load.run_tag, spread_s)
        deadline = time.monotonic() + LATE_S
        while len((found := await decisions(notifications_db, sids))[0]) < 2 * accounts:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    finally:
        stop.set()
        tasks[-1].cancel()
        for failed in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(failed, Exception):
                result.reason = f"{type(failed).__name__}: {failed}"
        await reader.stop()
    decided, result.still_deferred = found
    result.load_published, result.crossings_published = load.published, len(kafka_times)
    result.crossings, result.decided = 2 * accounts, len(decided)
    for row in decided:
        result.outcomes[row["outcome"]] = result.outcomes.get(row["outcome"], 0) + 1
    if not decided:
        result.reason = "no crossing was decided"
        return result
    late_ms = (LATE_S + spread_s) * 1000  # a crossing never decided is slower than any other
    never = [late_ms] * (result.crossings - len(decided))
    latencies = [
        (row["decided_at"].timestamp() - committed[(row["account_sid"], row["crossing"])]) * 1000
        for row in decided
        if (row["account_sid"], row["crossing"]) in committed
    ]
    result.p50_ms, result.p99_ms = ms_percentiles(latencies + never)
    first = min(committed.values(), default=0.0)
    result.timeline = sorted(
        (
            round(committed[key] - first, 3),
            round((row["decided_at"].timestamp() - committed[key]) * 1000, 1),
        )
        for row in decided
        if (key := (row["account_sid"], row["crossing"])) in committed
    )
    result.max_ms = round(max(latencies + never), 1) if latencies or never else None
    from_occurred = [(r["decided_at"] - r["occurred_at"]).total_seconds() * 1000 for r in decided]
    result.from_occurred_p50_ms, result.from_occurred_p99_ms = ms_percentiles(from_occurred + never)
    from_kafka = [
        (row["decided_at"].timestamp() - kafka_times[row["trigger_event_id"]]) * 1000
        for row in decided
        if row["trigger_event_id"] in kafka_times
    ]
    result.from_kafka_p50_ms, result.from_kafka_p99_ms = ms_percentiles(from_kafka)
    if len(latencies) < len(decided):
        result.reason = f"{len(decided) - len(latencies)} decided crossings' commits not seen"
    if len(decided) < result.crossings:
        result.reason = f"{result.crossings - len(decided)} of {result.crossings} never decided"
    return result


async def alone(accounts: int, rate: float) -> DecisionLatency:
    """The five services of its own on fresh databases, its own load, then `measure`."""
    target = Target.from_environment()
    run_id = uuid.uuid4().hex[:8]
    services = Services(
        target, run_id, ROOT / ".run" / "bench" / f"notification-decisions-{run_id}"
    )
    names = [database_name(service) for service in SERVICES]
    await recreate_databases(target, names)
    await prepare(target.kafka_bootstrap, [services.group(s) for s in CONSUMERS])
    producer = new_producer(target.kafka_bootstrap)
    await producer.start()
    try:
        await asyncio.to_thread(services.start_all)
        partitions = len(await producer.partitions_for(USAGE_EVENTS))
        load_accounts = new_accounts(1_000, partitions)
        await publish_account_states(producer, load_accounts)
        load = UsageLoad(producer, load_accounts, run_id)
        return await measure(
            target.kafka_bootstrap,
            with_database(target.postgres_url, database_name("invoicing")),
            with_database(target.postgres_url, database_name("notifications")),
            load,
            rate=rate,
            accounts=accounts,
        )
    finally:
        await producer.stop()
        services.stop_all()
        await drop_databases(target, names)


def cli() -> int:
    parser = argparse.ArgumentParser(description="balance crossing -> notification decision")
    parser.add_argument("--accounts", type=int, default=ACCOUNTS)
    parser.add_argument("--rate", type=float, default=LOAD_RATE, help="background events/s")
    args = parser.parse_args()
    result = asyncio.run(alone(args.accounts, args.rate))
    print(json.dumps({k: v for k, v in asdict(result).items() if k != "timeline"}, indent=2))
    return 0 if result.reason is None else 1


if __name__ == "__main__":
    sys.exit(cli())
