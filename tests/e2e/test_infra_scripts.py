"""The scripts behind `make up`, `make test` and `make down`, run as a user runs them.

Each test keeps to a run dir and ports of its own, so no server anyone else uses is touched.
"""

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from tests.e2e.system import free_port

ROOT = Path(__file__).resolve().parents[2]
INFRA_VARIABLES = ("KAFKA_BOOTSTRAP", "DATABASE_URL")


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any Tally or infrastructure setting, plus ``extra``."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("TALLY_") and name not in INFRA_VARIABLES
    }
    return kept | extra


def run(*command: str, env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def exported(script_output: str) -> dict[str, str]:
    """The variables an `env` command's `export NAME=value` lines set, as the shell reads them."""
    pairs = (shlex.split(line.removeprefix("export "))[0] for line in script_output.splitlines())
    return dict(pair.split("=", 1) for pair in pairs)


def test_given_no_servers_named_then_tests_and_make_up_use_different_ones() -> None:
    env = clean_environment()

    development = exported(run("bash", "scripts/infra.sh", "env", env=env))
    tests = exported(run("bash", "scripts/test-infra.sh", "env", env=env))

    assert development["KAFKA_BOOTSTRAP"] == "127.0.0.1:19092"
    assert development["DATABASE_URL"].startswith("postgresql://tally:tally@127.0.0.1:15432/")
    assert tests["KAFKA_BOOTSTRAP"] == "127.0.0.1:19192"
    assert tests["DATABASE_URL"].startswith("postgresql://tally:tally@127.0.0.1:15532/")


def test_given_servers_named_when_infra_comes_up_then_it_starts_none_and_points_at_them(
    tmp_path: Path,
) -> None:
    # given external servers, one URL with characters the shell would otherwise interpret
    given = {
        "KAFKA_BOOTSTRAP": "kafka.example:9092",
        "DATABASE_URL": "postgresql://tally:p$w&rd@db.example:5432/postgres?sslmode=require",
    }
    env = clean_environment(**given, TALLY_RUN_DIR=str(tmp_path))

    # when the development and the tests' infrastructure come up
    said = run("bash", "scripts/infra.sh", "up", env=env)
    said += run("bash", "scripts/test-infra.sh", "up", env=env)

    # then no server was started, and both point apps and tests at the given ones
    assert said.count("not starting") == 4, said
    assert not (tmp_path / "pids").exists()
    assert exported(run("bash", "scripts/infra.sh", "env", env=env)) == given
    assert exported(run("bash", "scripts/test-infra.sh", "env", env=env)) == given


def test_given_a_server_and_ports_then_each_service_gets_its_database_there() -> None:
    env = clean_environment(
        KAFKA_BOOTSTRAP="kafka.example:9092",
        DATABASE_URL="postgresql://tally:secret@db.example:6543/postgres?sslmode=require",
        TALLY_ACCOUNTS_HTTP_PORT="9101",
        TALLY_USAGE_DATABASE_URL="postgresql://usage@elsewhere/usage_db",
    )

    config = dict(
        line.split("=", 1) for line in run("bash", "scripts/services.sh", "config", env=env).split()
    )

    assert config["KAFKA_BOOTSTRAP"] == "kafka.example:9092"
    assert config["TALLY_INVOICING_DATABASE_URL"] == (
        "postgresql://tally:secret@db.example:6543/tally_invoicing?sslmode=require"
    )
    assert config["TALLY_USAGE_DATABASE_URL"] == "postgresql://usage@elsewhere/usage_db"
    assert config["TALLY_ACCOUNTS_HTTP_PORT"] == "9101"
    assert config["TALLY_GATEWAY_ACCOUNTS_URL"] == "http://127.0.0.1:9101"


def test_given_a_pid_file_naming_another_checkouts_service_when_stopping_then_that_process_lives(
    tmp_path: Path,
) -> None:
    # given the usage service of another checkout running, its pid in this run dir's pid file
    other = tmp_path / "other-checkout"
    (other / ".venv" / "bin").mkdir(parents=True)
    (other / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (other / "tally_usage.py").write_text("import time\ntime.sleep(300)\n")
    process = subprocess.Popen([str(other / ".venv/bin/python"), "-m", "tally_usage"], cwd=other)
    run_dir = tmp_path / "run"
    (run_dir / "pids").mkdir(parents=True)
    (run_dir / "pids" / "usage.pid").write_text(f"{process.pid}\n")
    try:
        # when this checkout's services are stopped
        said = run(
            "bash", "scripts/services.sh", "stop", env=clean_environment(TALLY_RUN_DIR=str(run_dir))
        )

        # then the other checkout's process still runs, and the stale pid file is gone
        time.sleep(0.5)
        assert process.poll() is None
        assert f"pid {process.pid}" in said and "left alone" in said, said
        assert not (run_dir / "pids" / "usage.pid").exists()
    finally:
        process.kill()
        process.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="only as root does PostgreSQL run as another user")
async def test_given_a_checkout_in_a_private_home_when_postgres_starts_as_root_then_it_serves(
    tmp_path: Path,
) -> None:
    # given a checkout inside a folder of mode 700 (as /root is), out of user postgres's reach
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    run_dir = home / "clone" / ".run"
    port = free_port()
    env = clean_environment(TALLY_RUN_DIR=str(run_dir), TALLY_PG_PORT=str(port))
    try:
        # when its PostgreSQL starts
        run("bash", "scripts/postgres.sh", "start", env=env)

        # then it serves, with its cluster and log found from the run dir
        conn = await asyncpg.connect(f"postgresql://tally:tally@127.0.0.1:{port}/postgres")
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()
        assert (run_dir / "postgres" / "data" / "PG_VERSION").exists()
        assert "database system is ready" in (run_dir / "logs" / "postgres.log").read_text()
        cluster = (run_dir / "postgres").resolve()
    finally:
        run("bash", "scripts/postgres.sh", "reset", env=env)

    # and a reset leaves nothing behind, in the run dir or out of it
    assert not cluster.exists()
    assert not (run_dir / "postgres").exists()
