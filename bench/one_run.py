"""One benchmark run, start to end, with the services as this process's children.

Fresh databases and consumer groups, a backlog of valid events in `usage.events.v1`, the five
services, then the pipeline (usage and invoicing under sustained load), freshness at half the
pipeline's rate, HTTP ingest through the gateway and memory; once the services are stopped,
the bare consumer and the bare sink over the same events. A figure that could not be measured
stays null, with the reason.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import traceback
import uuid
from collections.abc import Coroutine
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from tally_contracts.topics import USAGE_EVENTS
from tally_runtime.database import with_database
from tally_runtime.settings import PLACEHOLDER_SECRET

from bench import (
    bare,
    freshness,
    http_ingest,
    month_close,
    notification_decisions,
    number_report,
    relay,
    report,
)
from bench.load import UsageLoad, new_accounts, new_producer, publish_account_states
from bench.offsets import Offsets, OffsetWatch, prepare
from bench.pipeline import PipelineResult, measure
from bench.processes import (
    CONSUMERS,
    OPS_KEY,
    SERVICES,
    Services,
    database_name,
    drop_databases,
    recreate_databases,
    trace_lines,
)
from bench.settings import FULL, RUN_DIR, Sizes, Target

SINK_DATABASE = "tally_bench_sink"
RELAY_DATABASE = "tally_bench_relay"


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def explain(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class Run:
    """One run's figures, the reason for each figure it could not measure, and its notes."""

    def __init__(self, number: int, sizes: Sizes, target: Target) -> None:
        self.number = number
        self.sizes = sizes
        self.target = target
        self.run_id = uuid.uuid4().hex[:8]
        self.dir = RUN_DIR / f"run{number}-{self.run_id}"
        self.services = Services(target, self.run_id, self.dir)
        self.figures: dict[str, float | None] = dict.fromkeys(report.BARS)
        self.reasons: dict[str, str] = {}
        self.notes: list[str] = []
        self.pipeline = PipelineResult()
        self.rss_start: dict[str, float | None] = dict.fromkeys(SERVICES)
        self.rss_end: dict[str, float | None] = dict.fromkeys(SERVICES)
        self.range: tuple[Offsets, Offsets] | None = None
        self.details: dict[str, Any] = {}

    def unmeasured(self, keys: list[str], reason: str) -> None:
        for key in keys:
            if self.figures.get(key) is None:
                self.reasons.setdefault(key, reason)

    async def execute(self) -> dict[str, Any]:
        names = [database_name(s) for s in SERVICES] + [SINK_DATABASE, RELAY_DATABASE]
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            await recreate_databases(self.target, names)
            try:
                await self.with_services()
            finally:
                log("stopping the services")
                self.services.stop_all()
            await self.guarded(
                ["bare_consumer_events_per_s", "bare_sink_events_per_s"], self.bare()
            )
            await self.guarded(["relay_rows_per_s"], self.relay())
        except Exception as error:  # a figure not measured is reported with the reason
            self.failed(list(report.BARS), error)
        finally:
            try:
                await drop_databases(self.target, names)
            except Exception as error:
                self.notes.append(f"databases {names} not dropped: {explain(error)}")
        self.unmeasured(list(report.BARS), "not reached")
        return {
            "run": self.number,
            "run_id": self.run_id,
            "logs": str(self.dir),
            "figures": self.figures,
            "reasons": self.reasons,
            "notes": self.notes,
            "pipeline": self.pipeline.record(),
            "details": self.details,
            "rss_start": self.rss_start,
            "rss_end": self.rss_end,
            "trace_spans_written": trace_lines(self.dir / "traces"),
            "samples": [asdict(s) for s in self.pipeline.samples],
        }

    async def with_services(self) -> None:
        bootstrap, sizes = self.target.kafka_bootstrap, self.sizes
        await prepare(bootstrap, [self.services.group(s) for s in CONSUMERS])
        producer = new_producer(bootstrap)
        await producer.start()
        try:
            partitions = len(await producer.partitions_for(USAGE_EVENTS))
            accounts = new_accounts(sizes.accounts, partitions)
            load = UsageLoad(producer, accounts, self.run_id)
            usage_db = with_database(self.target.postgres_url, database_name("usage"))
            groups = self.services.group("usage"), self.services.group("invoicing")
            async with OffsetWatch(bootstrap, *groups, usage_db) as watch:
                start = await watch.ends(USAGE_EVENTS)
                await publish_account_states(producer, accounts)
                log(f"run {self.number}: {sizes.first_chunk:,} events, then services and pipeline")
                await load.publish(sizes.first_chunk)
                watch.started = time.monotonic()
                startup = asyncio.create_task(asyncio.to_thread(self.services.start_all))
                planned = sizes.warmup_s + sizes.sustain_s + sizes.drain_timeout_s
                try:
                    self.pipeline = await asyncio.wait_for(
                        measure(
                            watch, load, sizes, startup, self.services.exited, self.take_rss_start
                        ),
                        timeout=planned + 2 * sizes.phase_timeout_s + 120,
                    )
                finally:
                    await startup  # never leave start-up running behind the cleanup
                self.range = (start, await watch.ends(USAGE_EVENTS))
                foreign = sum(self.range[1].values()) - sum(start.values()) - load.published
                if foreign > 0.01 * load.published:
                    self.notes.append(
                        f"{foreign:,} events from other producers reached {USAGE_EVENTS} during"
                        " the pipeline run: the machine and the topic were shared"
                    )
        finally:
            await producer.stop()
        self.record_pipeline(load.published)
        await self.note_parked()
        await self.guarded(["freshness_p50_ms", "freshness_p99_ms"], self.freshness(accounts))
        await self.guarded(["http_ingest_events_per_s"], self.http())
        await self.guarded(["notification_decision_p99_ms"], self.decisions(accounts))
        await self.guarded(["number_report_ms"], self.number_report())
        await self.guarded(["month_close_accounts_per_min"], self.month_close())
        self.rss_end = self.services.rss()

    async def note_parked(self) -> None:
        """Say so if usage parked events as of unknown accounts: the rates count them as done."""
        usage_db = with_database(self.target.postgres_url, database_name("usage"))
        try:
            conn = await asyncpg.connect(usage_db, timeout=10)
            try:
                parked = await conn.fetchval("SELECT count(*) FROM awaiting_account")
            finally:
                await conn.close()
        except Exception as error:
            self.notes.append(f"parked events not counted: {explain(error)}")
            return
        if parked:
            self.notes.append(
                f"{parked:,} events parked by usage (account state not yet known) after the"
                " pipeline run: its rates count them as consumed without storing them"
            )

    async def guarded(self, keys: list[str], phase: Coroutine[Any, Any, None]) -> None:
        """Run one measurement; a failure leaves its figures null, with the reason."""
        try:
            await phase
        except Exception as error:
            self.failed(keys, error)

    def failed(self, keys: list[str], error: Exception) -> None:
        log(f"not measured ({', '.join(keys)}): {explain(error)}")
        with (self.dir / "bench-errors.log").open("a") as errors:
            traceback.print_exc(file=errors)
        self.unmeasured(keys, explain(error))

    def take_rss_start(self) -> None:
        self.rss_start = self.services.rss()

    def record_pipeline(self, published: int) -> None:
        result = self.pipeline
        self.figures["pipeline_events_per_s"] = result.pipeline_events_per_s
        self.figures["rated_events_per_s"] = result.rated_events_per_s
        self.notes += result.notes
        self.notes.append(f"{published:,} events published to {USAGE_EVENTS} by the feeder")
        if result.reason:
            self.unmeasured(["pipeline_events_per_s", "rated_events_per_s"], result.reason)
        figures = ("consumed", "published", "pipeline", "rated")
        rates = {f: getattr(result, f"{f}_events_per_s") for f in figures}
        log(f"pipeline events/s: {rates}{'; ' + result.reason if result.reason else ''}")

    async def freshness(self, accounts: list[Any]) -> None:
        keys = ["freshness_p50_ms", "freshness_p99_ms"]
        maximum = self.pipeline.pipeline_events_per_s
        if not maximum or maximum < 2:
            self.unmeasured(keys, "no pipeline rate to take half of")
            return
        if self.pipeline.drained_in_s is None:
            self.notes.append("freshness measured while the pipeline's backlog was not drained")
        usage_db = with_database(self.target.postgres_url, database_name("usage"))
        log(f"freshness at {maximum / 2:,.0f} events/s for {self.sizes.freshness_s:.0f} s")
        result = await asyncio.wait_for(
            freshness.measure(
                self.target.kafka_bootstrap,
                accounts,
                self.run_id,
                usage_db,
                maximum / 2,
                self.sizes.freshness_s,
                self.sizes.probes_per_s,
            ),
            timeout=self.sizes.freshness_s + self.sizes.phase_timeout_s + freshness.LATE_S,
        )
        self.details["freshness"] = {k: v for k, v in asdict(result).items() if k != "latencies_ms"}
        self.figures["freshness_p50_ms"], self.figures["freshness_p99_ms"] = (
            result.p50_ms,
            result.p99_ms,
        )
        self.notes.append(
            f"freshness: {result.probes} probes at {result.rate_events_per_s:,} events/s, "
            f"{result.missing} not visible"
        )
        if result.reason:
            self.unmeasured(keys, result.reason)

    async def decisions(self, accounts: list[Any]) -> None:
        """Crossings decided by notifications while usage flows at half the pipeline's rate."""
        rate = (self.pipeline.pipeline_events_per_s or 2_000) / 2
        crossing = notification_decisions.ACCOUNTS if self.sizes == FULL else 300
        spread = notification_decisions.SPREAD_S if self.sizes == FULL else 10.0
        log(f"notification decisions: {crossing:,} accounts crossing, load {rate:,.0f} events/s")
        producer = new_producer(self.target.kafka_bootstrap)
        await producer.start()
        try:
            result = await asyncio.wait_for(
                notification_decisions.measure(
                    self.target.kafka_bootstrap,
                    with_database(self.target.postgres_url, database_name("invoicing")),
                    with_database(self.target.postgres_url, database_name("notifications")),
                    UsageLoad(producer, accounts, f"{self.run_id}-nd"),
                    rate=rate,
                    accounts=crossing,
                    spread_s=spread,
                ),
                timeout=spread + notification_decisions.LATE_S + self.sizes.phase_timeout_s + 120,
            )
        finally:
            await producer.stop()
        self.details["notification_decisions"] = asdict(result)
        self.figures["notification_decision_p99_ms"] = result.p99_ms
        self.notes.append(
            f"notification decisions: {result.decided:,} of {result.crossings:,} crossings"
            f" decided, p50 {result.p50_ms} ms from commit; from the crossing's occurred_at"
            f" p99 {result.from_occurred_p99_ms} ms"
        )
        if result.reason:
            self.notes.append(f"notification decisions: {result.reason}")
            self.unmeasured(["notification_decision_p99_ms"], result.reason)

    async def http(self) -> None:
        log(f"HTTP ingest, {self.sizes.http_clients} clients, {self.sizes.http_s:.0f} s")
        result = await http_ingest.measure(
            self.services.url("gateway"),
            OPS_KEY,
            self.run_id,
            self.sizes.http_clients,
            self.sizes.http_s,
        )
        self.details["http_ingest"] = asdict(result)
        self.figures["http_ingest_events_per_s"] = result.events_per_s
        self.notes.append(f"HTTP ingest answers by status: {result.statuses}")
        if result.reason:
            self.unmeasured(["http_ingest_events_per_s"], result.reason)

    async def number_report(self) -> None:
        log("number usage report: 10,000 numbers, 1,000,000 events in the month")
        gateway, usage = self.services.url("gateway"), self.services.url("usage")
        async with httpx.AsyncClient(timeout=30) as setup:
            sid, token = await http_ingest.create_account(setup, gateway, OPS_KEY)
        usage_db = with_database(self.target.postgres_url, database_name("usage"))
        result = await asyncio.wait_for(
            number_report.measure(usage, usage_db, gateway=(gateway, sid, token)),
            timeout=self.sizes.phase_timeout_s + 120,
        )
        self.details["number_report"] = asdict(result)
        self.figures["number_report_ms"] = result.report_ms
        self.notes.append(
            f"number report: median {result.report_ms} ms through the gateway, "
            f"{statistics.median(result.usage_ms)} ms at the usage service, CSV "
            f"{result.csv_ms} ms ({result.events:,} events loaded in {result.load_s} s)"
        )

    async def month_close(self) -> None:
        accounts = month_close.ACCOUNTS if self.sizes == FULL else 10_000
        log(f"month close: {accounts:,} accounts in one billing run")
        invoicing_db = with_database(self.target.postgres_url, database_name("invoicing"))
        result = await asyncio.wait_for(
            month_close.measure(
                self.services.url("invoicing"),
                invoicing_db,
                accounts=accounts,
                service_token=PLACEHOLDER_SECRET,
            ),
            timeout=self.sizes.phase_timeout_s + 600,
        )
        self.details["month_close"] = asdict(result)
        self.figures["month_close_accounts_per_min"] = (
            None if result.reason else result.month_close_accounts_per_min
        )
        if result.reason:
            self.unmeasured(["month_close_accounts_per_min"], result.reason)
        self.notes.append(
            f"month close: {result.invoices:,} invoices in {result.run_s} s"
            f" ({result.charges:,} charges loaded in {result.load_s} s)"
        )

    async def relay(self) -> None:
        rows = min(self.sizes.bare_max_events, 300_000)
        log(f"outbox relay over {rows:,} rows")
        database_url = with_database(self.target.postgres_url, RELAY_DATABASE)
        rate = await relay.relay_rows_per_s(
            self.target.kafka_bootstrap, database_url, rows, self.sizes.accounts
        )
        self.figures["relay_rows_per_s"] = round(rate, 1)

    async def bare(self) -> None:
        if self.range is None:
            self.unmeasured(["bare_consumer_events_per_s", "bare_sink_events_per_s"], "no events")
            return
        start, stop = self.range
        stop = bare.bounded(start, stop, self.sizes.bare_max_events)
        bootstrap, timeout = self.target.kafka_bootstrap, self.sizes.phase_timeout_s
        log(f"bare consumer and bare sink over {sum(stop.values()) - sum(start.values()):,} events")
        consumer = await bare.bare_consumer(bootstrap, USAGE_EVENTS, start, stop, timeout)
        self.figures["bare_consumer_events_per_s"] = round(consumer, 1)
        sink_db = with_database(self.target.postgres_url, SINK_DATABASE)
        sink = await bare.bare_sink(bootstrap, USAGE_EVENTS, start, stop, sink_db, timeout)
        self.figures["bare_sink_events_per_s"] = round(sink, 1)
        if (pipeline := self.figures["pipeline_events_per_s"]) is not None:
            self.figures["pipeline_ratio_to_bare_sink"] = round(pipeline / sink, 4)
        else:
            self.unmeasured(["pipeline_ratio_to_bare_sink"], "no pipeline rate")
