"""`make up` + demo data print working credentials, and `make down` leaves no process behind.

Runs `make up` and `make down` themselves, on ports, databases and a run dir of their own, and
on the test run's Kafka and PostgreSQL given as external servers (KAFKA_BOOTSTRAP,
DATABASE_URL), so it cannot disturb a system a developer already has running.
"""

import os
import re
import subprocess
from pathlib import Path

import httpx
from tally_testkit import ConsumerGroup, NewDatabase

from tests.e2e.system import SERVICES, free_port

ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """True while `pid` runs; an exited process waiting to be reaped (a zombie) is not alive."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def outside_make(environ: dict[str, str]) -> dict[str, str]:
    """The environment without what an enclosing `make test` passes to its children."""
    return {k: v for k, v in environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}


async def test_given_servers_and_ports_when_make_up_then_the_demo_works_and_down_leaves_nothing(
    kafka_bootstrap: str,
    postgres_url: str,
    new_database: NewDatabase,
    consumer_group: ConsumerGroup,
    tmp_path: Path,
) -> None:
    env = outside_make(os.environ) | {
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "DATABASE_URL": postgres_url,
        "TALLY_RUN_DIR": str(tmp_path),
        # Where `make up` would start local servers: it must start none, the ports stay free.
        "TALLY_KAFKA_PORT": str(free_port()),
        "TALLY_PG_PORT": str(free_port()),
        "TALLY_ZIPKIN_PORT": str(free_port()),  # `make up`'s tracing dashboard, started too
    }
    for service in SERVICES:
        prefix = f"TALLY_{service.upper()}_"
        env[f"{prefix}HTTP_PORT"] = str(free_port())
        env[f"{prefix}DATABASE_URL"] = await new_database(service)
        env[f"{prefix}CONSUMER_GROUP"] = consumer_group(service)
    # The gateway must find accounts on the port accounts was given, unaided.
    env.pop("TALLY_GATEWAY_ACCOUNTS_URL", None)

    def run(*command: str) -> str:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    try:
        started = run("make", "--no-print-directory", "up")
        pids = [int((tmp_path / "pids" / f"{s}.pid").read_text()) for s in SERVICES]
        printed = run(str(ROOT / ".venv/bin/python"), "scripts/demo.py")
        sid = re.search(r"demo account\s+(AC[0-9a-f]{32})", printed)
        token = re.search(r"auth token\s+([0-9a-f]{32})", printed)
        gateway = re.search(r"gateway\s+(http://\S+)", printed)
        assert sid and token and gateway, printed
        async with httpx.AsyncClient(timeout=10) as client:
            account = await client.get(
                f"{gateway[1]}/v1/Accounts/{sid[1]}", auth=(sid[1], token[1])
            )
        assert account.status_code == 200, account.text
        assert account.json()["billing_mode"] == "trial"
    finally:
        run("make", "--no-print-directory", "down")

    # `make up` used the given servers and started none of its own
    assert "not starting a local broker" in started, started
    assert "not starting a local server" in started, started
    assert not (tmp_path / "pids" / "kafka.pid").exists()
    assert not (tmp_path / "pids" / "postgres.pid").exists()
    # the gateway listened where it was told, and `down` waited for each process to end
    assert gateway[1] == f"http://127.0.0.1:{env['TALLY_GATEWAY_HTTP_PORT']}"
    assert [pid for pid in pids if alive(pid)] == []
    assert list((tmp_path / "pids").glob("*.pid")) == []
