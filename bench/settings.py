"""How big a benchmark run is (full or quick), where it runs, and the machine it runs on."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "bench"
RUN_DIR = ROOT / ".run" / "bench"
TRACE_SAMPLE_RATIO = "0.01"
"""The production default of TALLY_TRACE_SAMPLE_RATIO: the bench measures what users get."""


@dataclass(frozen=True)
class Sizes:
    """Every size and duration of one benchmark run; all in events or seconds."""

    runs: int
    accounts: int
    warmup_s: float
    """Pipeline samples this long after the first backlog is loaded are left out."""
    sustain_s: float
    """The steady window the pipeline rate is measured over."""
    first_chunk: int
    """Events loaded before the pipeline is measured: enough to estimate its rate."""
    min_chunk: int
    backlog_s: float
    """The feeder keeps at least this many seconds of work (at the rate seen) in the topic."""
    max_events: int
    """Upper bound of the events one pipeline run may publish (disk on the shared broker)."""
    drain_timeout_s: float
    freshness_s: float
    probes_per_s: int
    http_s: float
    http_clients: int
    bare_max_events: int
    phase_timeout_s: float
    """No measurement of a run may take longer than this past its own planned duration."""


FULL = Sizes(
    runs=3,
    accounts=10_000,
    warmup_s=15,
    sustain_s=300,
    first_chunk=300_000,
    min_chunk=20_000,
    backlog_s=20,
    max_events=20_000_000,
    drain_timeout_s=120,
    freshness_s=60,
    probes_per_s=50,
    http_s=60,
    http_clients=8,
    bare_max_events=2_000_000,
    phase_timeout_s=180,
)

QUICK = Sizes(
    runs=1,
    accounts=1_000,
    warmup_s=3,
    sustain_s=15,
    first_chunk=100_000,
    min_chunk=10_000,
    backlog_s=6,
    max_events=1_000_000,
    drain_timeout_s=10,
    freshness_s=6,
    probes_per_s=40,
    http_s=6,
    http_clients=4,
    bare_max_events=100_000,
    phase_timeout_s=30,
)


@dataclass(frozen=True)
class Target:
    """The broker and PostgreSQL server a run uses; both must be on 127.0.0.1."""

    kafka_bootstrap: str
    postgres_url: str
    """A server URL (database `postgres`) whose role may create databases."""

    @classmethod
    def from_environment(cls) -> Target:
        """`KAFKA_BOOTSTRAP` / `DATABASE_URL` when set, else the development instance's."""
        kafka_port = os.environ.get("TALLY_KAFKA_PORT", "19092")
        pg_port = os.environ.get("TALLY_PG_PORT", "15432")
        target = cls(
            kafka_bootstrap=os.environ.get("KAFKA_BOOTSTRAP") or f"127.0.0.1:{kafka_port}",
            postgres_url=os.environ.get("DATABASE_URL")
            or f"postgresql://tally:tally@127.0.0.1:{pg_port}/postgres",
        )
        for address in (target.kafka_bootstrap, target.postgres_url):
            loopback_only(address)
        return target


def loopback_only(address: str) -> None:
    """Refuse any broker or server that is not on 127.0.0.1: the bench loads only this machine."""
    for one in address.split(","):
        host = urlsplit(one if "://" in one else f"//{one}").hostname
        if host != "127.0.0.1":
            raise SystemExit(f"bench: refusing {one!r}: the bench only talks to 127.0.0.1")


def machine() -> dict[str, object]:
    """Cores, memory and CPU of this machine, as the report records them."""
    memory_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "cpu_model": model,
        "kernel": platform.release(),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
        "python": platform.python_version(),
    }


def describe(sizes: Sizes) -> dict[str, object]:
    return asdict(sizes)
