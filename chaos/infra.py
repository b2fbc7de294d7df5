"""The chaos suite's own Kafka, PostgreSQL and mail server: scripts/test-infra.sh on a run dir
and ports of its own (like the Makefile's BENCH_INFRA).

Scenarios kill brokers and databases and load millions of events: none of that may touch the
tests' infra or a developer's `make up`. `make chaos` wipes it before the run and stops it after.
Env (for a second instance, e.g. while developing scenarios side by side):
TALLY_CHAOS_RUN_DIR (.run/chaos-infra), TALLY_CHAOS_KAFKA_PORT (19392),
TALLY_CHAOS_KAFKA_CONTROLLER_PORT (19393), TALLY_CHAOS_PG_PORT (15732),
TALLY_CHAOS_MAIL_PORT (11325).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
EXTERNAL_SERVERS = ("KAFKA_BOOTSTRAP", "DATABASE_URL")
"""Set (as `make test` does, for the tests' infra), they would make the scripts use those
servers instead of starting the chaos suite's own."""


def _setting(name: str, default: str) -> str:
    return os.environ.get(f"TALLY_CHAOS_{name}", default)


@dataclass(frozen=True)
class ChaosInfra:
    """One instance of Kafka + PostgreSQL + mail server, addressed by its run dir and ports."""

    run_dir: Path = field(
        default_factory=lambda: Path(_setting("RUN_DIR", str(ROOT / ".run" / "chaos-infra")))
    )
    kafka_port: int = field(default_factory=lambda: int(_setting("KAFKA_PORT", "19392")))
    controller_port: int = field(
        default_factory=lambda: int(_setting("KAFKA_CONTROLLER_PORT", "19393"))
    )
    pg_port: int = field(default_factory=lambda: int(_setting("PG_PORT", "15732")))
    mail_port: int = field(default_factory=lambda: int(_setting("MAIL_PORT", "11325")))

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def postgres_url(self) -> str:
        """Server-level URL (database `postgres`), where scenarios create their databases."""
        return f"postgresql://tally:tally@127.0.0.1:{self.pg_port}/postgres"

    def environment(self) -> dict[str, str]:
        """What scripts/test-infra.sh, kafka.sh and postgres.sh need to address this instance."""
        env = {k: v for k, v in os.environ.items() if k not in EXTERNAL_SERVERS}
        return env | {
            "TALLY_TEST_RUN_DIR": str(self.run_dir),
            "TALLY_TEST_KAFKA_PORT": str(self.kafka_port),
            "TALLY_TEST_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "TALLY_TEST_PG_PORT": str(self.pg_port),
            "TALLY_TEST_MAIL_PORT": str(self.mail_port),
            # kafka.sh and postgres.sh, called directly, read these names
            "TALLY_RUN_DIR": str(self.run_dir),
            "TALLY_KAFKA_PORT": str(self.kafka_port),
            "TALLY_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "TALLY_PG_PORT": str(self.pg_port),
        }

    def script(self, name: str, *args: str, timeout: float = 300) -> None:
        """Run scripts/<name> on this instance, e.g. `script("kafka.sh", "stop")`."""
        subprocess.run(
            ["bash", str(SCRIPTS / name), *args],
            env=self.environment(),
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
        )

    def up(self) -> None:
        """Start whatever is not running yet (idempotent)."""
        self.script("test-infra.sh", "up")

    def down(self) -> None:
        self.script("test-infra.sh", "down")

    def reset(self) -> None:
        """Stop it and wipe its data: no topic, offset or database of an earlier run is left."""
        self.script("test-infra.sh", "reset")

    def running(self) -> bool:
        status = subprocess.run(
            ["bash", str(SCRIPTS / "test-infra.sh"), "status"],
            env=self.environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return status.returncode == 0

    # Component restarts, for the broker- and database-restart scenarios.
    def stop_kafka(self) -> None:
        self.script("kafka.sh", "stop")

    def start_kafka(self) -> None:
        self.script("kafka.sh", "start")

    def stop_postgres(self) -> None:
        self.script("postgres.sh", "stop")

    def start_postgres(self) -> None:
        self.script("postgres.sh", "start")
