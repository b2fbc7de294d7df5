"""`python -m bench.handler_cost`: CPU per event of usage's and invoicing's batch handlers.

The pipeline's rate on this machine is bounded by the Python work per event in two handlers:
usage's `record_usage` and invoicing's `charge_usage`. This step runs each in-process over
batches of the same events the bench publishes (usage's output feeds invoicing's input),
through the engine's own `apply_batch` (one transaction, outbox written), against fresh
databases, and reports CPU seconds per 1,000 events of this process (not wall time: the
machine is shared, and CPU time is what a busy neighbour disturbs least). Every other batch
runs with the start-up heap frozen (`gc.freeze()`, as the consumer engine does), the others
not: the two are reported apart, a same-run comparison. `--profile` prints the handlers'
hottest functions (cProfile). Kafka is not involved.

PostgreSQL from `DATABASE_URL`, else the development one; databases `tally_bench_cost_*`
are dropped and created, and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
from tally_contracts.accounts import AccountState, AccountStatus, BillingMode
from tally_contracts.topics import ACCOUNT_STATE, USAGE_EVENTS, USAGE_RECORDED
from tally_invoicing import app as invoicing_app
from tally_invoicing.subscribers import SUBSCRIPTIONS as INVOICING
from tally_runtime.consumer import apply_batch
from tally_runtime.database import apply_migrations, create_pool, with_database
from tally_runtime.records import ConsumedRecord
from tally_runtime.units import UnitOfWork
from tally_usage import app as usage_app
from tally_usage.subscribers import SUBSCRIPTIONS as USAGE

from bench.load import CATEGORIES, new_accounts
from bench.processes import drop_databases
from bench.settings import Target

COST_DATABASE = "tally_bench_cost_{}"

Handler = Callable[[Sequence[ConsumedRecord], UnitOfWork], Awaitable[object]]


def usage_records(accounts: list[str], count: int, first: int) -> list[ConsumedRecord]:
    """`count` valid usage events over `accounts`, round robin, as consumed records."""
    occurred = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    records = []
    for sequence in range(first, first + count):
        sid = accounts[sequence % len(accounts)]
        category, quantity = CATEGORIES[sequence % len(CATEGORIES)]
        value = (
            f'{{"event_id":"cost-{sequence}","account_sid":"{sid}","category":"{category}",'
            f'"quantity":"{quantity}","occurred_at":"{occurred}"}}'
        ).encode()
        records.append(ConsumedRecord.of(USAGE_EVENTS, 0, sequence, sid.encode(), value))
    return records


def state_records(accounts: list[str]) -> list[ConsumedRecord]:
    now = datetime.now(UTC)
    records = []
    for offset, sid in enumerate(accounts):
        state = AccountState(
            event_id=f"account:{sid}:v1",
            occurred_at=now,
            account_sid=sid,
            version=1,
            owner="bench",
            friendly_name="bench",
            time_zone="America/Chicago",
            status=AccountStatus.ACTIVE,
            billing_mode=BillingMode.PAY_AS_YOU_GO,
        )
        value = state.model_dump_json().encode()
        records.append(ConsumedRecord.of(ACCOUNT_STATE, 0, offset, sid.encode(), value))
    return records


class Cost:
    """CPU seconds spent in a handler's batches, and the events they held."""

    def __init__(self, name: str, profile: bool) -> None:
        self.name = name
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self.events = 0
        self.profiler = cProfile.Profile() if profile else None

    async def apply(self, pool: asyncpg.Pool, handler: Handler, records: list[Any]) -> list[Any]:
        """Apply one batch, timed; -> the events its outbox would publish (topic, value)."""
        published: list[tuple[str, bytes]] = []

        async def handle(batch: Sequence[ConsumedRecord], unit: UnitOfWork) -> object:
            result = await handler(batch, unit)
            published.extend((topic, value) for topic, _, value, _ in unit.outbox.rows)
            return result

        if self.profiler:
            self.profiler.enable()
        cpu, wall = time.process_time(), time.perf_counter()
        await apply_batch(pool, handle, records, clock=lambda: datetime.now(UTC))
        self.cpu_s += time.process_time() - cpu
        self.wall_s += time.perf_counter() - wall
        if self.profiler:
            self.profiler.disable()
        self.events += len(records)
        return published

    def report(self) -> dict[str, float]:
        return {
            "events": self.events,
            "cpu_ms_per_1000_events": round(1000 * self.cpu_s / self.events * 1000, 1),
            "wall_ms_per_1000_events": round(1000 * self.wall_s / self.events * 1000, 1),
        }


