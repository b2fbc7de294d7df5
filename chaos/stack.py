"""The whole system for one scenario: the chaos infra, fresh databases, the five services as
processes (tests/e2e's `System`), accounts opened through the gateway, and ways to hurt it.

    async with chaos_stack("consumer_kills") as stack:
        accounts = await stack.open_accounts(50)
        stack.kill("usage")            # SIGKILL, no grace
        stack.restart("usage")         # back, once healthy
        await stack.settled()          # every group caught up, every outbox empty
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from tally_contracts.topics import ACCOUNT_STATE, ALL_TOPICS
from tally_runtime.database import with_database
from tally_runtime.http import SERVICE_TOKEN_HEADER
from tally_runtime.kafka import ensure_topics
from tally_runtime.settings import ServiceSettings
from tally_testkit import commit_offsets, move_groups_to_end

from chaos.infra import ROOT, ChaosInfra
from tests.e2e.system import OPS_KEY, SERVICE_TOKEN, SERVICES, System, free_port

CONSUMERS = ("accounts", "usage", "invoicing", "notifications")
"""The services that consume Kafka (the gateway only produces)."""


def consumed_topics() -> dict[str, set[str]]:
    """The topics each consumer subscribes to, from the services' own subscription maps (its
    group also holds offsets, never moving, on every other topic: committed at the start)."""
    from tally_accounts.subscribers import SUBSCRIPTIONS as ACCOUNTS
    from tally_invoicing.subscribers import SUBSCRIPTIONS as INVOICING
    from tally_notifications.triggers import TRIGGER_TOPICS
    from tally_usage.subscribers import SUBSCRIPTIONS as USAGE

    return {
        "accounts": {s.topic for s in ACCOUNTS},
        "usage": {s.topic for s in USAGE},
        # invoicing also projects account states into its profiles (with_account_profiles)
        "invoicing": {s.topic for s in INVOICING} | {ACCOUNT_STATE},
        "notifications": {*TRIGGER_TOPICS, ACCOUNT_STATE},
    }


OPS = {"Authorization": f"Bearer {OPS_KEY}"}
LOG_ROOT = ROOT / ".run" / "chaos"
TRACE_SAMPLE_RATIO = "0.01"
"""The production default: a million events traced in full would fill the disk, not test it."""


@dataclass(frozen=True)
class Account:
    """An account opened through the gateway, with the credentials its owner got."""

    sid: str
    token: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.sid, self.token)


@dataclass
class ChaosSystem(System):
    """tests/e2e's System on the chaos infra: its mail server, sampled traces, and extra
    processes of a service (`start_extra`) besides the one `start` keeps by name."""

    mail_port: int = 11325
    extras: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def environment(self, service: str, **extra: str) -> dict[str, str]:
        env = super().environment(service, **extra)
        env = {k: v for k, v in env.items() if not k.startswith("OTEL_EXPORTER_")}
        env["TALLY_TRACE_SAMPLE_RATIO"] = TRACE_SAMPLE_RATIO
        if "TALLY_NOTIFICATIONS_SMTP_PORT" not in {
            f"TALLY_{service.upper()}_{k.upper()}" for k in extra
        }:
            env["TALLY_NOTIFICATIONS_SMTP_PORT"] = str(self.mail_port)
        return env

    def start_all(self) -> None:
        """Every service at once, then wait for each: on two cores, starting five Python
        processes one after the other takes most of a short scenario."""
        for service in SERVICES:
            self.launch(service)
        for service in SERVICES:
            self.wait_healthy(service)

    def start_extra(self, name: str, service: str, **extra: str) -> str:
        """Another process of `service` on a port of its own (same database and group);
        returns its base URL. `name` tells it apart in `extras` and in its log file."""
        port = free_port()
        log = (self.log_dir / f"{name}.log").open("ab")
        env = self.environment(service, **extra) | {f"TALLY_{service.upper()}_HTTP_PORT": str(port)}
        self.extras[name] = subprocess.Popen(
            [sys.executable, "-m", f"tally_{service}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if (code := self.extras[name].poll()) is not None:
                raise RuntimeError(f"{name} exited with {code}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    return url
            time.sleep(0.2)
        raise RuntimeError(f"{name} not healthy after 240 s")

    def stop_extras(self) -> None:
        for process in self.extras.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        self.extras.clear()


@dataclass
class Stack:
    """A running system and the clients a scenario drives it with."""

    infra: ChaosInfra
    system: ChaosSystem
    http: httpx.AsyncClient
    producer: AIOKafkaProducer
    kills: dict[str, int] = field(default_factory=dict)
    """SIGKILLs sent per service, for the figures."""
    start_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    """Where every topic ended when this run began: its groups started there, so it is this
    run's offset 0 (the infra's own offset 0 on a fresh infra)."""

    @property
    def kafka_bootstrap(self) -> str:
        return self.system.kafka_bootstrap

    def url(self, service: str) -> str:
        return self.system.url(service)

    def database(self, service: str) -> str:
        """The URL of a service's database of this run."""
        return self.system.databases[service]

    def group(self, service: str) -> str:
        return self.system.consumer_group(service)

    async def connect(self, service: str) -> asyncpg.Connection:
        """A connection to a service's database (close it yourself)."""
        return await asyncpg.connect(self.database(service), timeout=30)

    # Accounts --------------------------------------------------------------------------
    async def open_account(self, index: int = 0, **overrides: Any) -> Account:
        """One trial account through the gateway with the ops key (15.00 credit)."""
        body = {
            "owner": f"chaos-{index}",
            "friendly_name": "chaos",
            "time_zone": "America/Chicago",
            "contact_email": f"chaos+{index}@chaos.example",
        } | overrides
        key = {"Idempotency-Key": f"chaos-{uuid.uuid4().hex}"}
        answer = await self.request(
            "POST", f"{self.url('gateway')}/v1/Accounts", json=body, headers=OPS | key
        )
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"opening an account: {answer.status_code} {answer.text}")
        found = answer.json()
        return Account(found["sid"], found["auth_token"])

    async def open_accounts(
        self, count: int, in_flight: int = 16, **overrides: Any
    ) -> list[Account]:
        """`count` accounts, then wait until usage and invoicing both know every one of them
        (usage that overtakes an account's first state would be rated against no credit)."""
        slots = asyncio.Semaphore(in_flight)

        async def one(index: int) -> Account:
            async with slots:
                return await self.open_account(index, **overrides)

        accounts = list(await asyncio.gather(*(one(i) for i in range(count))))
        await self.wait_known([a.sid for a in accounts])
        return accounts

    async def wait_known(self, sids: list[str], within: float = 120.0) -> None:
        """Until invoicing has each account's state (usage parks events until it has it)."""
        deadline = time.monotonic() + within
        waiting = list(sids)
        while waiting:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{len(waiting)} accounts unknown to invoicing, e.g. {waiting[0]}"
                )
            conn = await self.connect("invoicing")
            try:
                rows = await conn.fetch(
                    "SELECT account_sid FROM balances WHERE account_sid = ANY($1::text[])"
                    " AND billing_mode IS NOT NULL",
                    waiting,
                )
            finally:
                await conn.close()
            known = {row["account_sid"] for row in rows}
            waiting = [sid for sid in waiting if sid not in known]
            if waiting:
                await asyncio.sleep(0.5)

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request, retried on 429/503 and on connection errors (a service may be down)."""
        for _ in range(60):
            try:
                response = await self.http.request(method, url, **kwargs)
            except httpx.TransportError:
                await asyncio.sleep(0.5)
                continue
            if response.status_code not in (429, 503):
                return response
            await asyncio.sleep(float(response.headers.get("Retry-After", "0.5")))
        return await self.http.request(method, url, **kwargs)

    # Hurting it ------------------------------------------------------------------------
    def kill(self, service: str) -> None:
        """SIGKILL the service's process (no shutdown of any kind) and reap it."""
        process = self.system.processes.pop(service)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()
        self.kills[service] = self.kills.get(service, 0) + 1

    def restart(self, service: str, **extra: str) -> None:
        """Start the service again and wait until it answers /health."""
        self.system.start(service, **extra)

    def kill_and_restart(self, service: str) -> None:
        self.kill(service)
        self.restart(service)

    async def rewind(self, services: tuple[str, ...] = CONSUMERS) -> None:
        """Stop the services, move their groups back to where this run began, start them again:
        they consume everything of this run a second time."""
        for service in services:
            await asyncio.to_thread(self.system.stop, service)
        for service in services:
            await commit_offsets(self.kafka_bootstrap, self.group(service), self.start_offsets)
        for service in services:
            await asyncio.to_thread(self.system.start, service)

    def alive(self) -> dict[str, bool]:
        """Whether each service's process still runs (a crash is a finding)."""
        return {s: p.poll() is None for s, p in self.system.processes.items()}

    async def healthy(self) -> dict[str, bool]:
        """Whether each service answers /health now."""
        found = {}
        for service in self.system.processes:
            try:
                answer = await self.http.get(f"{self.url(service)}/health", timeout=5)
                found[service] = answer.status_code == 200
            except httpx.HTTPError:
                found[service] = False
        return found

    # Waiting ---------------------------------------------------------------------------
    async def lags(self) -> dict[str, int]:
        """Per consumer: records of the topics it consumes not committed yet, plus the rows
        still in its outbox (published facts not yet on Kafka)."""
        found: dict[str, int] = {}
        topics = consumed_topics()
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka_bootstrap)
        await admin.start()
        try:
            for service in CONSUMERS:
                committed = {
                    tp: meta
                    for tp, meta in (
                        await admin.list_consumer_group_offsets(self.group(service))
                    ).items()
                    if tp.topic in topics[service]
                }
                partitions = list(committed)
                ends = await _end_offsets(self.kafka_bootstrap, partitions)
                lag = sum(
                    max(0, ends[tp] - meta.offset) for tp, meta in committed.items() if tp in ends
                )
                found[service] = lag + await self._outbox(service)
        finally:
            await admin.close()
        return found

    async def _outbox(self, service: str) -> int:
        conn = await self.connect(service)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM outbox"))
        except asyncpg.UndefinedTableError:
            return 0
        finally:
            await conn.close()

    async def settled(self, within: float = 300.0, quiet: float = 3.0) -> float:
        """Wait until every consumer is caught up and every outbox empty, twice `quiet` s
        apart (a consumer's output is the next one's input); returns the seconds waited."""
        started = time.monotonic()
        deadline = started + within
        while True:
            if all(v == 0 for v in (await self.lags()).values()):
                await asyncio.sleep(quiet)
                if all(v == 0 for v in (await self.lags()).values()):
                    return time.monotonic() - started
            if time.monotonic() > deadline:
                raise TimeoutError(f"not settled after {within} s: {await self.lags()}")
            await asyncio.sleep(1)


