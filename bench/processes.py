"""The five services as the bench's own processes: fresh databases, free ports, cleaned up after."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from tally_runtime.database import with_database

from bench.settings import ROOT, TRACE_SAMPLE_RATIO, Target

SERVICES = ("accounts", "usage", "invoicing", "notifications", "gateway")
CONSUMERS = ("accounts", "usage", "invoicing", "notifications")
OPS_KEY = "bench-ops-key"


def infra_up() -> None:
    """Start the shared local Kafka and PostgreSQL if they are not running (idempotent)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "infra.sh"), "up"], check=True, timeout=300)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_name(service: str) -> str:
    return f"tally_bench_{service}"


async def recreate_databases(target: Target, names: list[str]) -> None:
    """Drop and create each database, so every run starts from empty stores."""
    conn = await asyncpg.connect(target.postgres_url, timeout=30)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_databases(target: Target, names: list[str]) -> None:
    conn = await asyncpg.connect(target.postgres_url, timeout=30)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (a service may run workers of its own)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                queue.extend(int(child) for child in children)
    return found


def started_at(pid: int) -> str | None:
    """When `pid` started (clock ticks since boot): tells a process from a later reuse of its id."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process and its descendants, in MiB; None once it is gone."""
    total_kib, seen = 0, False
    for one in descendants(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
                    seen = True
    return round(total_kib / 1024, 1) if seen else None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU a process and its descendants have used, in seconds; None once gone."""
    ticks, seen = 0, False
    for one in descendants(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
            seen = True
    return round(ticks / os.sysconf("SC_CLK_TCK"), 2) if seen else None


def trace_lines(trace_dir: Path) -> dict[str, int]:
    """Spans written per service: shows whether the sampling ratio is in force."""
    counts = {}
    for service in SERVICES:
        with contextlib.suppress(OSError), (trace_dir / f"{service}.jsonl").open("rb") as spans:
            counts[service] = sum(1 for _ in spans)
    return counts


@dataclass
class Services:
    """Starts the five services on free ports against this run's databases and groups."""

    target: Target
    run_id: str
    log_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: {s: free_port() for s in SERVICES})
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def group(self, service: str) -> str:
        """A consumer group of this run's own: nothing committed by earlier runs applies."""
        return f"bench-{self.run_id}-{service}"

    def environment(self, service: str) -> dict[str, str]:
        prefix = f"TALLY_{service.upper()}_"
        # No exporter settings pass through: spans stay in files on this machine.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_EXPORTER_")}
        env = {
            **inherited,
            "KAFKA_BOOTSTRAP": self.target.kafka_bootstrap,
            "TALLY_ENVIRONMENT": "development",
            "TALLY_TRACE_DIR": str(self.log_dir / "traces"),
            "TALLY_TRACE_SAMPLE_RATIO": TRACE_SAMPLE_RATIO,
            f"{prefix}DATABASE_URL": with_database(
                self.target.postgres_url, database_name(service)
            ),
            f"{prefix}HTTP_HOST": "127.0.0.1",
            f"{prefix}HTTP_PORT": str(self.ports[service]),
            f"{prefix}CONSUMER_GROUP": self.group(service),
        }
        if service == "gateway":
            env |= {
                f"{prefix}{other.upper()}_URL": self.url(other)
                for other in SERVICES
                if other != "gateway"
            }
            env |= {f"{prefix}OPS_KEY": OPS_KEY, f"{prefix}TOKEN_PEPPER": "bench-token-pepper"}
        if service in ("invoicing", "notifications"):
            # The billing-mode guards ask the accounts service of this run, never `make up`'s.
            env[f"{prefix}ACCOUNTS_URL"] = self.url("accounts")
        if service == "notifications":
            # No mail server in the bench: deciding is measured, delivering is not.
            env[f"{prefix}DELIVERY_ENABLED"] = "false"
        if service == "accounts":
            env[f"{prefix}INVOICING_URL"] = self.url("invoicing")
        return env

    def start_all(self, timeout: float = 240.0) -> None:
        """Start every service, then wait until each answers /health (or fail saying why).

        The timeout is generous: on a shared 2-core machine five services importing and
        migrating at once have taken over 90 s; a broken service still fails here, later.
        """
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for service in SERVICES:
            with (self.log_dir / f"{service}.log").open("ab") as log:
                self.processes[service] = subprocess.Popen(
                    [sys.executable, "-m", f"tally_{service}"],
                    env=self.environment(service),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=ROOT,
                )
        deadline = time.monotonic() + timeout
        for service in SERVICES:
            self._wait_healthy(service, deadline)

    def _wait_healthy(self, service: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            process = self.processes[service]
            if process.poll() is not None:
                raise RuntimeError(
                    f"{service} exited with {process.returncode}; {self.tail(service)}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url(service)}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{service} not healthy in time; {self.tail(service)}")

    def tail(self, service: str) -> str:
        lines = (self.log_dir / f"{service}.log").read_text(errors="replace").splitlines()
        return "last log lines:\n" + "\n".join(lines[-15:])

    def exited(self) -> list[str]:
        """Services that are no longer running, with their exit codes."""
        return [f"{s} ({p.returncode})" for s, p in self.processes.items() if p.poll() is not None]

    def rss(self) -> dict[str, float | None]:
        return {service: rss_mb(process.pid) for service, process in self.processes.items()}

    def cpu(self) -> dict[str, float | None]:
        """CPU seconds each service has used so far: differences show who the cores went to."""
        return {service: cpu_seconds(process.pid) for service, process in self.processes.items()}

    def stop_all(self, grace: float = 20.0) -> None:
        """SIGTERM every service (and whatever it started), then SIGKILL what is left."""
        tree = {
            service: [(pid, started_at(pid)) for pid in descendants(process.pid)[1:]]
            for service, process in self.processes.items()
            if process.poll() is None
        }
        for service in reversed(SERVICES):
            process = self.processes.get(service)
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for service, process in self.processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            for pid, started in tree.get(service, []):
                if started is not None and started_at(pid) == started:  # still the same process
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
        self.processes.clear()