async def fresh_database(target: Target, name: str, migrations: Any, projections: Any) -> str:
    conn = await asyncpg.connect(target.postgres_url, timeout=30)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = with_database(target.postgres_url, name)
    await apply_migrations(url, migrations, projections=projections)
    return url


async def measure(accounts: int, batches: int, batch_size: int, profile: bool) -> dict[str, Any]:

    target = Target.from_environment()
    sids = [a.sid for a in new_accounts(accounts, 1)]
    usage_url = await fresh_database(
        target, COST_DATABASE.format("usage"), usage_app.MIGRATIONS, usage_app.PROJECTIONS
    )
    invoicing_url = await fresh_database(
        target,
        COST_DATABASE.format("invoicing"),
        invoicing_app.MIGRATIONS,
        getattr(invoicing_app, "PROJECTIONS", ()),
    )
    usage_handlers = {s.topic: s.handler for s in USAGE}
    invoicing_handlers = {s.topic: s.handler for s in INVOICING}
    usage_pool = await create_pool(usage_url)
    invoicing_pool = await create_pool(invoicing_url)
    costs = [
        (Cost(f"usage{suffix}", profile), Cost(f"invoicing{suffix}", profile))
        for suffix in ("", "_gc_frozen")
    ]
    try:
        states = state_records(sids)
        await apply_batch(
            usage_pool, usage_handlers[ACCOUNT_STATE], states, clock=lambda: datetime.now(UTC)
        )
        if ACCOUNT_STATE in invoicing_handlers:
            await apply_batch(
                invoicing_pool,
                invoicing_handlers[ACCOUNT_STATE],
                states,
                clock=lambda: datetime.now(UTC),
            )
        offset = 0
        for number in range(batches):
            # Odd batches with the start-up heap frozen (as the engine does), even ones not.
            usage_cost, rating_cost = costs[number % 2]
            if number % 2:
                gc.freeze()
            else:
                gc.unfreeze()
            records = usage_records(sids, batch_size, number * batch_size)
            published = await usage_cost.apply(usage_pool, usage_handlers[USAGE_EVENTS], records)
            recorded = []
            for topic, value in published:
                if topic == USAGE_RECORDED:
                    sid = json.loads(value)["account_sid"]
                    recorded.append(
                        ConsumedRecord.of(USAGE_RECORDED, 0, offset, sid.encode(), value)
                    )
                    offset += 1
            await rating_cost.apply(invoicing_pool, invoicing_handlers[USAGE_RECORDED], recorded)
    finally:
        await usage_pool.close()
        await invoicing_pool.close()
        await drop_databases(
            target, [COST_DATABASE.format("usage"), COST_DATABASE.format("invoicing")]
        )
    every = [cost for pair in costs for cost in pair if cost.events]
    for cost in every:
        if cost.profiler:
            print(f"===== {cost.name}")
            pstats.Stats(cost.profiler).sort_stats("tottime").print_stats(25)
    return {cost.name: cost.report() for cost in every}


def cli() -> int:
    parser = argparse.ArgumentParser(description="CPU per event of the pipeline's handlers")
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--profile", action="store_true", help="print cProfile's hottest")
    args = parser.parse_args()
    result = asyncio.run(measure(args.accounts, args.batches, args.batch_size, args.profile))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