async def _all_partitions(bootstrap: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([t.name for t in ALL_TOPICS])
    finally:
        await admin.close()
    return [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]


async def _end_offsets(
    bootstrap: str, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        return {tp: int(o) for tp, o in (await reader.end_offsets(partitions)).items()}
    finally:
        await reader.stop()


async def _create_databases(infra: ChaosInfra, run_id: str) -> dict[str, str]:
    conn = await asyncpg.connect(infra.postgres_url, timeout=30)
    try:
        databases = {}
        for service in SERVICES:
            name = f"chaos_{run_id}_{service}"
            await conn.execute(f'CREATE DATABASE "{name}"')
            databases[service] = with_database(infra.postgres_url, name)
        return databases
    finally:
        await conn.close()


async def _drop_databases(infra: ChaosInfra, databases: dict[str, str]) -> None:
    conn = await asyncpg.connect(infra.postgres_url, timeout=30)
    try:
        for url in databases.values():
            name = url.rsplit("/", 1)[1]
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def chaos_stack(
    scenario: str, infra: ChaosInfra | None = None, keep_databases: bool = False
) -> AsyncIterator[Stack]:
    """The chaos infra (started if it is not running), fresh databases and consumer groups
    of this run, the five services started; everything this run started is stopped after.

    Logs: .run/chaos/<scenario>-<run id>/ (one file per service)."""
    infra = infra or ChaosInfra()
    if not infra.running():
        await asyncio.to_thread(infra.up)
    run_id = uuid.uuid4().hex[:8]
    log_dir = LOG_ROOT / f"{scenario}-{run_id}"
    log_dir.mkdir(parents=True, exist_ok=True)
    await ensure_topics(ServiceSettings(kafka_bootstrap=infra.kafka_bootstrap), ALL_TOPICS)
    databases = await _create_databases(infra, run_id)
    system = ChaosSystem(
        kafka_bootstrap=infra.kafka_bootstrap,
        databases=databases,
        trace_dir=log_dir / "traces",
        log_dir=log_dir,
        run_id=f"chaos-{run_id}",
        mail_port=infra.mail_port,
    )
    start_offsets = await _end_offsets(
        infra.kafka_bootstrap, await _all_partitions(infra.kafka_bootstrap)
    )
    await system.start_consumer_groups_at_end()
    producer = AIOKafkaProducer(
        bootstrap_servers=infra.kafka_bootstrap,
        acks="all",
        linger_ms=20,
        max_batch_size=512 * 1024,
        request_timeout_ms=30_000,
    )
    headers = {SERVICE_TOKEN_HEADER: SERVICE_TOKEN}
    http = httpx.AsyncClient(timeout=30, headers=headers)
    try:
        await asyncio.to_thread(system.start_all)
        await producer.start()
        yield Stack(
            infra=infra, system=system, http=http, producer=producer, start_offsets=start_offsets
        )
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()
        await http.aclose()
        system.stop_extras()
        system.stop_all()
        groups = [system.consumer_group(s) for s in SERVICES]
        with contextlib.suppress(Exception):
            await move_groups_to_end(infra.kafka_bootstrap, groups)
        if not keep_databases and not os.environ.get("TALLY_CHAOS_KEEP_DATABASES"):
            with contextlib.suppress(Exception):
                await _drop_databases(infra, databases)


def log_dir_of(stack: Stack) -> Path:
    """Where this run's service logs (and anything a scenario adds) are kept."""
    return stack.system.log_dir
